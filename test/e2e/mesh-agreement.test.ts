// The webhook and the watcher read one `mesh` section, written once by the
// chart. Here the chart is installed with `mesh.defaultStableSubset: blue` and
// the cluster domain `mesh.example`, and the routes name their host by its
// FQDN in that domain. Had either process kept its own defaults (green
// stable, cluster.local), the webhook would judge the wrong subset as the
// candidate and the watcher would find no service behind the host (so no
// metrics, no rollback). Both must agree: the webhook refuses a cutover to
// green while v2 is not Ready and admits it once it is; the watcher rolls the
// breached cutover back to blue, naming the route as the webhook does.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { PREVIOUS_WEIGHTS } from '../../src/istio/annotations.js';
import { injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import { primaryWeightsOf, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(180_000);

const MESH = { defaultStableSubset: 'blue', clusterDomain: 'mesh.example' };

let stage: Stage;
let scene: Scene;

beforeAll(async () => {
  stage = await startStage({ watchers: 1, mesh: MESH });
  scene = await stage.seed({ namespacePrefix: 'agree', fqdnHost: true, v2: { ready: false } });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

describe('webhook and watcher agree on the mesh the chart configures (stable subset blue, cluster domain mesh.example)', () => {
  it('the chart writes one mesh section into both processes\' config files', () => {
    expect(stage.chart.webhookConfig.mesh).toEqual(stage.chart.watcherConfig.mesh);
    expect(stage.chart.watcherConfig.mesh).toMatchObject(MESH);
    expect(scene).toMatchObject({ stableSubset: 'blue', candidateSubset: 'green', host: `reviews.${scene.namespace}.svc.mesh.example` });
  });

  it('the webhook judges green as the candidate: moving the traffic to green while v2 is not Ready is refused', async () => {
    await scene.mustApply('DestinationRule with blue and green', scene.destinationRule());
    await scene.mustApply('VirtualService blue=100 green=0', scene.virtualService({ blue: 100, green: 0 }));
    const refused = await scene.apply(scene.virtualService({ blue: 0, green: 100 }));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/\[pods-ready\]/);
    expect(refused.stderr).toMatch(/green/);
    // The FQDN in mesh.example resolves to the Service and its DestinationRule: no finding about the host or the subset.
    expect(refused.stderr).not.toMatch(/\[subset-exists\]|\[subset-selects-pods\]/);
    expect(primaryWeightsOf(await scene.readVirtualService())).toEqual({ blue: 100, green: 0 });
  }, 120_000);

  it('the same cutover is admitted once v2 is Ready and scraped, and the traffic moves to v2', async () => {
    await scene.setV2Ready(true);
    await scene.waitUntilScraped(60_000);
    await scene.mustApply('VirtualService blue=0 green=100', scene.virtualService({ blue: 0, green: 100 }));
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_service_name="reviews", destination_version="v2"})`)).length > 0, {
      timeoutMs: 30_000,
      description: "Prometheus holding v2's requests",
    });
  }, 120_000);

  it('the watcher finds the service behind the mesh.example host and rolls the breached cutover back to blue, naming the route as the webhook does', async () => {
    const timing = await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    expect(primaryWeightsOf(timing.rolledBack)).toEqual({ blue: 100, green: 0 });
    expect(JSON.parse(timing.rolledBack.metadata.annotations?.[PREVIOUS_WEIGHTS] ?? '{}')).toEqual({ 'http[1] "primary"': { blue: 0, green: 100 } });
    const event = await waitUntil(async () => (await scene.events()).find((e) => e.reason === 'RolledBack'), { timeoutMs: 10_000, description: 'the RolledBack Event' });
    expect(event.message).toContain('traffic back on blue 100 % and verified: http[1] "primary": blue 0, green 100 → blue 100, green 0');
    const alert = await waitUntil(
      async () => (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardRolledBack' && a.labels.namespace === scene.namespace),
      { timeoutMs: 15_000, description: 'BlueGreenGuardRolledBack listed by Alertmanager' },
    );
    expect(alert.labels).toMatchObject({ service: 'reviews', version: 'v2', reason: 'error-rate' });
  }, 240_000);
});
