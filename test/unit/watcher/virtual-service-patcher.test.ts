import { describe, expect, it } from '@jest/globals';
import { FULL_TRAFFIC_AT, PREVIOUS_WEIGHTS, ROLLBACK_REASON, ROLLED_BACK_AT } from '../../../src/istio/annotations.js';
import type { VirtualService } from '../../../src/istio/types.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import { routesOf, subsetShare } from '../../../src/istio/routes.js';
import { VirtualServicePatcher } from '../../../src/watcher/virtual-service-patcher.js';
import { FakeVirtualServiceStore } from '../watcher/support/fake-virtual-service-store.js';
import { differingPaths, loadVirtualService } from '../watcher/support/fixtures.js';

const at = new Date('2025-03-02T10:04:00.000Z');
const request = { roles: { stableSubset: 'green' }, reason: 'error-rate: 5xx ratio 12% ≥ 5% sustained over 120 s', at };

function setup(file = 'reviews-full-cutover.yaml') {
  const store = new FakeVirtualServiceStore();
  const seen = store.put(loadVirtualService(file));
  return { store, seen, patcher: new VirtualServicePatcher(store, { mesh: DEFAULT_MESH, maxAttempts: 3 }) };
}

function stableShares(vs: VirtualService, stable = 'green'): number[] {
  return routesOf(vs, 'cluster.local')
    .filter((r) => r.destinations.some((d) => d.subset !== undefined))
    .map((r) => subsetShare(r, stable));
}

describe('VirtualServicePatcher.rollBack', () => {
  it('patches green back to 100 %, verifies it, and records when, why and the previous weights', async () => {
    const { store, seen, patcher } = setup();
    const result = await patcher.rollBack(seen, request);
    expect(result).toMatchObject({ outcome: 'rolled-back', conflicts: 0 });
    const after = store.current('shop', 'reviews');
    expect(stableShares(after)).toEqual([100, 100, 100]);
    expect(after.metadata.annotations?.[ROLLED_BACK_AT]).toBe(at.toISOString());
    expect(after.metadata.annotations?.[ROLLBACK_REASON]).toBe(request.reason);
    expect(JSON.parse(after.metadata.annotations?.[PREVIOUS_WEIGHTS] ?? '{}')).toEqual({
      'http[0] "canary-header"': { green: 0, blue: 100 },
      'http[1] "api"': { blue: 100, green: 0 },
      'http[3] "default"': { green: 0, blue: 100 },
    });
    const changed = differingPaths(seen, after).filter((p) => !p.startsWith('/metadata/annotations/') && p !== '/metadata/resourceVersion');
    expect(changed.every((p) => /^\/spec\/http\/\d+\/route\/\d+\/weight$/.test(p))).toBe(true);
  });

  it('sends one JSON Patch whose first op tests the resourceVersion it planned on', async () => {
    const { store, seen, patcher } = setup();
    await patcher.rollBack(seen, request);
    expect(store.patches).toHaveLength(1);
    expect(store.patches[0]?.ops[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: seen.metadata.resourceVersion });
  });

  it('on a 422 from a stale read, re-reads, re-plans and keeps the other writer\'s change', async () => {
    const { store, seen, patcher } = setup();
    store.interfere({ kind: 'writer', change: (vs) => { (vs.spec.http![0] as Record<string, unknown>).timeout = '7s'; } });
    const result = await patcher.rollBack(seen, request);
    expect(result).toMatchObject({ outcome: 'rolled-back', conflicts: 1 });
    const after = store.current('shop', 'reviews');
    expect(after.spec.http?.[0]?.timeout).toBe('7s');
    expect(stableShares(after)).toEqual([100, 100, 100]);
    expect(store.patches).toHaveLength(2);
  });

  it('on a 409, retries against the fresh object', async () => {
    const { store, seen, patcher } = setup();
    store.interfere({ kind: 'conflict409' });
    expect(await patcher.rollBack(seen, request)).toMatchObject({ outcome: 'rolled-back', conflicts: 1 });
    expect(stableShares(store.current('shop', 'reviews'))).toEqual([100, 100, 100]);
  });

  it('does not write when the fresh object shows someone already rolled back', async () => {
    const { store, seen, patcher } = setup('checkout-partial-canary.yaml');
    store.interfere({
      kind: 'writer',
      change: (vs) => {
        for (const r of vs.spec.http ?? []) for (const d of r.route ?? []) d.weight = d.destination.subset === 'green' ? 100 : 0;
      },
    });
    expect(await patcher.rollBack(seen, request)).toEqual({ outcome: 'already-rolled-back', conflicts: 1 });
    expect(store.weightPatches()).toHaveLength(1);
    expect(store.current('payments', 'checkout').metadata.annotations?.[ROLLED_BACK_AT]).toBeUndefined();
  });

  it('gives up after the configured attempts when the object changes under every one, and says so', async () => {
    const { store, seen, patcher } = setup();
    for (let i = 0; i < 3; i++) store.interfere({ kind: 'conflict409' });
    const result = await patcher.rollBack(seen, request);
    expect(result.outcome).toBe('failed');
    expect(result).toMatchObject({ conflicts: 3 });
    expect(result.outcome === 'failed' && result.error).toMatch(/shop\/reviews changed under every one of 3 rollback attempts/);
  });

  it('fails without retrying a 422 that is not a race (the object did not change)', async () => {
    const { store, seen, patcher } = setup();
    const { WriteConflict } = await import('../../../src/watcher/virtual-service-store.js');
    store.interfere({ kind: 'error', error: new WriteConflict(422, 'spec.http[0].route[0].weight: Invalid value') });
    const result = await patcher.rollBack(seen, request);
    expect(result.outcome).toBe('failed');
    expect(result.outcome === 'failed' && result.error).toMatch(/shop\/reviews failed: spec.http\[0\].route\[0\].weight: Invalid value/);
    expect(store.patches).toHaveLength(1);
  });

  it('fails with the API error when the server refuses for another reason', async () => {
    const { store, seen, patcher } = setup();
    store.interfere({ kind: 'error', error: new Error('PATCH VirtualService shop/reviews failed (HTTP 403 Forbidden)') });
    const result = await patcher.rollBack(seen, request);
    expect(result).toMatchObject({ outcome: 'failed', conflicts: 0 });
    expect(result.outcome === 'failed' && result.error).toMatch(/HTTP 403/);
  });

  it('reports not-verified when the object read back still sends traffic to the candidate', async () => {
    const { store, seen, patcher } = setup();
    store.afterEachPatch((vs) => {
      const route = vs.spec.http?.[3]?.route;
      if (route?.[0] && route[1]) [route[0].weight, route[1].weight] = [50, 50];
    });
    const result = await patcher.rollBack(seen, request);
    expect(result.outcome).toBe('not-verified');
    expect(result.outcome === 'not-verified' && result.problems).toEqual([
      `http[3] "default" still sends 50% to subset 'blue'`,
      `http[3] "default" gives the stable subset 'green' 50%, not 100%`,
    ]);
  });

  it('moves what weights can move and reports the route they cannot as not verified', async () => {
    const { store, seen, patcher } = setup('search-header-only-candidate.yaml');
    const result = await patcher.rollBack(seen, request);
    expect(result.outcome).toBe('not-verified');
    expect(result.outcome === 'not-verified' && result.problems).toEqual([`http[0] "testers" still sends 100% to subset 'blue'`]);
    expect(stableShares(store.current('catalog', 'search'))).toEqual([0, 100]);
  });

  it('writes nothing when no route carrying candidate traffic can be moved by weights', async () => {
    const store = new FakeVirtualServiceStore();
    const vs = loadVirtualService('search-header-only-candidate.yaml');
    vs.spec.http = vs.spec.http?.slice(0, 1);
    const seen = store.put(vs);
    const result = await new VirtualServicePatcher(store, { mesh: DEFAULT_MESH }).rollBack(seen, request);
    expect(result.outcome).toBe('blocked');
    expect(store.patches).toHaveLength(0);
  });
});

