/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// keep-previous: for an hour after a cutover, the previous stable Deployment
// may not be scaled down or deleted, so a rollback always has somewhere to go.
import { describe, expect, it } from '@jest/globals';
import { CANDIDATE_SUBSET, FULL_TRAFFIC_AT, STABLE_SINCE, STABLE_SUBSET } from '../../../src/istio/annotations.js';
import { checkKeepPrevious, type DeploymentScaleChange } from '../../../src/webhook/rules/keep-previous.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
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
