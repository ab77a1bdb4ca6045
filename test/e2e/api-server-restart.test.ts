// Acceptance 5: the API server ends every watch (an upgrade, a crash: here
// kube-apiserver is stopped and started again mid-test). The webhook's caches
// and the watcher resume their watches by themselves: neither process is
// restarted, yet the webhook judges a DestinationRule and a Deployment created
// after the restart, and the watcher still rolls a bad cutover back.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { describeTiming, injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import type { Scene } from '../support/stage-scene.js';
import { primaryWeightsOf } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

let stage: Stage;
let scene: Scene;
let pids: Record<string, number>;

beforeAll(async () => {
  stage = await startStage({ watchers: 1 });
  // Green live, the DestinationRule knows only green, no v2 yet.
  scene = await stage.seed({ namespacePrefix: 'restart', v2: false });
  pids = { webhook: stage.webhook!.process.pid, watcher: stage.watchers[0]!.pid };
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

describe('a watch the API server ends is resumed, without restarting the webhook or the watcher', () => {
  it('before: a route to blue is refused, since the DestinationRule has no blue subset', async () => {
    const refused = await scene.apply(scene.virtualService({ green: 100, blue: 0 }), { dryRun: true });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('[subset-exists]');
  });

  it('the API server restarts: every watch ends, the data stays in etcd', async () => {
    const startedAt = Date.now();
    await stage.cp.restartApiServer();
    console.log(`[api server restart] kube-apiserver stopped and ready again in ${Date.now() - startedAt} ms`);
    expect(await scene.primaryWeights()).toEqual({ green: 100 });
  });

  it('the webhook\'s DestinationRule cache follows a change made after the restart: the route to blue is admitted', async () => {
    await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
    // The webhook admits the route only once its resumed watch has delivered the new subset.
    const since = Date.now();
    await waitUntil(async () => (await scene.apply(scene.virtualService({ green: 100, blue: 0 }), { dryRun: true })).code === 0, {
      timeoutMs: 90_000,
      intervalMs: 250,
      description: 'the webhook admitting a route to the new subset blue',
    });
    console.log(`[api server restart] webhook saw the new DestinationRule ${Date.now() - since} ms after it was applied`);
    await scene.mustApply('VirtualService blue=0', scene.virtualService({ green: 100, blue: 0 }));
  });

  it('the webhook\'s Deployment and Pod caches follow a v2 created after the restart: unready pods are refused, ready ones admitted', async () => {
    await scene.deployV2({ ready: false });
    // Pods the webhook never saw would be "selects no pods"; pods it saw unready are "not Ready".
    await waitUntil(
      async () => {
        const r = await scene.apply(scene.virtualService({ green: 0, blue: 100 }), { dryRun: true });
        return r.code === 1 && r.stderr.includes('[pods-ready]') && /is not Ready/.test(r.stderr) ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the webhook refusing the cutover because blue\'s pods are not Ready' },
    );
    await scene.setV2Ready(true);
    await scene.waitUntilScraped();
    await waitUntil(async () => (await scene.apply(scene.virtualService({ green: 0, blue: 100 }), { dryRun: true })).code === 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
      description: 'the webhook admitting the cutover once blue\'s pods are Ready',
    });
    await scene.mustApply('VirtualService blue=100', scene.virtualService({ green: 0, blue: 100 }));
    await scene.mesh!.waitForShare('v2', 1, 30_000);
  });

  it('the watcher, whose VirtualService watch was ended too, still rolls the 5xx spike back to green', async () => {
    const timing = await injectFaultAndAwaitRollback(stage, scene);
    console.log(`[api server restart] ${describeTiming(timing)}`);
    expect(primaryWeightsOf(timing.rolledBack)).toEqual({ green: 100, blue: 0 });
  });

  it('neither process was restarted', () => {
    expect({ webhook: stage.webhook!.process.pid, watcher: stage.watchers[0]!.pid }).toEqual(pids);
    expect(stage.webhook!.process.isRunning && stage.watchers[0]!.isRunning).toBe(true);
  });
});
