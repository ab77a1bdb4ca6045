/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- tests edit raw API objects (untyped JSON) in place */
// A change of the recorded stable subset (the annotation
// bluegreen-guard.io/stable-subset) by anyone but the watcher is judged as a
// cutover to the subset it names: otherwise naming a broken subset stable in
// one change makes a later switch to it a rollback, which is never blocked.
import { describe, expect, it } from '@jest/globals';
import type { MemoryClusterState } from '../../../src/cluster/memory-cluster-state.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig } from '../../../src/webhook/rules-config.js';
import type { ScrapeStatus } from '../../../src/webhook/rules/scrape-status.js';
import type { ReviewInput, Requester } from '../../../src/webhook/verdict.js';
import { clone, create, find, one, podsOf, remove, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const STABLE = 'bluegreen-guard.io/stable-subset';
const WATCHER: Requester = { username: 'system:serviceaccount:bluegreen-guard:bluegreen-guard-watcher', groups: ['system:serviceaccounts'] };
const everyPodScraped: ScrapeStatus = { podScraped: () => true };

/** The shop VirtualService after a full switch: blue takes everything, green 0%. */
function switched(): Json {
  const raw = one('shop/vs-current.yaml');
  for (const [kind, which] of [['http', 'primary'], ['tcp', 0], ['tls', 0]] as const) setWeights(raw, kind, which, { green: 0, blue: 100 });
  return raw;
}

/** `from` with its stable-subset annotation set to `subset` (undefined: removed), nothing else changed. */
function naming(from: Json, subset: string | undefined): Json {
  const raw = clone(from);
  if (subset === undefined) delete raw.metadata.annotations[STABLE];
  else raw.metadata.annotations[STABLE] = subset;
  return raw;
}

/** Without the /pay route, so the object routes to web's subsets only. */
function webOnly(raw: Json): Json {
  raw.spec.http = raw.spec.http.filter((r: Json) => r.name !== 'payments');
  return raw;
}

const healthy = (): MemoryClusterState => stateOf(shopObjects());

/** Blue's Deployment rolled out but none of its pods Ready (crash-looping). */
function unreadyBlue(): MemoryClusterState {
  const objects = shopObjects();
  for (const pod of podsOf(objects, 'shop', { version: 'v2' })) pod.status.conditions = [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }];
  const d = find(objects, 'Deployment', 'shop', 'web-v2');
  d.status = { ...d.status, readyReplicas: 0, availableReplicas: 0 };
  return stateOf(objects);
}

/** Web's green scaled away: no web v1 workload left. */
function greenGone(): MemoryClusterState {
  return stateOf(remove(shopObjects(), (o) => ['Deployment', 'ReplicaSet', 'Pod'].includes(o.kind) && o.metadata.namespace === 'shop' && o.metadata.labels?.version === 'v1'));
}

