// Acceptance 2: the runbook's Rollback Procedure done by the watcher, through
// the whole loop. The seed's cutover is applied with kubectl (and admitted by
// the webhook); the mesh simulator sends the service's traffic to blue; a
// fault (20 % 5xx) is injected into v2; real Prometheus scrapes the simulator's
// Istio metrics; the watcher process (bin/bluegreen-guard watcher, the chart's
// config with windows a tenth as long, the chart's ServiceAccount and RBAC)
// sees the breach and patches the VirtualService back to green 100 %.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { PREVIOUS_WEIGHTS, ROLLBACK_REASON, ROLLED_BACK_AT } from '../../src/istio/annotations.js';
import { describeTiming, errorRateCondition, injectFaultAndAwaitRollback, type RollbackTiming } from '../support/rollback-timing.js';
import { occurrences, primaryWeightsOf, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import type { KubeObject } from '../support/kube-api.js';
import { waitUntil } from '../support/wait-until.js';

// Generous: the machine may be loaded; every wait inside is on a condition.
jest.setTimeout(180_000);

let stage: Stage;
let scene: Scene;
let beforeFault: KubeObject;
let timing: RollbackTiming;

beforeAll(async () => {
  stage = await startStage({ watchers: 1 });
  scene = await stage.seed({ namespacePrefix: 'shop' });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

/** The object without what a rollback may change: weights and bluegreen-guard.io/ annotations. */
function untouchable(vs: KubeObject): unknown {
  const spec = JSON.parse(JSON.stringify(vs.spec), (key, value: unknown) => (key === 'weight' ? undefined : value)) as unknown;
  const annotations = Object.fromEntries(Object.entries(vs.metadata.annotations ?? {}).filter(([k]) => !k.startsWith('bluegreen-guard.io/')));
  return { spec, labels: vs.metadata.labels, annotations, generateName: vs.metadata.generateName, uid: vs.metadata.uid };
}

describe('Rollback Procedure, done by the watcher: a 5xx spike on blue sends traffic back to green', () => {
  it('Deployment Procedure steps 1-3: the cutover is admitted and the traffic moves to blue', async () => {
    await scene.cutOver();
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    // Prometheus has scraped blue's healthy traffic: the watcher judges it from here on.
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, {
      timeoutMs: 30_000,
      description: 'Prometheus holding blue\'s requests',
    });
    beforeFault = await scene.readVirtualService();
    expect(primaryWeightsOf(beforeFault)).toEqual({ green: 0, blue: 100 });
  }, 120_000);

  it('"HTTP 5xx rate ≥ 5% sustained": a fault in v2 makes the watcher patch the VirtualService back to green 100 % (Revert Traffic to Green)', async () => {
    timing = await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    console.log(`[automatic rollback] ${describeTiming(timing)}`);
    expect(primaryWeightsOf(timing.rolledBack)).toEqual({ green: 100, blue: 0 });
    // The rollback waited for the condition: it did not come before the condition held in Prometheus.
    expect(timing.breachConditionTrueAtMs).toBeDefined();
    expect(timing.patchVerifiedAtMs).toBeGreaterThanOrEqual(timing.breachConditionTrueAtMs! - 2_000);
    // "Sustained": the condition cannot hold before a whole window of the fault has passed.
    expect(timing.breachConditionTrueAtMs! - timing.faultAtMs).toBeGreaterThanOrEqual(errorRateCondition(stage).windowSeconds * 1000);
  }, 240_000);

  it('"Verify Rollback Success": only the weights changed; the other fields, labels and annotations are as the team applied them', async () => {
    const after = await scene.readVirtualService();
    expect(primaryWeightsOf(after)).toEqual({ green: 100, blue: 0 });
    expect(untouchable(after)).toEqual(untouchable(beforeFault));
  });

  it('records why on the object: annotations with the time, the reason and the previous weights, and a RolledBack Event', async () => {
    const annotations = timing.rolledBack.metadata.annotations ?? {};
    expect(Date.parse(annotations[ROLLED_BACK_AT] ?? '')).toBeGreaterThanOrEqual(timing.faultAtMs);
    expect(annotations[ROLLBACK_REASON]).toMatch(/error-rate/);
    expect(JSON.stringify(JSON.parse(annotations[PREVIOUS_WEIGHTS] ?? '{}'))).toMatch(/"blue":100/);
    const events = await waitUntil(
      async () => {
        const rolledBack = (await scene.events()).filter((e) => e.reason === 'RolledBack');
        return rolledBack.length > 0 ? rolledBack : undefined;
      },
      { timeoutMs: 10_000, description: 'the RolledBack Event' },
    );
    expect(events).toHaveLength(1);
    expect(occurrences(events[0]!)).toBe(1);
    expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { uid: timing.rolledBack.metadata.uid } });
  });

  it('tells on-call through Alertmanager: the rollback alert is listed by its API with the measured 5xx ratio', async () => {
    const alert = await waitUntil(
      async () => (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardRolledBack' && a.labels.namespace === scene.namespace),
      { timeoutMs: 15_000, description: 'BlueGreenGuardRolledBack listed by Alertmanager' },
    );
    expect(alert.labels).toMatchObject({ service: scene.service, reason: 'error-rate', version: 'v2', virtualservice: scene.service });
    expect(alert.annotations.patch_result).toMatch(/^patched and verified/);
    expect(Number(alert.annotations.value)).toBeGreaterThanOrEqual(0.05);
  });

  it('"Monitor Recovery": the mesh sends every request to v1 again and blue gets none', async () => {
    const share = scene.mesh!.trafficShare();
    expect({ v1: share.v1, v2: share.v2 ?? 0 }).toEqual({ v1: 1, v2: 0 });
    const before = scene.mesh!.served();
    // Another 50 requests (a second of traffic), all of them to v1.
    await waitUntil(() => scene.mesh!.served().v1!.requests >= before.v1!.requests + 50, { timeoutMs: 15_000, description: '50 more requests served by v1' });
    const later = scene.mesh!.served().v2!.requests;
    expect(later).toBe(before.v2!.requests);
  });
});
