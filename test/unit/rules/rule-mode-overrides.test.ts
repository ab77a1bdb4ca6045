/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- tests edit raw API objects (untyped JSON) in place */
// An object's own bluegreen-guard.io/rules annotation may tighten a rule
// freely, but loosen it (deny→warn, deny→off, warn→off, relative to config
// and namespace) only with an override the object already carried, or when a
// member of a break-glass group makes the change. Otherwise any writer could
// switch a rule off in the very change it would deny.
import { describe, expect, it } from '@jest/globals';
import type { MemoryClusterState } from '../../../src/cluster/memory-cluster-state.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import type { ScrapeStatus } from '../../../src/webhook/rules/scrape-status.js';
import type { Finding, Requester, ReviewVerdict } from '../../../src/webhook/verdict.js';
import { ALICE, clone, create, del, dr, find, one, primaryTo, route, shopObjects, stateOf, update, vs, type Json } from './world.js';

const RULES = 'bluegreen-guard.io/rules';
const sre = parseRulesConfig({ breakGlassGroups: ['sre'] });
const ONCALL: Requester = { username: 'oncall@example.com', groups: ['system:authenticated', 'sre'] };
const everyPodScraped: ScrapeStatus = { podScraped: () => true };

/** The shop state with blue's Deployment lacking a readinessProbe: a cutover to blue is denied by `probes` alone. */
function probelessBlue(namespaceModes?: string): MemoryClusterState {
  const objects = shopObjects();
  delete find(objects, 'Deployment', 'shop', 'web-v2').spec.template.spec.containers[0].readinessProbe;
  if (namespaceModes !== undefined) find(objects, 'Namespace', '', 'shop').metadata.annotations = { [RULES]: namespaceModes };
  return stateOf(objects);
}

function withModes(raw: Json, modes: string | undefined): Json {
  const out = clone(raw);
  if (modes !== undefined) out.metadata.annotations[RULES] = modes;
  return out;
}

/** The canary step (blue 0% → 1%) with the object's rules annotation before and after. */
function canary(before: string | undefined, after: string | undefined, requester: Requester, config: RulesConfig, namespaceModes?: string): ReviewVerdict {
  const current = one('shop/vs-current.yaml');
  const next = clone(current);
  primaryTo(1)(next);
  return review(update(vs(withModes(current, before)), vs(withModes(next, after)), requester), probelessBlue(namespaceModes), config, everyPodScraped);
}

const isOverride = (f: Finding) => f.message.startsWith(`Annotation ${RULES} on`);
const ruleFindings = (v: ReviewVerdict) => v.findings.filter((f) => f.rule === 'probes' && !isOverride(f)).map((f) => f.severity);
const overrideFindings = (v: ReviewVerdict) => v.findings.filter(isOverride).map((f) => [f.rule, f.severity]);

