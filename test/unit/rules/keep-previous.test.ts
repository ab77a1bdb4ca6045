/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// keep-previous: for an hour after a cutover, the previous stable Deployment
// may not be scaled down or deleted, so a rollback always has somewhere to go.
import { describe, expect, it } from '@jest/globals';
import { CANDIDATE_SUBSET, FULL_TRAFFIC_AT, STABLE_SINCE, STABLE_SUBSET } from '../../../src/istio/annotations.js';
import { checkKeepPrevious, type DeploymentScaleChange } from '../../../src/webhook/rules/keep-previous.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import { decodeAdmissionReview } from '../../../src/webhook/admission.js';
import { judgeAdmission } from '../../../src/webhook/workload-review.js';
import { ALICE, clone, one, shopObjects, stateOf, type Json } from './world.js';

const config = { ...defaultRulesConfig(), keepPreviousExemptUsernames: ['system:serviceaccount:kube-system:horizontal-pod-autoscaler'] };
const NOW = new Date('2026-12-02T20:00:00.000Z');

/** shop/web after its cutover to blue was confirmed stable `minutesAgo` minutes ago: green (web-v1) is the previous version. */
function confirmedStable(minutesAgo: number): Json[] {
  const vs = clone(one('shop/vs-current.yaml'));
  vs.metadata.annotations = { [STABLE_SUBSET]: 'blue', [CANDIDATE_SUBSET]: 'green', [STABLE_SINCE]: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString() };
  return [...shopObjects().filter((o) => o.kind !== 'VirtualService'), vs];
}

/** shop/web at full traffic on blue, the hold running: green (web-v1) is the rollback target. */
function inHold(): Json[] {
  const vs = clone(one('shop/vs-current.yaml'));
  vs.metadata.annotations = { [STABLE_SUBSET]: 'green', [FULL_TRAFFIC_AT]: new Date(NOW.getTime() - 120_000).toISOString() };
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

  it('protects the stable subset while the cutover is at full traffic and not yet confirmed', () => {
    expect(checkKeepPrevious(scale('web-v1', 3, 0), stateOf(inHold()), config, NOW)[0]?.message).toContain('until the cutover is confirmed stable');
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
