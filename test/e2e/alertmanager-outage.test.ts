// Alerts survive an Alertmanager outage, through the whole loop: the real
// Alertmanager is stopped before a breach, the watcher rolls blue back (and
// verifies it on the API server) while its posts are refused, keeps the
// rollback alert pending (bluegreen_guard_watcher_alerts_undelivered > 0), and
// delivers it once Alertmanager is started again on the same port, which
// remembers nothing of before: the alert it lists is the watcher's re-send.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ROLLBACK_REASON, ROLLED_BACK_AT } from '../../src/istio/annotations.js';
import { injectFaultAndAwaitRollback, type RollbackTiming } from '../support/rollback-timing.js';
import { primaryWeightsOf, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

const UNDELIVERED = 'bluegreen_guard_watcher_alerts_undelivered';
const POST_FAILURES = 'bluegreen_guard_watcher_alert_post_failures_total';

let stage: Stage;
let scene: Scene;
let timing: RollbackTiming;

beforeAll(async () => {
  // Recovery judging off: a recovery verdict would resolve the pending rollback
  // alert (a newer version of the same alert) before Alertmanager is back, and
  // Alertmanager lists no resolved alert. The rollback alert stays active for
  // max(3 cycles, 60 s) after the rollback, so Alertmanager comes back well within that.
  stage = await startStage({ watchers: 1, watcherConfig: { recovery: { enabled: false } } });
  scene = await stage.seed({ namespacePrefix: 'am-outage' });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

const rollbackAlert = async () => (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardRolledBack' && a.labels.namespace === scene.namespace);

async function alertmanagerAnswers(): Promise<boolean> {
  try {
    await (await fetch(`${stage.alertmanager.url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

describe('a rollback while Alertmanager is down', () => {
  it('the cutover is admitted and served; nothing is undelivered yet', async () => {
    await scene.cutOver();
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, {
      timeoutMs: 30_000,
      description: "Prometheus holding blue's requests",
    });
    expect(await stage.metric('watcher-0', UNDELIVERED)).toBe(0);
  }, 120_000);

  it('with Alertmanager stopped, the watcher still rolls back to green 100 % and verifies it on the API server', async () => {
    await stage.alertmanager.halt();
    expect(await alertmanagerAnswers()).toBe(false);
    timing = await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    const vs = await scene.readVirtualService();
    expect(primaryWeightsOf(vs)).toEqual({ green: 100, blue: 0 });
    expect(vs.metadata.annotations?.[ROLLBACK_REASON]).toMatch(/error-rate/);
    expect(Date.parse(vs.metadata.annotations?.[ROLLED_BACK_AT] ?? '')).toBeGreaterThanOrEqual(timing.faultAtMs);
    await waitUntil(async () => (await scene.events()).some((e) => e.reason === 'RolledBack'), { timeoutMs: 15_000, description: 'the RolledBack Event' });
  }, 240_000);

  it('the rollback alert is kept: bluegreen_guard_watcher_alerts_undelivered > 0, and the failed posts are counted', async () => {
    const undelivered = await waitUntil(
      async () => {
        const n = await stage.metric('watcher-0', UNDELIVERED);
        return n > 0 ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: `${UNDELIVERED} > 0 on watcher-0` },
    );
    expect(undelivered).toBeGreaterThan(0);
    expect(await stage.metric('watcher-0', POST_FAILURES)).toBeGreaterThan(0);
    expect(await alertmanagerAnswers()).toBe(false);
  });

  it('Alertmanager started again on the same port lists the rollback alert, and nothing is left undelivered', async () => {
    const url = stage.alertmanager.url;
    await stage.alertmanager.resume();
    const backAtMs = Date.now();
    expect(stage.alertmanager.url).toBe(url);
    // Backoff is capped at 30 s (the retrying sink's default): the re-send comes within that and a cycle.
    const alert = await waitUntil(rollbackAlert, { timeoutMs: 90_000, intervalMs: 250, description: 'BlueGreenGuardRolledBack listed by the restarted Alertmanager' });
    expect(alert.labels).toMatchObject({ service: scene.service, reason: 'error-rate', version: 'v2', virtualservice: scene.service });
    expect(alert.annotations.patch_result).toMatch(/^patched and verified/);
    expect(alert.status.state).toBe('active');
    expect(Date.parse(alert.startsAt)).toBeGreaterThanOrEqual(timing.faultAtMs);
    expect(Date.parse(alert.startsAt)).toBeLessThanOrEqual(timing.patchVerifiedAtMs + 5_000);
    const listedAtMs = Date.now();
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `[alertmanager outage] rollback verified → Alertmanager back ${s(backAtMs - timing.patchVerifiedAtMs)} → alert listed ${s(listedAtMs - backAtMs)} later; the alert ends ${s(Date.parse(alert.endsAt) - timing.patchVerifiedAtMs)} after the rollback`,
    );
    await waitUntil(async () => (await stage.metric('watcher-0', UNDELIVERED)) === 0, { timeoutMs: 30_000, intervalMs: 250, description: `${UNDELIVERED} back to 0 on watcher-0` });
  }, 150_000);
});
