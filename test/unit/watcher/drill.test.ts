import { describe, expect, it } from '@jest/globals';
import type { PostableAlert } from '../../../src/alertmanager/alert-sink.js';
import { DRILL_IN_PROGRESS, ROLLED_BACK_AT } from '../../../src/istio/annotations.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import { routesOf, subsetShare } from '../../../src/istio/routes.js';
import type { VirtualService } from '../../../src/istio/types.js';
import { readCutoverState } from '../../../src/watcher/cutover-state.js';
import { planRaise, runDrill, type DrillDeps, type DrillPolicy } from '../../../src/watcher/drill.js';
import { VirtualServicePatcher } from '../../../src/watcher/virtual-service-patcher.js';
import { FakeVirtualServiceStore } from './support/fake-virtual-service-store.js';
import { http, virtualService } from './support/virtual-services.js';

const policy: DrillPolicy = { sharePercent: 1, trafficTimeoutSeconds: 2, maxRollbackSeconds: 120, pollIntervalMs: 5 };
const noObjects = { virtualServices: () => [], destinationRules: () => [], namespace: () => undefined };

function blueShare(vs: VirtualService): number {
  return Math.max(...routesOf(vs, 'cluster.local').map((r) => subsetShare(r, 'blue')));
}

/** A store holding `vs`, and a Prometheus that counts one more blue request per read while blue has a share. */
function setup(vs: VirtualService, options: { trafficAfterRollback?: boolean } = {}) {
  const store = new FakeVirtualServiceStore();
  store.put(vs);
  let count = 0;
  let rolledBack = false;
  const alerts: PostableAlert[] = [];
  const patcher = new VirtualServicePatcher(store, { mesh: DEFAULT_MESH });
  const deps: DrillDeps = {
    store,
    rollBack: async (seen, request) => {
      const result = await patcher.rollBack(seen, request);
      rolledBack = true;
      return result;
    },
    traffic: {
      requests: () => {
        if (blueShare(store.current('shop', 'reviews')) > 0 || (rolledBack && options.trafficAfterRollback)) count++;
        return Promise.resolve({ count, scrapedAtSeconds: Date.now() / 1000 });
      },
    },
    alerts: { send: (a) => (alerts.push(...a), Promise.resolve()) },
    stableVerdict: () => Promise.resolve('healthy'),
    objects: noObjects,
    mesh: DEFAULT_MESH,
    clock: { now: () => new Date() },
    alertLabels: { extraLabels: {}, generatorUrl: null },
  };
  return { store, deps, alerts };
}

const idle = () => virtualService(http('green:100 blue:0'), { [ROLLED_BACK_AT]: '2026-11-30T10:00:00.000Z' });

describe('planRaise', () => {
  it('moves the share from the stable subset to the candidate listed at 0 %', () => {
    const vs = idle();
    const raise = planRaise(vs, readCutoverState(vs, DEFAULT_MESH), 1, 'cluster.local');
    expect(typeof raise).not.toBe('string');
    if (typeof raise === 'string') return;
    expect(raise.candidate).toBe('blue');
    expect(raise.changes).toEqual([{ route: 'http[0]', before: { green: 100, blue: 0 }, after: { green: 99, blue: 1 } }]);
  });

  it('names the fix when no route lists a candidate at 0 %', () => {
    const vs = virtualService(http('green:100'));
    expect(planRaise(vs, readCutoverState(vs, DEFAULT_MESH), 1, 'cluster.local')).toMatch(/list the candidate on the route at weight 0/);
  });
});

describe('runDrill', () => {
  it('raises, rolls back, sees the traffic move both ways, alerts, and restores weights and annotations', async () => {
    const { store, deps, alerts } = setup(idle());
    const report = await runDrill(store.current('shop', 'reviews'), { kind: 'schedule', requestedAt: null }, deps, policy);
    expect(report).toMatchObject({ outcome: 'passed', reason: '', stableSubset: 'green', candidateSubset: 'blue', alertDelivered: true });
    expect(report.times.trafficToCandidate).not.toBeNull();
    expect(report.times.trafficBack).not.toBeNull();
    expect(report.rollbackSeconds).not.toBeNull();
    const after = store.current('shop', 'reviews');
    expect(after.spec.http?.[0]?.route).toEqual([
      { destination: { host: 'reviews', subset: 'green' }, weight: 100 },
      { destination: { host: 'reviews', subset: 'blue' }, weight: 0 },
    ]);
    // The drill's rollback is not the record of a real one: the earlier rollback's time is back.
    expect(after.metadata.annotations?.[ROLLED_BACK_AT]).toBe('2026-11-30T10:00:00.000Z');
    expect(after.metadata.annotations?.[DRILL_IN_PROGRESS]).toBeUndefined();
    // The raise carried the mark the webhook judges; the rollback removed it.
    const raise = store.patches[0]!.ops;
    expect(raise.some((o) => o.path === '/metadata/annotations/bluegreen-guard.io~1drill-in-progress')).toBe(true);
    expect(alerts.map((a) => a.labels.alertname)).toEqual(['BlueGreenGuardDrillRollback']);
  });

  it('reports a refusal of the webhook and changes nothing', async () => {
    const { store, deps } = setup(idle());
    store.interfere({ kind: 'error', error: new Error('PATCH VirtualService shop/reviews failed (HTTP 403 Forbidden): admission webhook "istio-routes.bluegreen-guard.io" denied the request: rollback-latch: …') });
    const report = await runDrill(store.current('shop', 'reviews'), { kind: 'request', requestedAt: '2026-12-03T10:00:00.000Z' }, deps, policy);
    expect(report).toMatchObject({ outcome: 'refused', requestedAt: '2026-12-03T10:00:00.000Z' });
    expect(report.reason).toMatch(/the webhook refused the drill's 1 % on blue/);
    expect(blueShare(store.current('shop', 'reviews'))).toBe(0);
  });

  it('skips a service whose candidate already gets traffic, and one whose stable version is not healthy', async () => {
    const busy = setup(virtualService(http('green:90 blue:10')));
    expect(await runDrill(busy.store.current('shop', 'reviews'), { kind: 'schedule', requestedAt: null }, busy.deps, policy)).toMatchObject({ outcome: 'skipped' });
    const sick = setup(idle());
    sick.deps.stableVerdict = () => Promise.resolve('breached');
    const report = await runDrill(sick.store.current('shop', 'reviews'), { kind: 'schedule', requestedAt: null }, sick.deps, policy);
    expect(report).toMatchObject({ outcome: 'skipped' });
    expect(report.reason).toMatch(/is not healthy \(breached\)/);
    expect(sick.store.patches).toHaveLength(0);
  });

  it('fails when Prometheus still counts candidate requests after the rollback, and still restores', async () => {
    const { store, deps } = setup(idle(), { trafficAfterRollback: true });
    const report = await runDrill(store.current('shop', 'reviews'), { kind: 'schedule', requestedAt: null }, deps, { ...policy, trafficTimeoutSeconds: 0.3 });
    expect(report.outcome).toBe('failed');
    expect(report.reason).toMatch(/still received requests/);
    expect(blueShare(store.current('shop', 'reviews'))).toBe(0);
  });
});
