import { describe, expect, it } from '@jest/globals';
import {
  CANDIDATE_SUBSET,
  CUTOVER_STARTED_AT,
  FULL_TRAFFIC_AT,
  FULL_TRAFFIC_REACHED_AT,
  ROLLED_BACK_AT,
  STABLE_SINCE,
  STABLE_SUBSET,
} from '../../../src/istio/annotations.js';
import type { DestinationRule } from '../../../src/istio/types.js';
import { routesOf, subsetShare } from '../../../src/istio/routes.js';
import { T0, evaluation, finding, harness } from './support/loop-harness.js';
import { http, virtualService } from './support/virtual-services.js';

const BREACH = evaluation('breached', finding('error-rate', 'breached', 0.12, 0.05), finding('latency-p99', 'ok', 300, 2000));
const KEY = 'shop/reviews/v2';

function destinationRule(namespace = 'shop', host = 'reviews'): DestinationRule {
  return {
    kind: 'DestinationRule',
    metadata: { name: host, namespace },
    spec: { host, subsets: [{ name: 'green', labels: { version: 'v1' } }, { name: 'blue', labels: { version: 'v2' } }] },
  };
}

function setup(overrides: Parameters<typeof harness>[0] = {}) {
  const h = harness(overrides);
  h.cache.addNamespace('shop', true);
  h.cache.addDestinationRule(destinationRule());
  return h;
}

const greenShare = (h: ReturnType<typeof setup>, name = 'reviews') => routesOf(h.store.current('shop', name), 'cluster.local').map((r) => subsetShare(r, 'green'));