describe('a change of the stable subset by anyone but the watcher is judged as a cutover to it', () => {
  it.each<[string, () => ReviewInput, () => MemoryClusterState]>([
    ['a manual promotion of blue after a full switch, blue Ready', () => update(vs(switched()), vs(naming(switched(), 'blue'))), healthy],
    ['a manual promotion of a Ready blue that still has 0% of the primary route', () => update(vs(one('shop/vs-current.yaml')), vs(naming(one('shop/vs-current.yaml'), 'blue'))), healthy],
    ['removing the annotation (back to the default green) while green is Ready', () => update(vs(naming(switched(), 'blue')), vs(naming(switched(), undefined))), healthy],
    ['the same stable subset written again, with spaces', () => update(vs(one('shop/vs-current.yaml')), vs(naming(one('shop/vs-current.yaml'), ' green '))), unreadyBlue],
    ['the annotation written with the default it already had', () => update(vs(naming(one('shop/vs-current.yaml'), undefined)), vs(one('shop/vs-current.yaml'))), unreadyBlue],
    ['the watcher recording an unready blue stable', () => update(vs(switched()), vs(naming(switched(), 'blue')), WATCHER), unreadyBlue],
    ['a new VirtualService whose annotation names blue stable (roles come from the new object)', () => create(vs(webOnly(naming(switched(), 'blue')))), unreadyBlue],
  ])('allows %s', (_what, input, world) => {
    const verdict = review(input(), world(), config, everyPodScraped);
    expect(verdict.findings).toEqual([]);
    expect(verdict.allowed).toBe(true);
  });

  it('says what it judged when it allows a promotion without a Prometheus to ask', () => {
    const verdict = review(update(vs(switched()), vs(naming(switched(), 'blue'))), healthy(), config);
    expect(verdict.allowed).toBe(true);
    expect(verdict.findings.map((f) => [f.rule, f.severity])).toEqual([['metrics-scraped', 'warn']]);
  });

  it('denies naming an unready blue stable, without any weight change, and says the annotation change is what is judged', () => {
    const current = one('shop/vs-current.yaml');
    const verdict = review(update(vs(current), vs(naming(current, 'blue'))), unreadyBlue(), config, everyPodScraped);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
    expect(verdict.findings).toEqual([
      {
        rule: 'pods-ready',
        severity: 'deny',
        object: 'VirtualService/shop/web',
        message:
          'VirtualService shop/web changes its stable subset (annotation bluegreen-guard.io/stable-subset) from green to subset blue of web.shop.svc.cluster.local, ' +
          'but Deployment shop/web-v2 is not fully rolled out (0/3 ready, 0/3 available); pods web-v2-5d4c8b7f6-x7k2p, web-v2-5d4c8b7f6-m9q4d, web-v2-5d4c8b7f6-t3v8n are not Ready. ' +
          "Fix: wait until 'kubectl rollout status deployment/web-v2 -n shop' succeeds and every pod of subset blue is Ready, then name blue the stable subset. " +
          'A change of the stable subset is judged as a cutover to the subset it names, because traffic moved back to the stable subset is a rollback, which is never blocked. ' +
          'Otherwise leave the annotation to the watcher, which records blue as stable once a cutover to it has held at full traffic, or have a member of a break-glass group make the change.',
      },
    ]);
  });

  it('closes the two-step path: the first step is denied, so the switch to blue is never a rollback', () => {
    const current = one('shop/vs-current.yaml');
    const step1 = naming(current, 'blue');
    expect(review(update(vs(current), vs(step1)), unreadyBlue(), config, everyPodScraped).allowed).toBe(false);
    // Had step 1 been admitted (it was, before this rule), step 2 would be a rollback, judged
    // only structurally: shown here to pin down why step 1 must be judged.
    expect(review(update(vs(step1), vs(naming(switched(), 'blue'))), unreadyBlue(), config, everyPodScraped)).toEqual({ allowed: true, findings: [], auditAnnotations: {} });
  });

  it.each<[string, () => ReviewInput, () => MemoryClusterState, [string, string][]]>([
    [
      'removing the annotation while the default green has no pods left',
      () => update(vs(naming(switched(), 'blue')), vs(naming(switched(), undefined))),
      greenGone,
      [['subset-selects-pods', 'VirtualService shop/web removes its annotation bluegreen-guard.io/stable-subset, so its stable subset changes from blue to the default, subset green of web.shop.svc.cluster.local, but no pod matches it']],
    ],
    [
      'naming stable a subset no DestinationRule defines and no route names',
      () => update(vs(one('shop/vs-current.yaml')), vs(naming(one('shop/vs-current.yaml'), 'purple'))),
      healthy,
      [
        ['subset-exists', 'VirtualService shop/web changes its stable subset (annotation bluegreen-guard.io/stable-subset) from green to subset purple of web.shop.svc.cluster.local, but no DestinationRule for that host defines subset purple'],
        ['subset-exists', 'VirtualService shop/web changes its stable subset (annotation bluegreen-guard.io/stable-subset) from green to subset purple of payments.pay.svc.cluster.local, but no DestinationRule for that host defines subset purple'],
      ],
    ],
    [
      'naming an unready blue stable in the same change that switches all traffic to it',
      () => update(vs(one('shop/vs-current.yaml')), vs(naming(switched(), 'blue'))),
      unreadyBlue,
      [['pods-ready', 'VirtualService shop/web changes its stable subset (annotation bluegreen-guard.io/stable-subset) from green to subset blue of web.shop.svc.cluster.local, but Deployment shop/web-v2 is not fully rolled out']],
    ],
    [
      'naming an unready blue stable in a change that otherwise shifts traffic back to green (no rollback cover)',
      () => {
        const back = switched();
        setWeights(back, 'http', 'primary', { green: 100, blue: 0 });
        return update(vs(switched()), vs(naming(back, 'blue')));
      },
      unreadyBlue,
      [['pods-ready', 'VirtualService shop/web changes its stable subset (annotation bluegreen-guard.io/stable-subset) from green to subset blue of web.shop.svc.cluster.local, but Deployment shop/web-v2 is not fully rolled out']],
    ],
  ])('denies %s', (_what, input, world, expected) => {
    const verdict = review(input(), world(), config, everyPodScraped);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
    const denials = verdict.findings.filter((f) => f.severity === 'deny');
    expect(denials.map((f, i) => [f.rule, f.message.slice(0, expected[i]?.[1].length)])).toEqual(expected);
    expect(denials.every((f) => f.message.includes('A change of the stable subset is judged as a cutover to the subset it names'))).toBe(true);
  });

  it('lets a break-glass group member name an unready subset stable, as a recorded override', () => {
    const sre = parseRulesConfig({ breakGlassGroups: ['sre'] });
    const current = one('shop/vs-current.yaml');
    const next = naming(current, 'blue');
    next.metadata.annotations['bluegreen-guard.io/break-glass'] = 'INC-4711: green is being decommissioned';
    const verdict = review(update(vs(current), vs(next), { username: 'oncall@example.com', groups: ['sre'] }), unreadyBlue(), sre, everyPodScraped);
    expect(verdict).toMatchObject({ allowed: true, exemption: 'break-glass' });
    expect(verdict.auditAnnotations['break-glass-overridden']).toBe('pods-ready');
  });
});
