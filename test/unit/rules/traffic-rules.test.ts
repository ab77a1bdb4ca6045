/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call -- tests edit raw API objects (untyped JSON) in place */
// zero-start, weights, canary-first, metrics-scraped: the rules about how
// traffic moves, judged on the shop VirtualService.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig } from '../../../src/webhook/rules-config.js';
import type { ScrapeStatus } from '../../../src/webhook/rules/scrape-status.js';
import type { Finding, RuleId } from '../../../src/webhook/verdict.js';
import { create, currentAndEdited, one, primaryTo, route, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const state = stateOf(shopObjects());

function judge(edit: (v: Json) => void, rule: RuleId, scrape?: ScrapeStatus): Finding[] {
  const { old, next } = currentAndEdited(edit);
  return review(update(old, next), state, config, scrape).findings.filter((f) => f.rule === rule);
}

/** Add subset purple (backed by the v2 pods, so only the rule under test can object) to a route. */
function addPurple(v: Json, kind: 'http' | 'tcp' | 'tls', which: string | number, weight: number | undefined): void {
  const r = route(v, kind, which);
  r.route.push({ destination: { host: 'web', subset: 'purple' }, ...(weight === undefined ? {} : { weight }) });
}
const statePurple = (() => {
  const objects = shopObjects();
  const rule = objects.find((o) => o.kind === 'DestinationRule' && o.metadata.name === 'web');
  rule?.spec.subsets.push({ name: 'purple', labels: { version: 'v2' } });
  return stateOf(objects);
})();
function judgePurple(edit: (v: Json) => void, rule: RuleId): Finding[] {
  const { old, next } = currentAndEdited(edit);
  return review(update(old, next), statePurple, config).findings.filter((f) => f.rule === rule);
}

describe('zero-start', () => {
  it.each<[string, (v: Json) => void]>([
    ['adds a new subset to a route at weight 0', (v) => addPurple(v, 'http', 'primary', 0)],
    ['raises a subset that was already in the route at 0% (a cutover, judged by the other rules)', primaryTo(50)],
    ['adds a route whose only destination is a new subset', (v) => void v.spec.http.unshift({ name: 'purple-testers', match: [{ headers: { 'x-purple': { exact: '1' } } }], route: [{ destination: { host: 'web', subset: 'purple' } }] })],
    ['moves the stable subset into a new route', (v) => void v.spec.tcp.push({ match: [{ port: 9001 }], route: [{ destination: { host: 'web', subset: 'green' }, weight: 100 }, { destination: { host: 'web', subset: 'blue' }, weight: 0 }] })],
  ])('allows a change that %s', (_what, edit) => {
    expect(judgePurple(edit, 'zero-start')).toEqual([]);
  });

  it.each<[string, (v: Json) => void, string]>([
    [
      'adds a new subset straight at 50%',
      (v) => {
        setWeights(v, 'http', 'primary', { green: 50, blue: 0 });
        addPurple(v, 'http', 'primary', 50);
      },
      'VirtualService shop/web adds subset purple of web.shop.svc.cluster.local to http[2] "primary" at 50%; a new subset must enter a route at weight 0 ' +
        '(runbook: initial traffic weight 0% for the new version). Fix: apply the route with purple at weight 0 first, then raise it in a later change once its pods are ready.',
    ],
    ['adds a new subset to a tls route at 10%', (v) => (setWeights(v, 'tls', 0, { green: 90 }), addPurple(v, 'tls', 0, 10)), 'adds subset purple of web.shop.svc.cluster.local to tls[0] at 10%'],
    ['adds a weighted route with the candidate at 5%', (v) => void v.spec.tcp.push({ match: [{ port: 9001 }], route: [{ destination: { host: 'web', subset: 'green' }, weight: 95 }, { destination: { host: 'web', subset: 'blue' }, weight: 5 }] }), 'adds subset blue of web.shop.svc.cluster.local to tcp[1] at 5%'],
  ])('denies a change that %s', (_what, edit, message) => {
    const findings = judgePurple(edit, 'zero-start');
    expect(findings.map((f) => f.severity)).toEqual(['deny']);
    expect(findings[0]?.message).toContain(message);
  });

  it('denies a new VirtualService that starts its candidate above 0, and hints at the stable-subset annotation when green is absent', () => {
    const raw = one('shop/vs-current.yaml');
    raw.metadata.annotations = {};
    raw.spec = { hosts: ['web'], http: [{ route: [{ destination: { host: 'web', subset: 'blue' }, weight: 80 }, { destination: { host: 'web', subset: 'blue-next' }, weight: 20 }] }] };
    const findings = review(create(vs(raw)), statePurple, config).findings.filter((f) => f.rule === 'zero-start');
    expect(findings.map((f) => f.message.split('. Fix')[0])).toEqual([
      'VirtualService shop/web adds subset blue of web.shop.svc.cluster.local to http[0] at 80%; a new subset must enter a route at weight 0 (runbook: initial traffic weight 0% for the new version)',
      'VirtualService shop/web adds subset blue-next of web.shop.svc.cluster.local to http[0] at 20%; a new subset must enter a route at weight 0 (runbook: initial traffic weight 0% for the new version)',
    ]);
    expect(findings[0]?.message).toContain('If blue is in fact the stable subset, record it with the annotation bluegreen-guard.io/stable-subset: blue.');
  });
});

describe('weights', () => {
  it.each<[string, (v: Json) => void]>([
    ['integer weights', primaryTo(30)],
    ['relative weights that do not add up to 100', (v) => setWeights(v, 'http', 'primary', { green: 3, blue: 1 })],
    ['a lone destination without weight', () => undefined],
  ])('allows %s', (_what, edit) => {
    expect(judge(edit, 'weights')).toEqual([]);
  });

  it.each<[string, (v: Json) => void, string[]]>([
    [
      'a negative weight',
      (v) => setWeights(v, 'tcp', 0, { green: 110, blue: -10 }),
      ['VirtualService shop/web tcp[0]: subset blue of web.shop.svc.cluster.local has weight -10; a weight must be a whole number from 0 to 2147483647. Fix: write integer weights, e.g. 100 and 0.'],
    ],
    [
      "a weight beyond Istio's int32",
      (v) => setWeights(v, 'http', 'primary', { green: 2 ** 31, blue: 0 }),
      ['http[2] "primary": subset green of web.shop.svc.cluster.local has weight 2147483648; a weight must be a whole number from 0 to 2147483647.'],
    ],
    ['a fractional weight', (v) => setWeights(v, 'http', 'primary', { green: 99.5, blue: 0.5 }), ['http[2] "primary": subset green of web.shop.svc.cluster.local has weight 99.5; subset blue of web.shop.svc.cluster.local has weight 0.5']],
    [
      'a weight written as a string (which also leaves the route without a positive total)',
      (v) => setWeights(v, 'tls', 0, { green: '100' as unknown as number }),
      ['tls[0]: subset green of web.shop.svc.cluster.local has weight "100"', 'tls[0] has 2 destinations but their weights add up to 0'],
    ],
    [
      'several destinations whose weights add up to 0',
      (v) => setWeights(v, 'http', 'primary', { green: 0, blue: 0 }),
      [
        'VirtualService shop/web http[2] "primary" has 2 destinations but their weights add up to 0, so no destination can take the traffic (Istio rejects it). ' +
          'Fix: give the stable subset a positive weight (e.g. 100) and the others 0.',
      ],
    ],
  ])('denies %s', (_what, edit, messages) => {
    const findings = judge(edit, 'weights');
    expect(findings.map((f) => f.severity)).toEqual(messages.map(() => 'deny'));
    findings.forEach((f, i) => expect(f.message).toContain(messages[i]));
  });
});

describe('canary-first (warn by default)', () => {
  const from = (share: number) => {
    const raw = one('shop/vs-current.yaml');
    primaryTo(share)(raw);
    return vs(raw);
  };
  it.each<[string, number, number]>([
    ['a 1% canary step', 0, 1],
    ['a full switch after the canary', 1, 100],
    ['a switch back to 0%', 100, 0],
  ])('says nothing about %s', (_what, before, after) => {
    expect(review(update(from(before), from(after)), state, config).findings.filter((f) => f.rule === 'canary-first')).toEqual([]);
  });

  it('warns about a jump from 0% straight to 50%', () => {
    const findings = judge(primaryTo(50), 'canary-first');
    expect(findings).toEqual([
      {
        rule: 'canary-first',
        severity: 'warn',
        object: 'VirtualService/shop/web',
        message: 'VirtualService shop/web raises subset blue of web.shop.svc.cluster.local from 0% to 50% in http[2] "primary" without a canary step. Fix: give blue at most 1% first, watch it, then switch.',
      },
    ]);
  });

  it('warns once per route for a switch of the http, tcp and tls routes at once', () => {
    const findings = judge((v) => {
      setWeights(v, 'http', 'primary', { green: 0, blue: 100 });
      setWeights(v, 'tcp', 0, { green: 0, blue: 100 });
      setWeights(v, 'tls', 0, { green: 0, blue: 100 });
    }, 'canary-first');
    expect(findings.map((f) => f.message.match(/in (\S+)/)?.[1])).toEqual(['http[2]', 'tcp[0]', 'tls[0]']);
  });

  it('denies when configured to, with a larger canary allowed', () => {
    const strict = parseRulesConfig({ modes: { 'canary-first': 'deny' }, canaryMaxWeightPercent: 5 });
    const { old, next } = currentAndEdited(primaryTo(5));
    expect(review(update(old, next), state, strict).findings.filter((f) => f.rule === 'canary-first')).toEqual([]);
    const jump = currentAndEdited(primaryTo(10));
    const verdict = review(update(jump.old, jump.next), state, strict);
    expect(verdict.findings.filter((f) => f.rule === 'canary-first').map((f) => f.severity)).toEqual(['deny']);
    expect(verdict.allowed).toBe(false);
  });
});

/** A Prometheus answer per pod name: a fake passed through the port, as the rules see it. */
function scrapeOf(answers: Record<string, boolean>, others: 'up' | 'unknown' = 'up'): ScrapeStatus {
  return { podScraped: (_ns, pod) => (pod in answers ? answers[pod] : others === 'up' ? true : undefined) };
}

describe('metrics-scraped', () => {
  it('allows a cutover when Prometheus scrapes every candidate pod', () => {
    expect(judge(primaryTo(1), 'metrics-scraped', scrapeOf({}))).toEqual([]);
  });

  it('denies a cutover when a candidate pod is not scraped', () => {
    const findings = judge(primaryTo(1), 'metrics-scraped', scrapeOf({ 'web-v2-5d4c8b7f6-m9q4d': false }));
    expect(findings.map((f) => [f.severity, f.message])).toEqual([
      [
        'deny',
        'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but Prometheus does not scrape pods web-v2-5d4c8b7f6-m9q4d (no target with up == 1). ' +
          'Fix: expose the metrics endpoint and make sure Prometheus scrapes version blue (check its targets page), then raise the weight.',
      ],
    ]);
  });

  it('reports an unknown answer at the rule’s mode, never as a pass', () => {
    const unknown = scrapeOf({}, 'unknown');
    expect(judge(primaryTo(1), 'metrics-scraped', unknown).map((f) => [f.severity, f.message.includes('is unknown (Prometheus unreachable')])).toEqual([['deny', true]]);
    const warnOnly = parseRulesConfig({ modes: { 'metrics-scraped': 'warn' } });
    const { old, next } = currentAndEdited(primaryTo(1));
    expect(review(update(old, next), state, warnOnly, unknown).findings.filter((f) => f.rule === 'metrics-scraped').map((f) => f.severity)).toEqual(['warn']);
  });

  it('says it was skipped when no Prometheus is configured', () => {
    expect(judge(primaryTo(1), 'metrics-scraped').map((f) => [f.severity, f.message.slice(0, 60)])).toEqual([['warn', 'metrics-scraped was skipped: no Prometheus is configured, so']]);
  });

  it('is not judged when no candidate is raised', () => {
    expect(judge((v) => (route(v, 'http', 'primary').timeout = '9s'), 'metrics-scraped', { podScraped: () => false })).toEqual([]);
  });
});
