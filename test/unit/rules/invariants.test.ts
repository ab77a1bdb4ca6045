/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- tests edit raw API objects (untyped JSON) in place */
// The rules that never bend: a rollback is always allowed, the watcher is
// exempt, a change that raises no candidate is judged only structurally,
// break-glass works for the configured groups only and is audited, and rule
// modes follow config < namespace < object.
import { describe, expect, it } from '@jest/globals';
import { MemoryClusterState } from '../../../src/cluster/memory-cluster-state.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig } from '../../../src/webhook/rules-config.js';
import type { VirtualService } from '../../../src/istio/types.js';
import type { ReviewInput, Requester } from '../../../src/webhook/verdict.js';
import { ALICE, clone, del, dr, find, one, podsOf, primaryTo, remove, route, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const WATCHER: Requester = { username: 'system:serviceaccount:bluegreen-guard:bluegreen-guard-watcher', groups: ['system:serviceaccounts'] };

/** The shop VirtualService after a full switch: blue takes everything, green 0%. */
function switched(): Json {
  const raw = one('shop/vs-current.yaml');
  for (const [kind, which] of [['http', 'primary'], ['tcp', 0], ['tls', 0]] as const) setWeights(raw, kind, which, { green: 0, blue: 100 });
  return raw;
}

/** Back to green, as the watcher patches it: weights only. */
function rolledBack(from: Json): Json {
  const raw = clone(from);
  for (const [kind, which] of [['http', 'primary'], ['tcp', 0], ['tls', 0]] as const) setWeights(raw, kind, which, { green: 100, blue: 0 });
  return raw;
}

/** Blue's pods crash-looping and its Deployment without a readinessProbe; routing objects intact. */
function brokenBlue(): MemoryClusterState {
  const objects = shopObjects();
  for (const pod of podsOf(objects, 'shop', { version: 'v2' })) pod.status.conditions = [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }];
  const d = find(objects, 'Deployment', 'shop', 'web-v2');
  d.status = { ...d.status, readyReplicas: 0, availableReplicas: 0 };
  delete d.spec.template.spec.containers[0].readinessProbe;
  return stateOf(objects);
}

/** Nothing the rules consult is healthy: no DestinationRule, no Service, blue's pods crash-looping, green's gone. */
function brokenWorld(): MemoryClusterState {
  let objects = shopObjects();
  objects = remove(objects, (o) => o.kind === 'DestinationRule' || o.kind === 'Service');
  objects = remove(objects, (o) => o.kind === 'Pod' && o.metadata.labels?.version === 'v1');
  for (const pod of podsOf(objects, 'shop', { version: 'v2' })) {
    pod.status.phase = 'Running';
    pod.status.conditions = [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }];
  }
  const d = find(objects, 'Deployment', 'shop', 'web-v2');
  d.status = { ...d.status, readyReplicas: 0, availableReplicas: 0 };
  delete d.spec.template.spec.containers[0].readinessProbe;
  return stateOf(objects);
}