describe('WatcherLoop: rollback on a breach', () => {
  it('rolls a breached cutover back to the stable subset, with an Event and an alert that says why', async () => {
    const h = setup();
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    const report = await h.loop.runCycle();
    expect(report).toMatchObject({ ran: true, guarded: 1, evaluated: 1, rollbacks: 1 });
    expect(greenShare(h)).toEqual([100]);
    expect(h.store.current('shop', 'reviews').metadata.annotations?.[ROLLED_BACK_AT]).toBe(new Date(T0).toISOString());
    expect(h.recorder.eventReasons()).toEqual(['RolledBack']);
    expect(h.recorder.events[0]?.event.message).toMatch(/traffic back on green 100 % and verified: http\[0\]: green 0, blue 100 → green 100, blue 0\. Why: error-rate: error-rate is breached/);
    expect(h.recorder.alerts).toHaveLength(1);
    expect(h.recorder.alerts[0]).toMatchObject({
      labels: { alertname: 'BlueGreenGuardRolledBack', service: 'reviews', namespace: 'shop', severity: 'warning', reason: 'error-rate', virtualservice: 'reviews', version: 'v2' },
      annotations: { value: '0.12', threshold: '0.05', patch_result: expect.stringMatching(/^patched and verified \(0 conflict retries\)/) as unknown },
    });
    expect(h.recorder.rollbacks).toEqual(['rolled-back']);
  });

  it('rolls back exactly once while the breach persists and the watch cache lags behind the patch', async () => {
    const h = setup();
    h.apply(virtualService(http('green:10 blue:90'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    await h.loop.runCycle(); // rolls back; the cache still shows blue at 90
    h.clock.advance(15);
    await h.loop.runCycle(); // stale cache: same resourceVersion, skipped
    h.clock.advance(15);
    h.cache.sync();
    await h.loop.runCycle(); // cache caught up: no candidate traffic, nothing to evaluate
    expect(h.store.weightPatches()).toHaveLength(1);
    expect(h.recorder.eventReasons()).toEqual(['RolledBack']);
    expect(h.recorder.alertNames()).toEqual(['BlueGreenGuardRolledBack']);
    expect(h.evaluator.calls.map((c) => c.targets.length)).toEqual([1, 1]);
  });

  it('does not roll back twice even when a stale cache sends it to the patcher again (another replica rolled back)', async () => {
    const h = setup();
    h.apply(virtualService(http('green:10 blue:90'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    // Someone else rolls back in the cluster; our cache has not seen it.
    const vs = h.store.current('shop', 'reviews');
    vs.spec.http![0]!.route![0]!.weight = 100;
    vs.spec.http![0]!.route![1]!.weight = 0;
    h.store.put(vs);
    await h.loop.runCycle();
    expect(h.store.weightPatches()).toHaveLength(1); // the one stale attempt, refused by the test op
    expect(h.recorder.rollbacks).toEqual(['already-rolled-back']);
    expect(h.recorder.events).toEqual([]);
    expect(h.recorder.alerts).toEqual([]);
  });

  it('rolls back again only after a new cutover begins', async () => {
    const h = setup();
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    await h.loop.runCycle();
    h.cache.sync();
    h.clock.advance(15);
    await h.loop.runCycle();
    expect(h.recorder.rollbacks).toEqual(['rolled-back']);
    // The next attempt: someone raises blue again. That is a new cutover.
    const again = h.store.current('shop', 'reviews');
    again.spec.http![0]!.route![0]!.weight = 50;
    again.spec.http![0]!.route![1]!.weight = 50;
    h.apply(again);
    h.clock.advance(15);
    await h.loop.runCycle();
    expect(h.recorder.rollbacks).toEqual(['rolled-back', 'rolled-back']);
    expect(h.evaluator.calls.at(-1)?.targets[0]?.cutoverStartedAt).toEqual(h.clock.now());
  });

  it('rolls back every route and tcp/tls too, leaving an unguarded namespace alone', async () => {
    const h = setup();
    h.cache.addNamespace('other', false);
    h.apply(virtualService(http('green:0 blue:100', 'green:50 blue:50'), undefined, 'reviews', 'shop'));
    h.apply(virtualService(http('green:0 blue:100'), undefined, 'reviews', 'other'));
    h.evaluator.set(KEY, BREACH);
    h.evaluator.set('other/reviews/blue', BREACH);
    const report = await h.loop.runCycle();
    expect(report).toMatchObject({ guarded: 1, evaluated: 1, rollbacks: 1 });
    expect(greenShare(h)).toEqual([100, 100]);
    expect(routesOf(h.store.current('other', 'reviews'), 'cluster.local').map((r) => subsetShare(r, 'green'))).toEqual([0]);
  });
});

describe('WatcherLoop: a rollback that does not complete raises its own critical alert', () => {
  it.each([
    ['the API server refuses the patch', 'rollback-failed', (h: ReturnType<typeof setup>) => h.store.interfere({ kind: 'error', error: new Error('PATCH VirtualService shop/reviews failed (HTTP 403 Forbidden)') })],
    ['the object read back still sends traffic to blue', 'rollback-not-verified', (h: ReturnType<typeof setup>) => h.store.afterEachPatch((vs) => { vs.spec.http![0]!.route![1]!.weight = 30; })],
  ])('%s', async (_name, reason, sabotage) => {
    const h = setup();
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    sabotage(h);
    await h.loop.runCycle();
    expect(h.recorder.alerts).toHaveLength(1);
    expect(h.recorder.alerts[0]?.labels).toMatchObject({ alertname: 'BlueGreenGuardRollbackFailed', severity: 'critical', reason, service: 'reviews', namespace: 'shop' });
    expect(h.recorder.alerts[0]?.annotations.summary).toMatch(/roll back by hand now/);
    expect(h.recorder.eventReasons()).toEqual(['RollbackFailed']);
  });

  it('when weights cannot move the only route, changes no weight and says what to add', async () => {
    const h = setup();
    h.apply(virtualService(http('blue'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    await h.loop.runCycle();
    expect(h.store.weightPatches()).toEqual([]);
    expect(h.recorder.alerts[0]?.labels).toMatchObject({ alertname: 'BlueGreenGuardRollbackFailed', severity: 'critical', reason: 'rollback-blocked' });
    expect(h.recorder.alerts[0]?.annotations.patch_result).toMatch(/fix: add \{destination: \{host: reviews, subset: green\}, weight: 0\}/);
    expect(h.recorder.eventReasons()).toEqual(['RollbackBlocked']);
  });
});

describe('WatcherLoop: dry run', () => {
  it('decides and alerts but never patches, and keeps the cutover\'s progress in memory', async () => {
    const h = setup({ dryRun: true });
    h.apply(virtualService(http('green:0 blue:100')));
    h.evaluator.set(KEY, BREACH);
    for (let i = 0; i < 3; i++) {
      await h.loop.runCycle();
      h.clock.advance(15);
    }
    expect(h.store.patches).toEqual([]);
    expect(h.recorder.events).toEqual([]);
    expect(h.recorder.rollbacks).toEqual(['dry-run', 'dry-run', 'dry-run']);
    expect(h.recorder.alertNames()).toEqual(['BlueGreenGuardWarning', 'BlueGreenGuardWarning', 'BlueGreenGuardWarning']);
    expect(h.recorder.alerts[0]?.annotations.summary).toMatch(/^dry run: VirtualService shop\/reviews would be rolled back to green/);
    expect(h.evaluator.calls.map((c) => c.targets[0]?.cutoverStartedAt?.getTime())).toEqual([T0, T0, T0]);
  });
});

describe('WatcherLoop: warnings, no data, a blind guard', () => {
  it('posts one warning alert per early-window warning and does not roll back', async () => {
    const h = setup();
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, evaluation('warning', finding('error-rate', 'ok', 0.01, 0.05), finding('early-error-rate', 'warning', 0.01, 0.005), finding('early-latency-p99', 'warning', 900, 800)));
    await h.loop.runCycle();
    expect(h.store.weightPatches()).toEqual([]);
    expect(h.recorder.alerts.map((a) => [a.labels.alertname, a.labels.reason, a.labels.severity])).toEqual([
      ['BlueGreenGuardWarning', 'early-error-rate', 'warning'],
      ['BlueGreenGuardWarning', 'early-latency-p99', 'warning'],
    ]);
  });

  it('raises the no-data alert only once no data has lasted noData.alertAfterSeconds, and never rolls back', async () => {
    const h = setup({ noData: { alertAfterSeconds: 60, severity: 'warning' } });
    h.apply(virtualService(http('green:99 blue:1'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, evaluation('no-data', finding('error-rate', 'no-data'), finding('latency-p99', 'no-data')));
    const alertsAt: number[] = [];
    for (let s = 0; s <= 90; s += 15) {
      await h.loop.runCycle();
      alertsAt.push(h.recorder.alerts.length);
      h.clock.advance(15);
    }
    expect(alertsAt).toEqual([0, 0, 0, 0, 1, 2, 3]);
    expect(h.recorder.alerts[0]?.labels).toMatchObject({ alertname: 'BlueGreenGuardNoData', reason: 'error-rate,latency-p99', severity: 'warning' });
    expect(h.store.weightPatches()).toEqual([]);
  });

  it('judges every service blind when the evaluation round fails, and says so after blind.alertAfterSeconds', async () => {
    const h = setup({ blind: { alertAfterSeconds: 30, severity: 'critical' } });
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.failWith = new Error('Prometheus at http://prometheus:9090 unreachable: ECONNREFUSED');
    for (let i = 0; i < 3; i++) {
      await h.loop.runCycle();
      h.clock.advance(15);
    }
    expect(h.recorder.verdicts).toEqual(['error', 'error', 'error']);
    expect(h.recorder.alertNames()).toEqual(['BlueGreenGuardBlind']);
    expect(h.recorder.alerts[0]?.labels).toMatchObject({ severity: 'critical', reason: 'evaluation-error' });
    expect(h.recorder.alerts[0]?.annotations.description).toMatch(/ECONNREFUSED/);
    expect(h.store.weightPatches()).toEqual([]);
  });

  it('keeps acting when Alertmanager does not take the alerts', async () => {
    const h = setup();
    h.recorder.alertsFail = true;
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    await expect(h.loop.runCycle()).resolves.toMatchObject({ rollbacks: 1 });
    expect(greenShare(h)).toEqual([100]);
  });
});

describe('WatcherLoop: what it evaluates', () => {
  it('evaluates only guarded services whose candidate has weight > 0, named by the DestinationRule\'s version label', async () => {
    const h = setup();
    h.cache.addNamespace('quiet', true);
    h.apply(virtualService(http('green:90 blue:10'), { [CUTOVER_STARTED_AT]: new Date(T0).toISOString() }));
    h.apply(virtualService(http('green:100 blue:0'), undefined, 'idle', 'shop'));
    h.cache.addNamespace('elsewhere', false);
    h.apply(virtualService(http('green@other:50 blue@other:50'), undefined, 'unguarded', 'elsewhere'));
    await h.loop.runCycle();
    expect(h.evaluator.calls).toHaveLength(1);
    expect(h.evaluator.calls[0]?.targets.map((t) => t.key)).toEqual([{ namespace: 'shop', service: 'reviews', version: 'v2' }]);
  });

  it('is not blinded by a stored guard-off annotation in a guarded namespace (only the webhook honours it, from break-glass groups)', async () => {
    const h = setup();
    h.apply(virtualService(http('green:0 blue:100'), { 'bluegreen-guard.io/guard': 'disabled', [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    await expect(h.loop.runCycle()).resolves.toMatchObject({ rollbacks: 1 });
    expect(greenShare(h)).toEqual([100]);
  });

  it.each([1, 10, 100])('makes one evaluation round per cycle for %i guarded services', async (n) => {
    const h = setup();
    for (let i = 0; i < n; i++) h.apply(virtualService(http(`green@svc-${i}:50 blue@svc-${i}:50`), undefined, `svc-${i}`, 'shop'));
    await h.loop.runCycle();
    expect(h.evaluator.calls).toHaveLength(1);
    expect(h.evaluator.calls[0]?.targets).toHaveLength(n);
  });

  it('does nothing on a standby replica, and never writes after losing the Lease mid-cycle', async () => {
    const h = setup();
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    h.elector.leader = false;
    expect(await h.loop.runCycle()).toEqual({ ran: false, why: 'not-leader' });
    expect(h.evaluator.calls).toEqual([]);
    h.elector.leader = true;
    h.evaluator.during = () => {
      h.elector.leader = false;
    };
    await h.loop.runCycle();
    expect(h.store.patches).toEqual([]);
    expect(h.recorder.leaderStates).toEqual([false, true]);
  });

  it('skips cycles until the watch caches have synced', async () => {
    const h = setup();
    h.cache.isSynced = false;
    expect(await h.loop.runCycle()).toEqual({ ran: false, why: 'caches-not-synced' });
  });
});

describe('WatcherLoop: the cutover\'s progress, recorded on the object', () => {
  it('records the start, full traffic, then after the hold makes blue stable and promotes its Deployment', async () => {
    const h = setup({ holdSeconds: 600, promotion: { enabled: true, labelKey: 'env', labelValue: 'prod' } });
    h.apply(virtualService(http('green:90 blue:10')));
    await h.loop.runCycle();
    h.cache.sync();
    expect(h.store.current('shop', 'reviews').metadata.annotations).toMatchObject({ [CUTOVER_STARTED_AT]: new Date(T0).toISOString(), [CANDIDATE_SUBSET]: 'blue' });
    expect(h.recorder.eventReasons()).toEqual(['CutoverStarted']);

    const full = h.store.current('shop', 'reviews');
    full.spec.http![0]!.route![0]!.weight = 0;
    full.spec.http![0]!.route![1]!.weight = 100;
    h.apply(full);
    h.clock.advance(60);
    await h.loop.runCycle();
    h.cache.sync();
    expect(h.store.current('shop', 'reviews').metadata.annotations?.[FULL_TRAFFIC_AT]).toBe(h.clock.now().toISOString());
    const fullTrafficAt = h.clock.now().toISOString();
    expect(h.store.current('shop', 'reviews').metadata.annotations?.[FULL_TRAFFIC_REACHED_AT]).toBe(fullTrafficAt);
    expect(h.evaluator.calls.at(-1)?.targets[0]?.cutoverStartedAt?.getTime()).toBe(T0);

    for (let t = 0; t < 40; t++) {
      h.clock.advance(15);
      await h.loop.runCycle();
      h.cache.sync();
    }
    const after = h.store.current('shop', 'reviews');
    expect(after.metadata.annotations).toMatchObject({ [STABLE_SUBSET]: 'blue', [CANDIDATE_SUBSET]: 'green' });
    expect(after.metadata.annotations?.[CUTOVER_STARTED_AT]).toBeUndefined();
    // Kept after confirmation: keep-previous counts its hour from full traffic, not from stable-since.
    expect(after.metadata.annotations?.[FULL_TRAFFIC_REACHED_AT]).toBe(fullTrafficAt);
    expect(Date.parse(after.metadata.annotations?.[STABLE_SINCE] ?? '')).toBeGreaterThan(Date.parse(fullTrafficAt));
    expect(h.recorder.eventReasons()).toEqual(['CutoverStarted', 'CutoverStable', 'Promoted']);
    expect(h.recorder.promotions).toEqual([{ namespace: 'shop', service: 'reviews', subsetLabels: { version: 'v2' } }]);
    // blue is stable now: green at 0 is no candidate traffic, nothing is evaluated any more.
    const calls = h.evaluator.calls.length;
    await h.loop.runCycle();
    expect(h.evaluator.calls).toHaveLength(calls);
  });

  it('never records a cutover stable through a stretch without data: the hold counts judged time only', async () => {
    const h = setup({ holdSeconds: 600 });
    h.apply(virtualService(http('blue'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString(), [FULL_TRAFFIC_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set(KEY, evaluation('no-data', finding('error-rate', 'no-data'), finding('latency-p99', 'no-data')));
    for (let s = 0; s < 600; s += 15) {
      await h.loop.runCycle();
      h.cache.sync();
      h.clock.advance(15);
    }
    h.evaluator.set(KEY, evaluation('healthy'));
    await h.loop.runCycle();
    h.cache.sync();
    const annotations = h.store.current('shop', 'reviews').metadata.annotations;
    expect(annotations?.[STABLE_SUBSET]).toBeUndefined();
    expect(annotations?.[FULL_TRAFFIC_AT]).toBe(h.clock.now().toISOString());
  });

  it('never records a cutover stable while a breach it could not roll back stands', async () => {
    const h = setup({ holdSeconds: 60 });
    h.apply(virtualService(http('blue'), { [CUTOVER_STARTED_AT]: new Date(T0 - 600_000).toISOString(), [FULL_TRAFFIC_AT]: new Date(T0 - 600_000).toISOString() }));
    h.evaluator.set(KEY, BREACH);
    await h.loop.runCycle();
    h.cache.sync();
    expect(h.store.current('shop', 'reviews').metadata.annotations?.[FULL_TRAFFIC_AT]).toBe(new Date(T0).toISOString());
    h.evaluator.set(KEY, evaluation('healthy'));
    h.clock.advance(30);
    await h.loop.runCycle();
    h.cache.sync();
    expect(h.store.current('shop', 'reviews').metadata.annotations?.[STABLE_SUBSET]).toBeUndefined();
  });
});
