/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- tests edit raw API objects (untyped JSON) in place */
// rollback-latch: once the watcher rolled a revision back, no change sends
// traffic to it again until a new revision is deployed or the latch is cleared
// by a member of the configured groups; the record itself is protected.
import { describe, expect, it } from '@jest/globals';
import { ROLLBACK_LATCH, ROLLBACK_LATCH_ACK } from '../../../src/istio/annotations.js';
import { formatLatch, type LatchEntry } from '../../../src/istio/rollback-latch.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import { AUDIT_LATCH_CLEARED, AUDIT_LATCH_CLEARED_BY, AUDIT_LATCH_REFUSED } from '../../../src/webhook/rules/latch-ack.js';
import type { Requester } from '../../../src/webhook/verdict.js';
import { decodeAdmissionReview } from '../../../src/webhook/admission.js';
import { judgeAdmission } from '../../../src/webhook/workload-review.js';
import { ALICE, clone, del, dr, find, one, podsOf, primaryTo, route, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config: RulesConfig = { ...defaultRulesConfig(), latchAckGroups: ['sre'] };
const SRE: Requester = { username: 'sam@example.com', groups: ['system:authenticated', 'sre'] };
const FAILED = { namespace: 'shop', workload: 'web-v2', podTemplateHash: '5d4c8b7f6' };

function entry(over: Partial<LatchEntry> = {}): LatchEntry {
  return { at: '2026-12-02T19:12:03.000Z', reason: 'error-rate 20 % ≥ 5 % over 120 s', host: 'web.shop.svc.cluster.local', subset: 'blue', revisions: [FAILED], ...over };
}

function latched(raw: Json, entries: LatchEntry[] = [entry()]): Json {
  const copy = clone(raw);
  copy.metadata.annotations = { ...copy.metadata.annotations, [ROLLBACK_LATCH]: formatLatch(entries) };
  return copy;
}

/** web-v2's pod template changed: its pods now carry another pod-template-hash. */
function newRevision(objects: Json[]): Json[] {
  for (const o of objects) {
    if (o.metadata.namespace !== 'shop' || o.metadata.labels?.version !== 'v2') continue;
    if (o.kind === 'ReplicaSet') o.metadata.name = 'web-v2-84f6d5c9b';
    if (o.kind === 'Pod' || o.kind === 'ReplicaSet') o.metadata.labels['pod-template-hash'] = '84f6d5c9b';
    if (o.kind === 'Pod') o.metadata.ownerReferences = o.metadata.ownerReferences.map((r: Json) => ({ ...r, name: 'web-v2-84f6d5c9b' }));
  }
  return objects;
}

/** A cutover of shop/web's primary route to blue, the object carrying `rawOld`'s annotations as kubectl apply keeps them. */
function cutover(rawOld: Json, objects: Json[] = shopObjects(), share = 100, requester: Requester = ALICE) {
  const next = clone(rawOld);
  primaryTo(share)(next);
  const state = stateOf(objects.map((o) => (o.kind === 'VirtualService' && o.metadata.name === rawOld.metadata.name && o.metadata.namespace === rawOld.metadata.namespace ? rawOld : o)));
  return review(update(vs(rawOld), vs(next), requester), state, config);
}

const rule = (v: ReturnType<typeof review>) => v.findings.filter((f) => f.rule === 'rollback-latch');

describe('rollback-latch: traffic stays off a rolled-back revision', () => {
  it('denies re-applying the failed cutover, saying when and why it was rolled back and the two ways out', () => {
    const v = cutover(latched(one('shop/vs-current.yaml')));
    expect(v.allowed).toBe(false);
    const [f] = rule(v);
    expect(f?.severity).toBe('deny');
    expect(f?.message).toContain('Deployment shop/web-v2 at pod-template-hash 5d4c8b7f6');
    expect(f?.message).toContain('2026-12-02T19:12:03.000Z');
    expect(f?.message).toContain('error-rate 20 %');
    expect(f?.message).toContain('deploy a new revision');
    expect(f?.message).toContain('bluegreen-guard ack web -n shop');
    expect(f?.message).toContain('sre');
  });

  it('denies the canary step as well: any raise of the revision\'s share', () => {
    expect(rule(cutover(latched(one('shop/vs-current.yaml')), shopObjects(), 1))[0]?.severity).toBe('deny');
  });

  it('admits the same change once the pods run a new revision (a changed pod template)', () => {
    const v = cutover(latched(one('shop/vs-current.yaml')), newRevision(shopObjects()));
    expect(rule(v)).toEqual([]);
  });

  it('denies while the new revision rolls out beside pods of the failed one', () => {
    const objects = shopObjects();
    const extra = clone(podsOf(objects, 'shop', { app: 'web', version: 'v2' })[0] as Json);
    newRevision(objects);
    extra.metadata.name = 'web-v2-5d4c8b7f6-old';
    objects.push(extra);
    expect(rule(cutover(latched(one('shop/vs-current.yaml')), objects))[0]?.severity).toBe('deny');
  });

  it('denies from any VirtualService: the latch recorded on another one holds', () => {
    const other = latched({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web-edge', namespace: 'edge' }, spec: { hosts: ['web.example.com'], http: [] } });
    const v = cutover(one('shop/vs-current.yaml'), [...shopObjects(), other]);
    const [f] = rule(v);
    expect(f?.severity).toBe('deny');
    expect(f?.message).toContain('recorded on VirtualService edge/web-edge');
    expect(f?.message).toContain('bluegreen-guard ack web-edge -n edge');
  });

  it('denies a change that reaches the revision by another path: the tester route loses its match', () => {
    const raw = latched(one('shop/vs-current.yaml'));
    const next = clone(raw);
    delete route(next, 'http', 'testers').match;
    const v = review(update(vs(raw), vs(next)), stateOf(shopObjects()), config);
    expect(rule(v)[0]?.severity).toBe('deny');
    expect(rule(v)[0]?.message).toContain('Deployment shop/web-v2 at pod-template-hash 5d4c8b7f6');
  });

  it('denies deleting the VirtualService when the Service alone would send traffic to the revision', () => {
    const raw = latched(one('shop/vs-current.yaml'));
    const v = review(del(vs(raw)), stateOf(shopObjects().map((o) => (o.kind === 'VirtualService' && o.metadata.name === 'web' ? raw : o))), config);
    expect(rule(v)[0]?.severity).toBe('deny');
  });

  it('latches the subset by name when the rollback could not read its revisions', () => {
    const raw = latched(one('shop/vs-current.yaml'), [entry({ revisions: [] })]);
    expect(rule(cutover(raw, newRevision(shopObjects())))[0]?.severity).toBe('deny');
  });

  it('follows the rule modes: warn admits with a warning', () => {
    const v = review(update(vs(latched(one('shop/vs-current.yaml'))), vs(primaryTo100(latched(one('shop/vs-current.yaml'))))), stateOf(shopObjects()), {
      ...config,
      modes: { ...config.modes, 'rollback-latch': 'warn' },
    });
    expect(rule(v)[0]?.severity).toBe('warn');
  });

  it('never blocks a rollback to the stable subset', () => {
    const raw = latched(setWeights(one('shop/vs-current.yaml'), 'http', 'primary', { green: 50, blue: 50 }));
    const next = setWeights(clone(raw), 'http', 'primary', { green: 100, blue: 0 });
    const v = review(update(vs(raw), vs(next)), stateOf(shopObjects()), config);
    expect(v.allowed).toBe(true);
  });
});

function primaryTo100(raw: Json): Json {
  const c = clone(raw);
  primaryTo(100)(c);
  return c;
}

describe('rollback-latch: only the configured groups clear the latch, and every clear is audited', () => {
  const raw = latched(one('shop/vs-current.yaml'));
  const cleared = (reason?: string): Json => {
    const c = clone(raw);
    delete c.metadata.annotations[ROLLBACK_LATCH];
    if (reason !== undefined) c.metadata.annotations[ROLLBACK_LATCH_ACK] = reason;
    return c;
  };

  it('denies removing the latch to a user outside the groups (kubectl annotate ... rollback-latch-)', () => {
    const v = review(update(vs(raw), vs(cleared())), stateOf(shopObjects()), config);
    expect(v.allowed).toBe(false);
    expect(rule(v)[0]?.message).toContain(`removes annotation ${ROLLBACK_LATCH}`);
    expect(v.auditAnnotations[AUDIT_LATCH_REFUSED]).toContain(ALICE.username);
  });

  it('denies it even when the same change rolls traffic back (the rollback exemption does not cover it)', () => {
    const half = latched(setWeights(one('shop/vs-current.yaml'), 'http', 'primary', { green: 50, blue: 50 }));
    const next = setWeights(clone(half), 'http', 'primary', { green: 100, blue: 0 });
    delete next.metadata.annotations[ROLLBACK_LATCH];
    expect(review(update(vs(half), vs(next)), stateOf(shopObjects()), config).allowed).toBe(false);
  });

  it('denies setting the acknowledgement to a user outside the groups', () => {
    const c = clone(raw);
    c.metadata.annotations[ROLLBACK_LATCH_ACK] = 'looks fine to me';
    expect(review(update(vs(raw), vs(c)), stateOf(shopObjects()), config).allowed).toBe(false);
  });

  it('denies a member clearing it without a reason', () => {
    const v = review(update(vs(raw), vs(cleared())), stateOf(shopObjects()), config, undefined);
    expect(v.allowed).toBe(false);
    const member = review(update(vs(raw), vs(cleared()), SRE), stateOf(shopObjects()), config);
    expect(member.allowed).toBe(false);
    expect(rule(member)[0]?.message).toContain('without a reason');
  });

  it('admits a member clearing it with a reason, audits who and why, and then the cutover goes through', () => {
    const v = review(update(vs(raw), vs(cleared('fault was in the payments dependency, fixed')), SRE), stateOf(shopObjects()), config);
    expect(v.allowed).toBe(true);
    expect(v.auditAnnotations[AUDIT_LATCH_CLEARED]).toBe('fault was in the payments dependency, fixed');
    expect(v.auditAnnotations[AUDIT_LATCH_CLEARED_BY]).toBe('sam@example.com (group sre)');
    expect(rule(v)[0]?.message).toContain('rollback latch cleared by sam@example.com');
    expect(rule(cutover(cleared('fixed')))).toEqual([]);
  });

  it('uses the break-glass groups when no latch groups are configured', () => {
    const glass = { ...defaultRulesConfig(), breakGlassGroups: ['sre'] };
    expect(review(update(vs(raw), vs(cleared('ok')), SRE), stateOf(shopObjects()), glass).allowed).toBe(true);
    expect(review(update(vs(raw), vs(cleared('ok')), SRE), stateOf(shopObjects()), defaultRulesConfig()).allowed).toBe(false);
  });

  it('lets a GitOps re-apply that leaves the annotations alone through to the traffic check only', () => {
    const next = clone(raw);
    next.metadata.labels = { team: 'shop' };
    expect(review(update(vs(raw), vs(next)), stateOf(shopObjects()), config).allowed).toBe(true);
  });
});

describe('rollback-latch on the other paths to the failed pods: a DestinationRule relabel, a Pod label edit', () => {
  /** shop/web after the rollback: the latch on the VirtualService names web-v2's revision. */
  const afterRollback = (objects: Json[] = shopObjects()): Json[] =>
    objects.map((o) => (o.kind === 'VirtualService' && o.metadata.namespace === 'shop' && o.metadata.name === 'web' ? latched(o) : o));
  const webRule = (objects: Json[]): Json => find(objects, 'DestinationRule', 'shop', 'web');
  /** DestinationRule shop/web with subset green (100% in http[2] "primary"), or another, re-pointed at `labels`. */
  const relabelGreen = (objects: Json[], labels: Record<string, string>, subset = 'green') => {
    const current = webRule(objects);
    const next = clone(current);
    next.spec.subsets.find((s: Json) => s.name === subset).labels = labels;
    return review(update(dr(current), dr(next)), stateOf(objects), config);
  };

  it('denies re-pointing a routed subset at the rolled-back revision, as a VirtualService cutover to it is denied', () => {
    const v = relabelGreen(afterRollback(), { version: 'v2' });
    expect(v.allowed).toBe(false);
    const [f, ...more] = rule(v);
    expect(more).toEqual([]);
    expect(f).toMatchObject({ severity: 'deny', object: 'DestinationRule/shop/web' });
    expect(f?.message).toMatch(/^Relabelling subset green of web\.shop\.svc\.cluster\.local in DestinationRule shop\/web \(version=v1 → version=v2\) sends its traffic \(100% in http\[2\] "primary", 100% in tcp\[0\], 100% in tls\[0\] of VirtualService shop\/web\) to pods it did not select before, whose pods run Deployment shop\/web-v2 at pod-template-hash 5d4c8b7f6; the watcher rolled that back at 2026-12-02T19:12:03\.000Z/);
    expect(f?.message).toContain('bluegreen-guard ack web -n shop');
  });

  it('admits the relabel onto a new revision of web-v2, and does not judge a relabel without a latch', () => {
    expect(rule(relabelGreen(afterRollback(newRevision(shopObjects())), { version: 'v2' }))).toEqual([]);
    expect(rule(relabelGreen(shopObjects(), { version: 'v2' }))).toEqual([]);
  });

  it('never holds a relabel that points traffic back at the stable version (subset blue re-pointed at v1)', () => {
    const v = relabelGreen(afterRollback(), { version: 'v1' }, 'blue');
    expect(rule(v)).toEqual([]);
    expect(v.allowed).toBe(true);
  });

  /** A workload change as the API server sends it, through the judge the webhook uses. */
  const workload = (objects: Json[], kind: 'Pod' | 'Deployment', name: string, edit: (o: Json) => void) => {
    const old = find(objects, kind, 'shop', name);
    const next = clone(old);
    edit(next);
    const gvr = kind === 'Pod' ? { group: '', version: 'v1', resource: 'pods' } : { group: 'apps', version: 'v1', resource: 'deployments' };
    const decoded = decodeAdmissionReview(
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'u1', kind: { group: gvr.group, version: 'v1', kind }, resource: gvr, namespace: 'shop', name, operation: 'UPDATE', userInfo: ALICE, object: next, oldObject: old },
      },
      0,
    );
    if (!decoded.ok || !decoded.review.input) throw new Error(`not decoded: ${JSON.stringify(decoded)}`);
    return judgeAdmission(decoded.review.input, stateOf(objects), config);
  };
  const V2_POD = 'web-v2-5d4c8b7f6-x7k2p';
  const toV1 = (o: Json) => (o.metadata.labels.version = 'v1');

  it('denies relabelling a pod of the rolled-back revision into a routed subset (kubectl label pod … version=v1)', () => {
    const v = workload(afterRollback(), 'Pod', V2_POD, toV1);
    expect(v.allowed).toBe(false);
    const [f, ...more] = rule(v);
    expect(more).toEqual([]);
    expect(f).toMatchObject({ severity: 'deny', object: `Pod/shop/${V2_POD}` });
    expect(f?.message).toMatch(
      new RegExp(`^Pod shop/${V2_POD}'s new labels put it in subset green of web\\.shop\\.svc\\.cluster\\.local, which gets traffic \\(100% in http\\[2\\] "primary", 100% in tcp\\[0\\], 100% in tls\\[0\\] of VirtualService shop/web\\), and it runs Deployment shop/web-v2 at pod-template-hash 5d4c8b7f6; the watcher rolled that back at 2026-12-02T19:12:03\\.000Z`),
    );
    expect(f?.message).toContain('deploy a new revision (change the pod template of Deployment shop/web-v2');
  });

  it('denies it with the latch recorded on another VirtualService too', () => {
    const other = latched({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web-edge', namespace: 'edge' }, spec: { hosts: ['web.example.com'], http: [] } });
    const [f] = rule(workload([...shopObjects(), other], 'Pod', V2_POD, toV1));
    expect(f?.severity).toBe('deny');
    expect(f?.message).toContain('recorded on VirtualService edge/web-edge');
  });

  it.each<[string, () => ReturnType<typeof workload>]>([
    ['without a latch', () => workload(shopObjects(), 'Pod', V2_POD, toV1)],
    ['a pod of a new revision', () => workload(afterRollback(newRevision(shopObjects())), 'Pod', 'web-v2-5d4c8b7f6-x7k2p', toV1)],
    ['a Deployment pod template change (it makes a new revision)', () => workload(afterRollback(), 'Deployment', 'web-v2', (d) => (d.spec.template.metadata.labels.version = 'v1'))],
  ])('does not hold %s', (_, judge) => {
    expect(rule(judge())).toEqual([]);
  });
});