describe('a shift back to the stable subset is always allowed', () => {
  it.each<[string, () => MemoryClusterState]>([
    ['a healthy cluster', () => stateOf(shopObjects())],
    ['a cluster where everything else is broken', brokenWorld],
    ['an empty cluster', () => new MemoryClusterState()],
  ])('on %s', (_what, world) => {
    const from = switched();
    const verdict = review(update(vs(from), vs(rolledBack(from))), world(), config);
    expect(verdict.allowed).toBe(true);
    expect(verdict.findings.every((f) => f.severity === 'warn')).toBe(true);
  });

  it('reports what is wrong as warnings and says why it allowed the rollback', () => {
    const from = switched();
    const verdict = review(update(vs(from), vs(rolledBack(from))), brokenWorld(), config);
    expect(verdict.exemption).toBe('rollback');
    // Only structural rules judge a rollback: the missing DestinationRules (web's and payments').
    expect(verdict.findings.map((f) => f.rule)).toEqual(['subset-exists', 'subset-exists', 'subset-exists', 'subset-exists']);
    expect(verdict.findings[0]?.message).toContain('(Allowed anyway: this change shifts traffic back to the stable subset green of web.shop.svc.cluster.local, and a rollback is never blocked.)');
  });

  it('allows a rollback written as a new manifest (candidate dropped, timeouts changed) with broken weights elsewhere', () => {
    const from = switched();
    const to = clone(from);
    for (const [kind, which] of [['http', 'primary'], ['tcp', 0], ['tls', 0]] as const) {
      const r = route(to, kind, which);
      r.route = r.route.filter((d: Json) => d.destination.subset === 'green');
    }
    route(to, 'http', 'primary').timeout = '3s';
    route(to, 'http', 'payments').route = [{ destination: { host: 'payments.pay.svc.cluster.local', subset: 'green' }, weight: -1 }, { destination: { host: 'payments.pay.svc.cluster.local', subset: 'green' }, weight: 0 }];
    const verdict = review(update(vs(from), vs(to)), brokenWorld(), config);
    expect(verdict).toMatchObject({ allowed: true, exemption: 'rollback' });
    expect(verdict.findings.map((f) => f.rule)).toContain('weights');
  });

  it('allows bringing the stable subset back into routes the full switch had dropped it from', () => {
    const from = switched();
    for (const [kind, which] of [['http', 'primary'], ['tcp', 0], ['tls', 0]] as const) {
      const r = route(from, kind, which);
      r.route = r.route.filter((d: Json) => d.destination.subset === 'blue');
    }
    const to = clone(from);
    for (const [kind, which] of [['http', 'primary'], ['tcp', 0], ['tls', 0]] as const) route(to, kind, which).route[0].destination.subset = 'green';
    const verdict = review(update(vs(from), vs(to)), brokenWorld(), config);
    expect(verdict).toMatchObject({ allowed: true, exemption: 'rollback' });
  });

  it('is not a rollback when it sends traffic to the stable subset of a host the object did not route to', () => {
    const current = one('shop/vs-current.yaml');
    const next = clone(current);
    route(next, 'http', 'payments').route = [{ destination: { host: 'ledger.pay.svc.cluster.local', subset: 'green' } }];
    const verdict = review(update(vs(current), vs(next)), brokenWorld(), config);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
  });

  it('is not a rollback when it also raises a candidate elsewhere', () => {
    const from = switched();
    const to = rolledBack(from);
    setWeights(to, 'tcp', 0, { green: 0, blue: 100 }); // tcp stays on blue: fine (not raised)
    route(to, 'http', 'payments').route = [{ destination: { host: 'payments.pay.svc.cluster.local', subset: 'green' }, weight: 50 }, { destination: { host: 'payments.pay.svc.cluster.local', subset: 'blue' }, weight: 50 }];
    const verdict = review(update(vs(from), vs(to)), brokenWorld(), config);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
  });

  it('takes the stable subset from the object as it is now, so a change cannot declare its own target stable', () => {
    const current = one('shop/vs-current.yaml');
    const next = clone(current);
    next.metadata.annotations['bluegreen-guard.io/stable-subset'] = 'blue';
    primaryTo(100)(next);
    const verdict = review(update(vs(current), vs(next)), brokenWorld(), config);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
  });
});

describe("the watcher's own writes are allowed at once", () => {
  it.each<[string, ReviewInput]>([
    ['a full switch to blue', update(vs(one('shop/vs-current.yaml')), vs(switched()), WATCHER)],
    ['a rollback', update(vs(switched()), vs(rolledBack(switched())), WATCHER)],
    ['deleting a DestinationRule still in use', del(dr(find(shopObjects(), 'DestinationRule', 'shop', 'web')), WATCHER)],
  ])('%s, on a cluster where everything else is broken', (_what, input) => {
    expect(review(input, brokenWorld(), config)).toEqual({ allowed: true, findings: [], exemption: 'watcher', auditAnnotations: {} });
  });

  it('only for the configured user names', () => {
    const verdict = review(update(vs(one('shop/vs-current.yaml')), vs(switched()), { ...WATCHER, username: 'system:serviceaccount:shop:deployer' }), brokenWorld(), config);
    expect(verdict.allowed).toBe(false);
  });
});

