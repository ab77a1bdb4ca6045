// Acceptance 4: two watcher processes (bin/bluegreen-guard watcher, the
// chart's ServiceAccount, its Lease in the release namespace) share a
// coordination.k8s.io Lease. Only the holder acts on a breach, so the seed's
// "Revert Traffic to Green" happens exactly once; a leader that is stopped
// hands over within the lease duration, a leader that crashes within the lease
// duration plus one retry, and the new leader rolls the next bad cutover back.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ROLLED_BACK_AT } from '../../src/istio/annotations.js';
import type { ProductProcess } from '../support/product-process.js';
import { describeTiming, errorRateCondition, injectFaultAndAwaitRollback, waitForCleanWindow } from '../support/rollback-timing.js';
import { occurrences, primaryWeightsOf, type KubeEvent, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

let stage: Stage;
let scene: Scene;
let lease: { durationMs: number; retryMs: number };

beforeAll(async () => {
  stage = await startStage({ watchers: 2 });
  scene = await stage.seed({ namespacePrefix: 'ha' });
  const config = stage.watcherConfigs[0]?.lease as { durationSeconds: number; retryPeriodSeconds: number };
  lease = { durationMs: config.durationSeconds * 1000, retryMs: config.retryPeriodSeconds * 1000 };
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

const ROLLBACKS = 'bluegreen_guard_watcher_rollbacks_total';

function condition() {
  return errorRateCondition(stage);
}

async function leaderNow(): Promise<ProductProcess> {
  return waitUntil(() => stage.leader(), { timeoutMs: 30_000, description: 'a watcher holding the Lease' });
}

/** A watcher other than `than` holds the Lease; resolves with it and how long after `sinceMs` that was first seen. */
async function newLeader(than: ProductProcess, sinceMs: number, timeoutMs: number): Promise<{ leader: ProductProcess; afterMs: number }> {
  const leader = await waitUntil(
    async () => {
      const now = await stage.leader();
      return now && now !== than ? now : undefined;
    },
    { timeoutMs, intervalMs: 50, description: `a watcher other than ${than.name} holding the Lease` },
  );
  return { leader, afterMs: Date.now() - sinceMs };
}

async function rolledBackEvents(): Promise<KubeEvent[]> {
  return (await scene.events()).filter((e) => e.reason === 'RolledBack');
}

/** Blue fixed, the old errors out of the watcher's window, then the seed's cutover again. */
/**
 * The rollback latched v2's revision, so the next cutover is of a fixed v2 (a new pod template),
 * as a team would do it after a rollback.
 */
async function cutOverAgain(): Promise<void> {
  scene.mesh!.setBehaviour('v2', { errorRatio: 0 });
  await scene.rollOutV2('example.com/reviews:v2-fixed');
  await waitForCleanWindow(stage, scene);
  await scene.mustApply('VirtualService blue=0', scene.virtualService({ green: 100, blue: 0 }));
  // The webhook's pod cache sees the new revision's pods a moment later: wait on a server-side dry run.
  const fullSwitch = scene.virtualService({ green: 0, blue: 100 });
  await waitUntil(async () => (await scene.apply(fullSwitch, { dryRun: true })).code === 0, { timeoutMs: 30_000, intervalMs: 250, description: 'the webhook admitting the new v2 revision (dry run)' });
  await scene.mustApply('VirtualService blue=100', fullSwitch);
  await scene.mesh!.waitForShare('v2', 1, 30_000);
}

describe('two watcher replicas share one Lease', () => {
  let first: ProductProcess;
  let second: ProductProcess;

  it('only the Lease holder acts: the 5xx breach is rolled back exactly once, by the leader', async () => {
    first = await leaderNow();
    second = stage.watchers.find((w) => w !== first)!;
    expect(await stage.metric(first.name, 'bluegreen_guard_watcher_leader')).toBe(1);
    expect(await stage.metric(second.name, 'bluegreen_guard_watcher_leader')).toBe(0);

    await scene.cutOver();
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    const timing = await injectFaultAndAwaitRollback(stage, scene);
    console.log(`[leader election, rollback by ${first.name}] ${describeTiming(timing)}`);

    // Three more cycles of the leader: time for a second rollback, by anyone, to show up.
    const cycles = await stage.metric(first.name, 'bluegreen_guard_watcher_cycle_duration_seconds_count');
    await waitUntil(async () => (await stage.metric(first.name, 'bluegreen_guard_watcher_cycle_duration_seconds_count')) >= cycles + 3, {
      timeoutMs: 30_000,
      description: `three more cycles of ${first.name}`,
    });
    expect(await stage.metric(second.name, 'bluegreen_guard_watcher_leader')).toBe(0);
    const events = await waitUntil(async () => ((await rolledBackEvents()).length > 0 ? rolledBackEvents() : undefined), { timeoutMs: 10_000, description: 'the RolledBack Event' });
    expect(events.map((e) => ({ occurrences: occurrences(e), by: e.reportingInstance }))).toEqual([{ occurrences: 1, by: first.name }]);
    expect(await stage.metric(first.name, ROLLBACKS, { outcome: 'rolled-back' })).toBe(1);
    expect(await stage.metric(second.name, ROLLBACKS, { outcome: 'rolled-back' })).toBe(0);
    const alerts = (await stage.alerts()).filter((a) => a.labels.alertname === 'BlueGreenGuardRolledBack' && a.labels.namespace === scene.namespace);
    expect(alerts).toHaveLength(1);
    expect(primaryWeightsOf(await scene.readVirtualService())).toEqual({ green: 100, blue: 0 });
  });

  it('a leader that is stopped (SIGTERM, the Lease released) hands over within the lease duration, and the new leader rolls back the next bad cutover', async () => {
    const stoppedAt = Date.now();
    await first.stop();
    const { leader, afterMs } = await newLeader(first, stoppedAt, lease.durationMs + 10_000);
    console.log(`[leader election] ${first.name} stopped → ${leader.name} leading after ${afterMs} ms (lease duration ${lease.durationMs} ms)`);
    expect(leader).toBe(second);
    expect(afterMs).toBeLessThan(lease.durationMs);

    await cutOverAgain();
    const timing = await injectFaultAndAwaitRollback(stage, scene);
    console.log(`[leader election, rollback by ${second.name}] ${describeTiming(timing)}`);
    expect(timing.breachConditionTrueAtMs).toBeDefined();
    expect(timing.patchVerifiedAtMs).toBeGreaterThanOrEqual(timing.breachConditionTrueAtMs! - 2_000);
    expect(timing.breachConditionTrueAtMs! - timing.faultAtMs).toBeGreaterThanOrEqual(condition().windowSeconds * 1000);
    expect(Date.parse(timing.rolledBack.metadata.annotations?.[ROLLED_BACK_AT] ?? '')).toBeGreaterThanOrEqual(timing.faultAtMs);
    const events = await waitUntil(async () => ((await rolledBackEvents()).length >= 2 ? rolledBackEvents() : undefined), { timeoutMs: 10_000, description: 'the second RolledBack Event' });
    expect(events.map((e) => ({ occurrences: occurrences(e), by: e.reportingInstance }))).toEqual([
      { occurrences: 1, by: first.name },
      { occurrences: 1, by: second.name },
    ]);
    expect(await stage.metric(second.name, ROLLBACKS, { outcome: 'rolled-back' })).toBe(1);
  });

  it('a leader that crashes (SIGKILL, the Lease not released) is replaced within the lease duration plus one retry period', async () => {
    first.restart();
    await waitUntil(async () => (await fetch(`http://${stage.metricsTargetOf(first.name)}/ready`).then((r) => r.ok).catch(() => false)) || undefined, {
      timeoutMs: 60_000,
      description: `${first.name} ready again`,
    });
    expect((await stage.leader())?.name).toBe(second.name);
    const killedAt = Date.now();
    await second.kill();
    const { leader, afterMs } = await newLeader(second, killedAt, lease.durationMs + lease.retryMs + 10_000);
    console.log(`[leader election] ${second.name} killed → ${leader.name} leading after ${afterMs} ms (lease duration ${lease.durationMs} ms, retry ${lease.retryMs} ms)`);
    expect(leader).toBe(first);
    expect(afterMs).toBeLessThanOrEqual(lease.durationMs + lease.retryMs + 1_000);
    expect(await stage.metric(first.name, 'bluegreen_guard_watcher_leader')).toBe(1);
  });
});
