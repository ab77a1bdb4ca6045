/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// keep-previous: for an hour after a cutover, the previous stable Deployment
// may not be scaled down or deleted, so a rollback always has somewhere to go.
import { describe, expect, it } from '@jest/globals';
import { CANDIDATE_SUBSET, FULL_TRAFFIC_AT, FULL_TRAFFIC_REACHED_AT, STABLE_SINCE, STABLE_SUBSET } from '../../../src/istio/annotations.js';
import { checkKeepPrevious, type DeploymentScaleChange } from '../../../src/webhook/rules/keep-previous.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import { decodeAdmissionReview } from '../../../src/webhook/admission.js';
import { judgeAdmission } from '../../../src/webhook/workload-review.js';
import { ALICE, clone, one, shopObjects, stateOf, type Json } from './world.js';

const config = { ...defaultRulesConfig(), keepPreviousExemptUsernames: ['system:serviceaccount:kube-system:horizontal-pod-autoscaler'] };
const NOW = new Date('2026-12-02T20:00:00.000Z');

const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();

/**
 * shop/web after its cutover to blue was confirmed stable `minutesAgo` minutes ago: green (web-v1) is the
 * previous version. `reachedSecondsAgo`: when the cutover reached full traffic (`full-traffic-reached-at`);
 * absent, as an older watcher recorded it.
 */
function confirmedStable(minutesAgo: number, reachedSecondsAgo?: number): Json[] {
  const vs = clone(one('shop/vs-current.yaml'));
  vs.metadata.annotations = {
    [STABLE_SUBSET]: 'blue',
    [CANDIDATE_SUBSET]: 'green',
    [STABLE_SINCE]: ago(minutesAgo * 60),
    ...(reachedSecondsAgo === undefined ? {} : { [FULL_TRAFFIC_REACHED_AT]: ago(reachedSecondsAgo) }),
  };
  return [...shopObjects().filter((o) => o.kind !== 'VirtualService'), vs];
}

/** shop/web at full traffic on blue, the hold running: green (web-v1) is the rollback target. */
function inHold(reachedSecondsAgo = 120, holdSecondsAgo = reachedSecondsAgo): Json[] {
  const vs = clone(one('shop/vs-current.yaml'));
  vs.metadata.annotations = { [STABLE_SUBSET]: 'green', [FULL_TRAFFIC_AT]: ago(holdSecondsAgo), [FULL_TRAFFIC_REACHED_AT]: ago(reachedSecondsAgo) };
  return [...shopObjects().filter((o) => o.kind !== 'VirtualService'), vs];
}

const scale = (name: string, before: number, after: number, over: Partial<DeploymentScaleChange> = {}): DeploymentScaleChange => ({
  operation: 'UPDATE',
  namespace: 'shop',
  name,
  replicasBefore: before,
  replicasAfter: after,
  requester: ALICE,
  ...over,
});