describe('a change that raises no candidate is judged only by subset-exists and weights', () => {
  it('allows a timeout change while blue is broken in every way', () => {
    const objects = remove(shopObjects(), (o) => o.kind === 'Pod');
    const current = one('shop/vs-current.yaml');
    const next = clone(current);
    route(next, 'http', 'primary').timeout = '30s';
    route(next, 'http', 'primary').retries = { attempts: 5 };
    expect(review(update(vs(current), vs(next)), stateOf(objects), config)).toEqual({ allowed: true, findings: [], auditAnnotations: {} });
  });

  it('allows lowering a candidate without raising anything', () => {
    const from = switched();
    const to = clone(from);
    setWeights(to, 'http', 'primary', { green: 0, blue: 100 });
    setWeights(to, 'tcp', 0, { green: 0, blue: 0 }); // total 0: structural
    const verdict = review(update(vs(from), vs(to)), brokenWorld(), config);
    expect(verdict.findings.map((f) => f.rule).sort()).toEqual(['subset-exists', 'subset-exists', 'subset-exists', 'subset-exists', 'weights']);
  });

  it('allows deleting a VirtualService whose hosts have no Service behind them (nothing more gets traffic)', () => {
    // A delete is a cutover to every version behind the hosts' Services (test/unit/rules/traffic-paths.test.ts); here there is none.
    const verdict = review(del(vs(one('shop/vs-current.yaml'))), brokenWorld(), config);
    expect(verdict.allowed).toBe(true);
    expect(verdict.findings.map((f) => [f.rule, f.severity])).toEqual([['metrics-scraped', 'warn']]);
  });
});

describe('break-glass', () => {
  const sre = parseRulesConfig({ breakGlassGroups: ['sre', 'platform-admins'] });
  const ONCALL: Requester = { username: 'oncall@example.com', groups: ['system:authenticated', 'sre'] };
  function glassed(reason: string): VirtualService {
    const raw = one('shop/vs-current.yaml');
    raw.metadata.annotations['bluegreen-guard.io/break-glass'] = reason;
    primaryTo(100)(raw);
    return vs(raw);
  }
  const current = vs(one('shop/vs-current.yaml'));

  it('lets a member of a configured group override denials, and audits it', () => {
    const verdict = review(update(current, glassed('INC-4711: v1 leaks memory, v2 has the fix'), ONCALL), brokenBlue(), sre);
    expect(verdict.allowed).toBe(true);
    expect(verdict.exemption).toBe('break-glass');
    expect(verdict.findings.length).toBeGreaterThan(0);
    expect(verdict.findings.every((f) => f.severity === 'warn')).toBe(true);
    expect(verdict.findings[0]?.message).toContain('(Overridden by break-glass: "INC-4711: v1 leaks memory, v2 has the fix", by oncall@example.com. Remove the break-glass annotation once the emergency is over.)');
    expect(verdict.auditAnnotations).toEqual({
      'break-glass-reason': 'INC-4711: v1 leaks memory, v2 has the fix',
      'break-glass-user': 'oncall@example.com (group sre)',
      'break-glass-overridden': 'probes,pods-ready',
    });
  });

  it.each<[string, Requester, string, ReturnType<typeof parseRulesConfig>, string]>([
    ['a user outside the groups', ALICE, 'INC-4711', sre, 'user alice@example.com is in none of the break-glass groups (sre, platform-admins)'],
    ['anyone when no group is configured', ONCALL, 'INC-4711', config, 'break-glass is not enabled (no break-glass groups are configured)'],
    ['an empty reason', ONCALL, '  ', sre, 'annotation bluegreen-guard.io/break-glass has an empty reason; write why the override is needed'],
  ])('is refused for %s, and the refusal is audited and explained', (_what, requester, reason, cfg, why) => {
    const verdict = review(update(current, glassed(reason), requester), brokenWorld(), cfg);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
    expect(verdict.auditAnnotations).toEqual({ 'break-glass-refused': why });
    const denials = verdict.findings.filter((f) => f.severity === 'deny');
    expect(denials.length).toBeGreaterThan(0);
    expect(denials.every((f) => f.message.endsWith(` The break-glass annotation was not honoured: ${why}.`))).toBe(true);
  });

  it('records a use that had nothing to override', () => {
    const raw = one('shop/vs-current.yaml');
    raw.metadata.annotations['bluegreen-guard.io/break-glass'] = 'drill';
    const verdict = review(update(current, vs(raw), ONCALL), stateOf(shopObjects()), sre);
    expect(verdict).toEqual({
      allowed: true,
      findings: [],
      auditAnnotations: { 'break-glass-reason': 'drill', 'break-glass-user': 'oncall@example.com (group sre)', 'break-glass-overridden': 'none' },
    });
  });
});

