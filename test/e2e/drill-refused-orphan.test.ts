// Failover drills that do not pass, on the real API server, webhook, watcher,
// Prometheus and Alertmanager. A drill left behind by a stopped watcher (the
// drill-in-progress mark, dated in the future, on raised weights) is ended by
// the leader's reconcile: rolled back to the stable subset, the mark removed,
// reported as failed; a mark past 2 × trafficTimeoutSeconds + 120 s on weights
// already at the stable subset is removed alone. After the watcher rolled a failing blue back, the
// rollback latch holds: a drill asked for with `kubectl bluegreen drill` is
// refused by the webhook like any cutover, and reported so, with the weights
// untouched.
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ensureCliBuilt } from '../support/built-cli.js';
import { DRILL, DRILL_IN_PROGRESS, DRILL_REPORT, ROLLBACK_LATCH } from '../../src/istio/annotations.js';
import { parseLatch } from '../../src/istio/rollback-latch.js';
import type { DrillReport } from '../../src/watcher/drill.js';
import { kubectlBluegreen } from '../support/kubectl-bluegreen.js';
import { injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import { primaryWeightsOf, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

let stage: Stage;
let scene: Scene;

beforeAll(async () => {
  await ensureCliBuilt();
  // Scheduled once a year: every drill here is one the test caused.
  stage = await startStage({ watchers: 1, watcherConfig: { drills: { schedule: '0 0 1 1 *', trafficTimeoutSeconds: 30 } } });
  scene = await stage.seed({ namespacePrefix: 'drillbad' });
  await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
  await scene.mustApply('VirtualService blue=0', scene.virtualService({ green: 100, blue: 0 }));
  await scene.waitUntilScraped();
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

const drillEvents = async () => (await scene.events()).filter((e) => /^Drill/.test(e.reason ?? ''));
const annotationsOf = (vs: { metadata: unknown }): Record<string, string> => (vs.metadata as { annotations?: Record<string, string> }).annotations ?? {};
const reportOf = (vs: { metadata: unknown }): DrillReport | undefined => {
  const raw = annotationsOf(vs)[DRILL_REPORT];
  return raw === undefined ? undefined : (JSON.parse(raw) as DrillReport);
};

describe('failover drills that do not pass', () => {
  it('an orphaned drill (raised weights and a future-dated drill-in-progress mark) is rolled back by the leader, its mark removed, and reported as failed', async () => {
    const orphanId = '20260101T000000-dead01';
    const manifest = parse(scene.virtualService({ green: 99, blue: 1 })) as { metadata: { annotations: Record<string, string> } };
    manifest.metadata.annotations[DRILL_IN_PROGRESS] = JSON.stringify({ id: orphanId, startedAt: new Date(Date.now() + 3_600_000).toISOString() });
    await scene.mustApply('VirtualService green=99 blue=1 with a drill-in-progress mark from the future', stringify(manifest));
    const vs = await waitUntil(
      async () => {
        const v = await scene.readVirtualService();
        return annotationsOf(v)[DRILL_IN_PROGRESS] === undefined && reportOf(v)?.id === orphanId ? v : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the orphaned drill ended: mark gone, its report recorded' },
    );
    expect(primaryWeightsOf(vs)).toEqual({ green: 100, blue: 0 });
    expect(reportOf(vs)).toMatchObject({ id: orphanId, outcome: 'failed', stableSubset: 'green' });
    expect(reportOf(vs)?.reason).toMatch(new RegExp(`drill ${orphanId} was interrupted: its watcher stopped before it ended; the rollback rolled-back`));
    const event = await waitUntil(async () => (await drillEvents()).find((e) => e.reason === 'DrillFailed' && (e.message ?? '').includes(orphanId)), { timeoutMs: 30_000, intervalMs: 250, description: 'the DrillFailed Event of the orphan' });
    console.log(`[orphaned drill Event] ${event.reason}: ${event.message}`);
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('was interrupted');
    const alert = await waitUntil(async () => (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardDrillFailed' && a.labels.drill === orphanId), { timeoutMs: 30_000, intervalMs: 250, description: 'the orphan\'s alert' });
    expect(alert.labels).toMatchObject({ namespace: scene.namespace, reason: 'drill-failed' });
    expect(await stage.metric(stage.watchers[0]!.name, 'bluegreen_guard_drill_duration_seconds_count', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
  });

  it('a mark older than 2 × trafficTimeoutSeconds + 120 s on weights already at the stable subset: the mark alone goes, reported as failed', async () => {
    const orphanId = '20200101T000000-dead02';
    const mark = JSON.stringify({ id: orphanId, startedAt: '2020-01-01T00:00:00.000Z' });
    const r = await stage.cp.kubectl(['annotate', 'virtualservice', scene.service, '-n', scene.namespace, `${DRILL_IN_PROGRESS}=${mark}`]);
    expect(r.code).toBe(0);
    const vs = await waitUntil(
      async () => {
        const v = await scene.readVirtualService();
        return annotationsOf(v)[DRILL_IN_PROGRESS] === undefined && reportOf(v)?.id === orphanId ? v : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the old mark removed and its report recorded' },
    );
    expect(primaryWeightsOf(vs)).toEqual({ green: 100, blue: 0 });
    expect(reportOf(vs)).toMatchObject({ id: orphanId, outcome: 'failed' });
    expect(reportOf(vs)?.reason).toContain(`drill ${orphanId} was interrupted: its watcher stopped before it ended; the rollback already-rolled-back`);
    await waitUntil(async () => (await drillEvents()).find((e) => e.reason === 'DrillFailed' && (e.message ?? '').includes(orphanId)), { timeoutMs: 30_000, intervalMs: 250, description: 'the DrillFailed Event of the old mark' });
  });

  it('after the watcher rolled a failing blue back, kubectl bluegreen drill NAME is refused by the webhook (rollback latch), reported as refused, weights unchanged', async () => {
    await scene.cutOver();
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, {
      timeoutMs: 30_000,
      description: "Prometheus holding blue's requests",
    });
    await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    const latched = await scene.readVirtualService();
    expect(parseLatch(annotationsOf(latched)[ROLLBACK_LATCH])).toMatchObject({ ok: true, entries: [{ subset: 'blue' }] });
    const before = primaryWeightsOf(latched);
    expect(before).toEqual({ green: 100, blue: 0 });

    const opt = await stage.cp.kubectl(['annotate', 'virtualservice', scene.service, '-n', scene.namespace, `${DRILL}=enabled`]);
    expect(opt.code).toBe(0);
    const r = await kubectlBluegreen(stage, ['drill', scene.service, '-n', scene.namespace, '--timeout', '2m']);
    console.log(`[kubectl bluegreen drill, latched]\n${r.stdout}${r.stderr}`);
    expect(r.stderr).toContain('drill requested on');
    expect(r.stdout).toMatch(/^Drill: {7}\S+ \(on request\): REFUSED$/m);
    expect(r.code).toBe(1);

    const vs = await scene.readVirtualService();
    const report = reportOf(vs)!;
    expect(report).toMatchObject({ outcome: 'refused', trigger: 'request', stableSubset: 'green', candidateSubset: 'blue' });
    expect(report.reason).toMatch(/^the webhook refused the drill's 1 % on blue, as it would any cutover: /);
    expect(report.reason).toContain('[rollback-latch]');
    // A webhook's denial is not an RBAC problem: no RBAC fix is offered.
    expect(report.reason).not.toContain('grant the watcher patch');
    expect(report.times.raise).toBeNull();
    expect(primaryWeightsOf(vs)).toEqual(before);
    expect(annotationsOf(vs)[DRILL_IN_PROGRESS]).toBeUndefined();

    const event = await waitUntil(async () => (await drillEvents()).find((e) => e.reason === 'DrillRefused' && (e.message ?? '').includes(report.id)), { timeoutMs: 30_000, intervalMs: 250, description: 'the DrillRefused Event' });
    console.log(`[refused drill Event] ${event.reason}: ${event.message}`);
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('[rollback-latch]');
    const alert = await waitUntil(async () => (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardDrillFailed' && a.labels.drill === report.id), { timeoutMs: 30_000, intervalMs: 250, description: 'the refused drill\'s alert' });
    expect(alert.labels).toMatchObject({ namespace: scene.namespace, reason: 'drill-refused', severity: 'warning' });
    expect(await stage.metric(stage.watchers[0]!.name, 'bluegreen_guard_drill_duration_seconds_count', { outcome: 'refused' })).toBe(1);
    // The latched revision got no traffic from the drill.
    expect(primaryWeightsOf(await scene.readVirtualService())).toEqual({ green: 100, blue: 0 });
  });
});