describe('keep-previous', () => {
  it('denies scaling the previous stable Deployment to 0 within the hour, with the time left', () => {
    const [issue, ...rest] = checkKeepPrevious(scale('web-v1', 3, 0), stateOf(confirmedStable(18)), config, NOW);
    expect(rest).toEqual([]);
    expect(issue?.rule).toBe('keep-previous');
    expect(issue?.object).toBe('Deployment/shop/web-v1');
    expect(issue?.message).toContain('runs subset green, the rollback target of VirtualService shop/web');
    expect(issue?.message).toContain('scales it from 3 to 0 replicas');
    expect(issue?.message).toContain('42 min left (until 2026-12-02T20:42:00.000Z)');
  });

  it.each([
    ['the scale subresource', scale('web-v1', 3, 1, { subresource: 'scale' }), 'scale subresource'],
    ['a DELETE', scale('web-v1', 3, 0, { operation: 'DELETE', replicasAfter: undefined }), 'deletes it'],
  ])('denies %s too', (_, change, text) => {
    expect(checkKeepPrevious(change, stateOf(confirmedStable(5)), config, NOW)[0]?.message).toContain(text);
  });

  it('protects the stable subset while the cutover is at full traffic and not yet confirmed, with the hour counted from full traffic', () => {
    const message = checkKeepPrevious(scale('web-v1', 3, 0), stateOf(inHold()), config, NOW)[0]?.message;
    expect(message).toContain(`its cutover has been at full traffic since ${ago(120)} and is not confirmed stable yet`);
    expect(message).toContain('kept until the cutover is confirmed stable, and at least 58 min more (until 2026-12-02T20:58:00.000Z)');
  });

  it('keeps protecting the stable subset during a hold that outlasts the hour (it is still the rollback target)', () => {
    // Full traffic 70 min ago, the hold started over 5 min ago after a breach that was not rolled back.
    const [issue] = checkKeepPrevious(scale('web-v1', 3, 0), stateOf(inHold(70 * 60, 5 * 60)), config, NOW);
    expect(issue?.message).toContain(`at full traffic since ${ago(70 * 60)}`);
    expect(issue?.message).toMatch(/kept until the cutover is confirmed stable\. Fix:/);
  });

  // The hour counts from full traffic, not from the confirmation 10 minutes later (the seed's hold).
  it.each<[string, number, number, typeof config, string | undefined]>([
    ['1 s before the hour', 59 * 60 + 59, 49, config, '1 min left (until 2026-12-02T20:00:01.000Z)'],
    ['30 min into the hour', 30 * 60, 20, config, '30 min left (until 2026-12-02T20:30:00.000Z)'],
    ['at the hour', 60 * 60, 50, config, undefined],
    ['1 s after the hour (confirmed 51 min ago: within an hour of confirmation)', 60 * 60 + 1, 51, config, undefined],
    ['a configured 10 min, 1 s before', 9 * 60 + 59, 1, { ...config, keepPreviousSeconds: 600 }, '1 min left (until 2026-12-02T20:00:01.000Z)'],
    ['a configured 10 min, 1 s after', 10 * 60 + 1, 1, { ...config, keepPreviousSeconds: 600 }, undefined],
  ])('full traffic reached %s', (_, reachedSecondsAgo, confirmedMinutesAgo, rules, left) => {
    const issues = checkKeepPrevious(scale('web-v1', 3, 0), stateOf(confirmedStable(confirmedMinutesAgo, reachedSecondsAgo)), rules, NOW);
    if (left === undefined) {
      expect(issues).toEqual([]);
      return;
    }
    expect(issues.map((i) => i.rule)).toEqual(['keep-previous']);
    expect(issues[0]?.message).toContain(`its cutover reached full traffic at ${ago(reachedSecondsAgo)} (confirmed stable at ${ago(confirmedMinutesAgo * 60)})`);
    expect(issues[0]?.message).toContain(`; ${left}.`);
  });

  it('counts from the confirmation when the full-traffic time is missing or later (a cutover rolled back since)', () => {
    expect(checkKeepPrevious(scale('web-v1', 3, 0), stateOf(confirmedStable(59)), config, NOW)[0]?.message).toContain('1 min left');
    const later = checkKeepPrevious(scale('web-v1', 3, 0), stateOf(confirmedStable(59, 30 * 60)), config, NOW)[0]?.message;
    expect(later).toContain(`its cutover was confirmed stable at ${ago(59 * 60)}`);
    expect(later).toContain('1 min left');
  });

  it.each([
    ['after the hour', scale('web-v1', 3, 0), confirmedStable(61)],
    ['scaling up', scale('web-v1', 3, 5), confirmedStable(5)],
    ['the new stable Deployment', scale('web-v2', 3, 0), confirmedStable(5)],
    ['the exempt HPA identity', scale('web-v1', 3, 2, { requester: { username: 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', groups: [] } }), confirmedStable(5)],
    ['a service without a recorded cutover', scale('web-v1', 3, 0), shopObjects()],
  ])('allows %s', (_, change, objects) => {
    expect(checkKeepPrevious(change, stateOf(objects), config, NOW)).toEqual([]);
  });
});

describe('keep-previous through the admission seam', () => {
  const webV1 = (): Json => clone(shopObjects().find((o) => o.kind === 'Deployment' && o.metadata.name === 'web-v1') as Json);
  const review = (request: Json): ReturnType<typeof judgeAdmission> => {
    const decoded = decodeAdmissionReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', userInfo: { username: 'alice', groups: [] }, ...request } }, 0);
    if (!decoded.ok || !decoded.review.input) throw new Error(`not decoded: ${JSON.stringify(decoded)}`);
    return judgeAdmission({ ...decoded.review.input, nowMs: NOW.getTime() }, stateOf(confirmedStable(10)), config);
  };
  const scaleObject = (replicas: number): Json => ({ apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web-v1', namespace: 'shop' }, spec: { replicas }, status: { replicas: 3 } });

  it('denies `kubectl scale deployment web-v1 --replicas=0` (the deployments/scale subresource)', () => {
    const v = review({
      kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      subResource: 'scale',
      operation: 'UPDATE',
      namespace: 'shop',
      name: 'web-v1',
      object: scaleObject(0),
      oldObject: scaleObject(3),
    });
    expect(v.allowed).toBe(false);
    expect(v.findings.map((f) => f.rule)).toEqual(['keep-previous']);
    expect(v.findings[0]?.message).toContain('scales it from 3 to 0 replicas (scale subresource)');
  });

  it('denies an UPDATE of spec.replicas and a DELETE of the Deployment', () => {
    const next = webV1();
    next.spec.replicas = 1;
    const kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    const update = review({ kind, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, operation: 'UPDATE', namespace: 'shop', name: 'web-v1', object: next, oldObject: webV1() });
    expect(update.findings.filter((f) => f.rule === 'keep-previous').map((f) => f.severity)).toEqual(['deny']);
    const del = review({ kind, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, operation: 'DELETE', namespace: 'shop', name: 'web-v1', oldObject: webV1() });
    expect(del.allowed).toBe(false);
    expect(del.findings[0]?.message).toContain('This change deletes it');
  });

  it('admits scaling up through the scale subresource', () => {
    const v = review({
      kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      subResource: 'scale',
      operation: 'UPDATE',
      namespace: 'shop',
      name: 'web-v1',
      object: scaleObject(5),
      oldObject: scaleObject(3),
    });
    expect(v).toMatchObject({ allowed: true, findings: [] });
  });
});
