// keep-previous on the real API server, through the chart's webhook entry for
// Deployment updates, deletes and the deployments/scale subresource: once the
// cutover to v2 is at full traffic (the state the watcher records), v1 (the
// rollback target) can be scaled up but not down (kubectl scale, or an edit
// of spec.replicas) nor deleted.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { FULL_TRAFFIC_AT } from '../../src/istio/annotations.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(180_000);

let stage: Stage;
let scene: Scene;

beforeAll(async () => {
  // No watcher: the state it would record at full traffic is written below, so the test does not wait on a hold.
  stage = await startStage({ watchers: 0 });
  scene = await stage.seed({ namespacePrefix: 'keep', traffic: false });
  await scene.cutOver();
  // What the watcher records once the stable subset gets no traffic: the hold begins, green is the rollback target.
  const r = await stage.cp.kubectl(['annotate', 'virtualservice', scene.service, '-n', scene.namespace, `${FULL_TRAFFIC_AT}=${new Date().toISOString()}`]);
  if (r.code !== 0) throw new Error(`recording full traffic failed: ${r.stderr}`);
  // The webhook's cache sees the annotation a moment later.
  await waitUntil(async () => (await stage.cp.kubectl(['scale', 'deployment', scene.v1.name, '-n', scene.namespace, '--replicas=0', '--dry-run=server'])).code !== 0, {
    timeoutMs: 30_000,
    intervalMs: 250,
    description: 'the webhook refusing a dry-run scale-down of v1',
  });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

describe('keep-previous: the previous version stays up after the cutover', () => {
  it('refuses kubectl scale --replicas=0 of v1 (the deployments/scale subresource), with the reason', async () => {
    const r = await stage.cp.kubectl(['scale', 'deployment', scene.v1.name, '-n', scene.namespace, '--replicas=0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[keep-previous]');
    expect(r.stderr).toContain(`Deployment ${scene.namespace}/${scene.v1.name} runs subset green, the rollback target of VirtualService ${scene.namespace}/${scene.service}`);
    expect(r.stderr).toContain('scales it from 2 to 0 replicas (scale subresource)');
  });

  it('refuses lowering spec.replicas with a patch, and deleting the Deployment', async () => {
    const patch = await stage.cp.kubectl(['patch', 'deployment', scene.v1.name, '-n', scene.namespace, '--type=merge', '-p', '{"spec":{"replicas":1}}']);
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toContain('scales it from 2 to 1 replica');
    const del = await stage.cp.kubectl(['delete', 'deployment', scene.v1.name, '-n', scene.namespace, '--wait=false']);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('This change deletes it');
    const still = await stage.cp.api.read('apps/v1', 'Deployment', scene.namespace, scene.v1.name);
    expect((still.spec as { replicas: number }).replicas).toBe(2);
  });

  it('admits scaling v1 up, and scaling v2 (not a rollback target) down', async () => {
    const up = await stage.cp.kubectl(['scale', 'deployment', scene.v1.name, '-n', scene.namespace, '--replicas=3']);
    expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: '' });
    const v2down = await stage.cp.kubectl(['scale', 'deployment', scene.v2!.name, '-n', scene.namespace, '--replicas=1']);
    expect(v2down.stderr).not.toContain('[keep-previous]');
    expect(v2down.code).toBe(0);
  });
});