describe('VirtualServicePatcher.recordAnnotations', () => {
  it('sets and removes annotations in one patch guarded by the resourceVersion', async () => {
    const { store, seen, patcher } = setup();
    expect(await patcher.recordAnnotations(seen, { [FULL_TRAFFIC_AT]: at.toISOString(), 'bluegreen-guard.io/cutover-started-at': null })).toEqual({ outcome: 'recorded' });
    const after = store.current('shop', 'reviews');
    expect(after.metadata.annotations?.[FULL_TRAFFIC_AT]).toBe(at.toISOString());
    expect(after.metadata.annotations?.['bluegreen-guard.io/cutover-started-at']).toBeUndefined();
    expect(after.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBe(seen.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']);
  });

  it('creates the annotations map on an object that has none', async () => {
    const { store, seen, patcher } = setup('checkout-partial-canary.yaml');
    expect(seen.metadata.annotations).toBeUndefined();
    await patcher.recordAnnotations(seen, { [FULL_TRAFFIC_AT]: 'x', [ROLLED_BACK_AT]: null });
    expect(store.current('payments', 'checkout').metadata.annotations).toEqual({ [FULL_TRAFFIC_AT]: 'x' });
  });

  it('leaves a conflict for the next cycle and writes nothing when nothing changes', async () => {
    const { store, seen, patcher } = setup();
    store.interfere({ kind: 'conflict409' });
    expect(await patcher.recordAnnotations(seen, { [FULL_TRAFFIC_AT]: 'x' })).toEqual({ outcome: 'conflict' });
    expect(await patcher.recordAnnotations(seen, { [ROLLED_BACK_AT]: null })).toEqual({ outcome: 'unchanged' });
    expect(store.patches).toHaveLength(1);
  });
});
