// "Monitor recovery" through the whole loop: after the watcher's rollback it
// compares the stable version with its level before the cutover. With the
// mesh simulator's v1 healthy, the rollback alert is resolved with "recovered
// in N s"; with v1 degraded too (the fault is not only in the candidate), the
// critical BlueGreenGuardRecoveryFailed reaches Alertmanager with the values.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { RECOVERY } from '../../src/istio/annotations.js';
import { parseRecovery } from '../../src/watcher/recovery.js';
import { injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

const WINDOW_SECONDS = 15;
let stage: Stage;

beforeAll(async () => {
  // The seed's 2 minutes and 5-minute baseline, shortened like the other windows of the test bed.
  stage = await startStage({ watchers: 1, watcherConfig: { recovery: { windowSeconds: WINDOW_SECONDS, baselineSeconds: 10, rateWindowSeconds: 6 } } });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

/** Seeds a service, lets v1 build a baseline, cuts over to v2 and waits until Prometheus holds v2's traffic. */
async function cutOverWithBaseline(prefix: string): Promise<Scene> {
  const scene = await stage.seed({ namespacePrefix: prefix });
  const v1Rate = `sum(rate(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v1"}[10s])) > 0`;
  await waitUntil(async () => (await stage.query(v1Rate)).length > 0, { timeoutMs: 30_000, description: 'a baseline of v1 traffic in Prometheus' });
  await scene.cutOver();
  await scene.mesh!.waitForShare('v2', 1, 30_000);
  await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, {
    timeoutMs: 30_000,
    description: "Prometheus holding v2's requests",
  });
  return scene;
}

const recoveryOf = async (scene: Scene) => parseRecovery((await scene.readVirtualService()).metadata.annotations?.[RECOVERY]);

describe('recovery after the watcher rolls back', () => {
  it('v1 healthy: recovered; the rollback alert is resolved with "recovered in N s" and a Recovered Event', async () => {
    const scene = await cutOverWithBaseline('recovers');
    const timing = await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    const record = await waitUntil(async () => {
      const r = await recoveryOf(scene);
      return r?.state === 'recovered' || r?.state === 'failed' ? r : undefined;
    }, { timeoutMs: (WINDOW_SECONDS + 30) * 1000, description: 'the recovery verdict on the VirtualService' });
    console.log(`[recovery] ${record.detail ?? ''} (rolled back ${((Date.parse(record.rolledBackAt) - timing.faultAtMs) / 1000).toFixed(1)} s after the fault)`);
    expect(record.state).toBe('recovered');
    expect(record.detail).toMatch(/^recovered in \d+ s: stable 5xx 0.00 %/);
    const event = (await scene.events()).find((e) => e.reason === 'Recovered');
    expect(event?.message).toMatch(/^recovered in \d+ s/);
    // Resolved: no longer listed as active.
    await waitUntil(async () => !(await stage.alerts()).some((a) => a.labels.alertname === 'BlueGreenGuardRolledBack' && a.labels.namespace === scene.namespace), {
      timeoutMs: 15_000,
      description: 'the rollback alert resolved in Alertmanager',
    });
    expect((await stage.alerts()).some((a) => a.labels.alertname === 'BlueGreenGuardRecoveryFailed' && a.labels.namespace === scene.namespace)).toBe(false);
  });

  it('v1 degraded as well: BlueGreenGuardRecoveryFailed (critical) with the measured values, and a RecoveryFailed Event', async () => {
    const scene = await cutOverWithBaseline('degraded');
    // The stable version fails too: the fault is not only in the candidate.
    scene.mesh!.setBehaviour('v1', { errorRatio: 0.3 });
    await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    const alert = await waitUntil(async () => (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardRecoveryFailed' && a.labels.namespace === scene.namespace), {
      timeoutMs: (WINDOW_SECONDS + 30) * 1000,
      description: 'BlueGreenGuardRecoveryFailed in Alertmanager',
    });
    console.log(`[recovery failed] ${alert.annotations.description ?? ''}`);
    expect(alert.labels).toMatchObject({ severity: 'critical', version: 'v1', service: scene.service });
    expect(alert.annotations.description).toMatch(/^not recovered \d+ s after the rollback: stable 5xx (2\d|3\d)\.\d\d % > baseline 0.00 % \+ 1.00 %/);
    expect((await recoveryOf(scene))?.state).toBe('failed');
    // The Event after the check carries the alert's measured values.
    const event = (await scene.events()).find((e) => e.reason === 'RecoveryFailed');
    expect(event?.message).toMatch(/^not recovered \d+ s after the rollback: stable 5xx (2\d|3\d)\.\d\d % > baseline/);
  });
});