describe('rule modes: config, then namespace annotation, then object annotation', () => {
  /** A cutover to blue whose Deployment lacks a readinessProbe: denied by `probes` alone. */
  function probeless(namespaceModes?: string, objectModes?: string) {
    const objects = shopObjects();
    delete find(objects, 'Deployment', 'shop', 'web-v2').spec.template.spec.containers[0].readinessProbe;
    if (namespaceModes !== undefined) find(objects, 'Namespace', '', 'shop').metadata.annotations = { 'bluegreen-guard.io/rules': namespaceModes };
    const current = one('shop/vs-current.yaml');
    // An override the object already carries; one added by the change itself: rule-mode-overrides.test.ts.
    if (objectModes !== undefined) current.metadata.annotations['bluegreen-guard.io/rules'] = objectModes;
    const next = clone(current);
    primaryTo(1)(next);
    return review(update(vs(current), vs(next)), stateOf(objects), config);
  }
  const probes = (v: ReturnType<typeof probeless>) => v.findings.filter((f) => f.rule === 'probes').map((f) => f.severity);

  it.each<[string, string | undefined, string | undefined, string[], boolean]>([
    ['the global default (deny)', undefined, undefined, ['deny'], false],
    ['a namespace that turns the rule off', 'probes=off', undefined, [], true],
    ['a namespace that makes it a warning', 'canary-first=deny, probes=warn', undefined, ['warn'], true],
    ['an object that turns it back to deny over its namespace', 'probes=off', 'probes=deny', ['deny'], false],
    ['an object that turns it off', undefined, 'probes=off', [], true],
  ])('%s', (_what, ns, obj, severities, allowed) => {
    const verdict = probeless(ns, obj);
    expect(probes(verdict)).toEqual(severities);
    expect(verdict.allowed).toBe(allowed);
  });

  it('records an override carried by the object in the audit annotations', () => {
    expect(probeless(undefined, 'probes=off').auditAnnotations).toEqual({ 'rule-modes': 'probes=off' });
  });

  it('reports a malformed annotation and keeps the inherited mode', () => {
    const verdict = probeless('probes=of', 'probe=warn,zero-start');
    expect(verdict.allowed).toBe(false);
    const malformed = verdict.findings.filter((f) => f.message.startsWith('Annotation bluegreen-guard.io/rules'));
    expect(malformed.map((f) => [f.rule, f.severity, f.message.split('; that entry')[0]])).toEqual([
      ['probes', 'warn', "Annotation bluegreen-guard.io/rules on Namespace shop is malformed: 'probes=of': 'of' is not a mode (use deny, warn or off)"],
      ['probes', 'warn', "Annotation bluegreen-guard.io/rules on VirtualService shop/web is malformed: 'probe=warn' names no rule ('probe'; did you mean probes?)"],
      ['zero-start', 'warn', "Annotation bluegreen-guard.io/rules on VirtualService shop/web is malformed: 'zero-start' has no mode (write zero-start=deny, zero-start=warn or zero-start=off)"],
    ]);
    expect(verdict.findings.filter((f) => f.rule === 'probes' && f.severity === 'deny')).toHaveLength(1);
  });
});

describe('dryRun', () => {
  it('gives the same verdict as the real request', () => {
    const current = vs(one('shop/vs-current.yaml'));
    const next = vs(switched());
    const state = brokenWorld();
    const real = review(update(current, next), state, config);
    expect(review({ ...update(current, next), dryRun: true }, state, config)).toEqual(real);
    expect(real.allowed).toBe(false);
  });
});