describe('an object-level override that loosens a rule', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined, Requester, RulesConfig, string[], string[][], boolean]>([
    ['added in the same change is ignored, and the rule denies', undefined, undefined, 'probes=off', ALICE, sre, ['deny'], [['probes', 'deny']], false],
    ['already on the old object is honoured', undefined, 'probes=off', 'probes=off', ALICE, sre, [], [], true],
    ['already on the old object at a looser mode honours the tighter one', undefined, 'probes=off', 'probes=warn', ALICE, sre, ['warn'], [], true],
    ['looser than the one on the old object is ignored, and the rule runs at the inherited mode', undefined, 'probes=warn', 'probes=off', ALICE, sre, ['deny'], [['probes', 'deny']], false],
    ['added by a member of a break-glass group is honoured', undefined, undefined, 'probes=off', ONCALL, sre, [], [], true],
    ['added when no break-glass group is configured is ignored, whoever adds it', undefined, undefined, 'probes=off', ONCALL, defaultRulesConfig(), ['deny'], [['probes', 'deny']], false],
    ['is judged against the namespace: warn→off added is ignored, reported at warn', 'probes=warn', undefined, 'probes=off', ALICE, sre, ['warn'], [['probes', 'warn']], true],
    ['that the namespace already grants is no loosening', 'probes=off', undefined, 'probes=off', ALICE, sre, [], [], true],
  ])('%s', (_what, ns, before, after, requester, config, rule, override, allowed) => {
    const verdict = canary(before, after, requester, config, ns);
    expect(ruleFindings(verdict)).toEqual(rule);
    expect(overrideFindings(verdict)).toEqual(override);
    expect(verdict.allowed).toBe(allowed);
  });

  it('says which entry was ignored, why, and how to get it honoured', () => {
    const verdict = canary(undefined, 'canary-first=deny, probes=off', ALICE, sre);
    expect(verdict.findings.filter(isOverride)).toEqual([
      {
        rule: 'probes',
        severity: 'deny',
        object: 'VirtualService/shop/web',
        message:
          'Annotation bluegreen-guard.io/rules on VirtualService shop/web sets probes=off, looser than the probes=deny it inherits from the rules config, so that entry is ignored and probes stays at deny: ' +
          'the object did not carry the override before this change, and user alice@example.com is in none of the break-glass groups (sre). ' +
          'Fix: ask whoever administers Namespace shop to set bluegreen-guard.io/rules: probes=off on the Namespace, or have a member of a break-glass group (sre) make this change.',
      },
    ]);
    expect(verdict.auditAnnotations).toEqual({ 'rule-modes': 'canary-first=deny, probes=off', 'rule-modes-ignored': 'probes=off' });
  });

  it('says so when break-glass is not enabled, and names where an inherited mode comes from', () => {
    const [finding] = canary(undefined, 'probes=off', ALICE, defaultRulesConfig(), 'probes=warn').findings.filter(isOverride);
    expect(finding?.message).toContain('sets probes=off, looser than the probes=warn it inherits from Namespace shop');
    expect(finding?.message).toContain('and break-glass is not enabled (no break-glass groups are configured). Fix: ask whoever administers Namespace shop to set bluegreen-guard.io/rules: probes=off on the Namespace.');
  });

  it('is ignored on a CREATE by someone outside the break-glass groups: the object carried nothing before', () => {
    const raw = withModes(one('shop/vs-current.yaml'), 'pods-ready=off');
    const verdict = review(create(vs(raw)), probelessBlue(), sre, everyPodScraped);
    expect(overrideFindings(verdict)).toEqual([['pods-ready', 'deny']]);
    expect(verdict.findings.find(isOverride)?.message).toContain('the object is new, so it carried no override before');
  });

  it('is denied in a change that moves no traffic, so it cannot be planted for the next cutover', () => {
    const current = one('shop/vs-current.yaml');
    const next = withModes(current, 'probes=off');
    route(next, 'http', 'primary').timeout = '9s';
    const verdict = review(update(vs(current), vs(next)), probelessBlue(), sre, everyPodScraped);
    expect(verdict.allowed).toBe(false);
    expect(overrideFindings(verdict)).toEqual([['probes', 'deny']]);
  });

  it('never blocks a rollback that carries it: refused as a warning, recorded in the audit annotation', () => {
    const from = one('shop/vs-current.yaml');
    primaryTo(1)(from);
    const back = clone(from);
    primaryTo(0)(back);
    expect(review(update(vs(from), vs(back)), probelessBlue(), sre).allowed).toBe(true);
    const verdict = review(update(vs(from), vs(withModes(back, 'probes=off'))), probelessBlue(), sre);
    expect(verdict.allowed).toBe(true);
    expect(verdict.exemption).toBe('rollback');
    const [finding] = verdict.findings.filter(isOverride);
    expect(finding?.severity).toBe('warn');
    expect(finding?.message).toContain('a rollback is never blocked. Remove the entry afterwards');
    expect(verdict.auditAnnotations['rule-modes-ignored']).toBe('probes=off (arrived with a rollback)');
  });

  it('applies to DestinationRules too, and is honoured on a delete of an object that carries it', () => {
    const objects = shopObjects();
    const rule = find(objects, 'DestinationRule', 'shop', 'web');
    const state = stateOf(objects);
    const without = clone(rule);
    without.spec.subsets = without.spec.subsets.filter((s: Json) => s.name !== 'blue');
    const added = review(update(dr(rule), dr(withModes(without, 'subset-in-use=off'))), state, sre);
    expect(added.allowed).toBe(false);
    expect(overrideFindings(added)).toEqual([['subset-in-use', 'deny']]);
    expect(review(del(dr(withModes(rule, 'subset-in-use=off'))), state, sre)).toMatchObject({ allowed: true, findings: [] });
  });
});

describe('an object-level override that tightens a rule, or keeps it, is honoured from anyone', () => {
  it.each<[string, string | undefined, string, string[]]>([
    ['deny over a namespace that turns the rule off', 'probes=off', 'probes=deny', ['deny']],
    ['warn over a namespace that turns the rule off', 'probes=off', 'probes=warn', ['warn']],
    ['the mode it inherits anyway', undefined, 'probes=deny', ['deny']],
  ])('%s', (_what, ns, after, rule) => {
    const verdict = canary(undefined, after, ALICE, sre, ns);
    expect(ruleFindings(verdict)).toEqual(rule);
    expect(overrideFindings(verdict)).toEqual([]);
  });

  it('canary-first=deny added by anyone denies a jump without a canary step', () => {
    const current = one('shop/vs-current.yaml');
    const next = withModes(current, 'canary-first=deny');
    primaryTo(50)(next);
    const verdict = review(update(vs(current), vs(next)), stateOf(shopObjects()), defaultRulesConfig(), everyPodScraped);
    expect(verdict.findings.map((f) => [f.rule, f.severity])).toEqual([['canary-first', 'deny']]);
    expect(verdict.auditAnnotations).toEqual({ 'rule-modes': 'canary-first=deny' });
  });
});
