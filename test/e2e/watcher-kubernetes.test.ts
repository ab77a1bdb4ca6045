// The watcher's Kubernetes adapters against a real kube-apiserver with Istio's
// CRDs: the seed's "Revert Traffic to Green" and "Verify Rollback Success" as a
// JSON Patch the API server applies, a concurrent writer that makes the first
// attempt stale (422 from the `test` op, 409 from a stale resourceVersion), an
// Event on the VirtualService, the promotion label (seed step 7), and leader
// election over a coordination.k8s.io/v1 Lease with MicroTime timestamps.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { KubernetesDeploymentPromoter } from '../../src/cluster/deployment-labeler.js';
import { KubernetesEventRecorder } from '../../src/cluster/events.js';
import { KubernetesLeaseStore } from '../../src/cluster/kubernetes-lease-store.js';
import { KubernetesVirtualServiceStore } from '../../src/cluster/kubernetes-virtual-service-store.js';
import { LeaseElector } from '../../src/cluster/lease-elector.js';
import { VirtualServicePatcher } from '../../src/watcher/virtual-service-patcher.js';
import { WriteConflict } from '../../src/watcher/virtual-service-store.js';
import { DEFAULT_MESH } from '../../src/istio/mesh.js';
import { PREVIOUS_WEIGHTS, ROLLBACK_REASON, ROLLED_BACK_AT } from '../../src/istio/annotations.js';
import type { VirtualService } from '../../src/istio/types.js';
import { routesOf, subsetShare } from '../../src/istio/routes.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { PATCH, type KubeObject } from '../support/kube-api.js';
import { waitUntil } from '../support/wait-until.js';
import { createService, createWorkload } from '../support/workloads.js';
import { loadVirtualService } from '../unit/watcher/support/fixtures.js';

const VS_API = 'networking.istio.io/v1';

let cp: ControlPlane;
let kc: KubeConfig;

beforeAll(async () => {
  cp = await startControlPlane();
  kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
}, 120_000);

afterAll(async () => {
  await cp?.stop();
});

/** The fixture as a user would apply it: no server-set metadata. */
async function createFixture(file: string, namespace: string): Promise<KubeObject> {
  const vs = loadVirtualService(file);
  const { name, labels, annotations } = vs.metadata;
  const annotationsWithoutState = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => !k.startsWith('kubectl.')));
  return cp.api.create({ apiVersion: VS_API, kind: 'VirtualService', metadata: { name, namespace, labels, annotations: annotationsWithoutState }, spec: vs.spec });
}

function specWithoutWeights(spec: unknown): unknown {
  return JSON.parse(JSON.stringify(spec), (key, value: unknown) => (key === 'weight' ? undefined : value));
}

const request = (at: Date) => ({ roles: { stableSubset: 'green' }, reason: 'error-rate: 5xx ratio 20% ≥ 5% sustained over 120 s', at });

describe('rollback patch against the API server (seed: Revert Traffic to Green, Verify Rollback Success)', () => {
  it('rolls a realistic VirtualService back to green 100 %, changing only weights and its own annotations', async () => {
    const ns = await cp.newNamespace('rollback');
    const created = await createFixture('reviews-full-cutover.yaml', ns);
    const store = new KubernetesVirtualServiceStore(kc.makeApiClient(CustomObjectsApi));
    const seen = await store.get(ns, 'reviews');
    const at = new Date();
    const result = await new VirtualServicePatcher(store, { mesh: DEFAULT_MESH }).rollBack(seen, request(at));
    expect(result).toMatchObject({ outcome: 'rolled-back', conflicts: 0 });

    const after = await cp.api.read<KubeObject & VirtualService>(VS_API, 'VirtualService', ns, 'reviews');
    expect(routesOf(after, 'cluster.local').filter((r) => r.destinations.some((d) => d.subset)).map((r) => subsetShare(r, 'green'))).toEqual([100, 100, 100]);
    expect(specWithoutWeights(after.spec)).toEqual(specWithoutWeights(created.spec));
    expect(after.metadata.annotations).toMatchObject({ [ROLLED_BACK_AT]: at.toISOString(), [ROLLBACK_REASON]: request(at).reason });
    expect(JSON.parse(after.metadata.annotations?.[PREVIOUS_WEIGHTS] ?? '{}')).toMatchObject({ 'http[3] "default"': { green: 0, blue: 100 } });
    expect(after.metadata.labels).toEqual(created.metadata.labels);
  });

  it('retries after another writer made its read stale (422 from the test op) without losing that writer\'s change', async () => {
    const ns = await cp.newNamespace('stale');
    await createFixture('reviews-full-cutover.yaml', ns);
    const store = new KubernetesVirtualServiceStore(kc.makeApiClient(CustomObjectsApi));
    const seen = await store.get(ns, 'reviews');
    // Between the watcher's read and its write, someone raises a timeout.
    await cp.api.patch({ apiVersion: VS_API, kind: 'VirtualService', metadata: { namespace: ns, name: 'reviews' } }, [{ op: 'replace', path: '/spec/http/0/timeout', value: '7s' }], PATCH.json);

    const result = await new VirtualServicePatcher(store, { mesh: DEFAULT_MESH }).rollBack(seen, request(new Date()));
    expect(result).toMatchObject({ outcome: 'rolled-back', conflicts: 1 });
    const after = await cp.api.read<KubeObject & VirtualService>(VS_API, 'VirtualService', ns, 'reviews');
    expect(after.spec.http?.[0]?.timeout).toBe('7s');
    expect(subsetShare(routesOf(after, 'cluster.local')[0]!, 'green')).toBe(100);
  });

  it('classifies the API server\'s refusals of a stale write: 422 for a failed test, 409 for a stale resourceVersion', async () => {
    const ns = await cp.newNamespace('refusals');
    await createFixture('checkout-partial-canary.yaml', ns);
    const store = new KubernetesVirtualServiceStore(kc.makeApiClient(CustomObjectsApi));
    const old = await store.get(ns, 'checkout');
    await store.patch(ns, 'checkout', [{ op: 'replace', path: '/spec/http/2/timeout', value: '3s' }]);

    const failedTest = store.patch(ns, 'checkout', [{ op: 'test', path: '/metadata/resourceVersion', value: old.metadata.resourceVersion }]);
    await expect(failedTest).rejects.toBeInstanceOf(WriteConflict);
    await expect(failedTest).rejects.toMatchObject({ status: 422 });

    const staleVersion = store.patch(ns, 'checkout', [{ op: 'replace', path: '/metadata/resourceVersion', value: old.metadata.resourceVersion }]);
    await expect(staleVersion).rejects.toMatchObject({ status: 409 });
  });

  it('does nothing to an object someone already rolled back since the watcher read it', async () => {
    const ns = await cp.newNamespace('already');
    await createFixture('checkout-partial-canary.yaml', ns);
    const store = new KubernetesVirtualServiceStore(kc.makeApiClient(CustomObjectsApi));
    const seen = await store.get(ns, 'checkout');
    const manual = await cp.api.patch(
      { apiVersion: VS_API, kind: 'VirtualService', metadata: { namespace: ns, name: 'checkout' } },
      [
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 100 },
        { op: 'replace', path: '/spec/http/0/route/1/weight', value: 0 },
        { op: 'replace', path: '/spec/http/2/route/0/weight', value: 100 },
        { op: 'replace', path: '/spec/http/2/route/1/weight', value: 0 },
      ],
      PATCH.json,
    );
    expect(await new VirtualServicePatcher(store, { mesh: DEFAULT_MESH }).rollBack(seen, request(new Date()))).toEqual({ outcome: 'already-rolled-back', conflicts: 1 });
    const after = await cp.api.read(VS_API, 'VirtualService', ns, 'checkout');
    expect(after.metadata.resourceVersion).toBe(manual.metadata.resourceVersion);
  });
});

describe('Events and the promotion label', () => {
  it('records a RolledBack Event on the VirtualService', async () => {
    const ns = await cp.newNamespace('events');
    await createFixture('reviews-rolled-back.yaml', ns);
    const vs = await new KubernetesVirtualServiceStore(kc.makeApiClient(CustomObjectsApi)).get(ns, 'reviews');
    await new KubernetesEventRecorder(kc.makeApiClient(CoreV1Api), 'watcher-0').record(vs, {
      type: 'Warning',
      reason: 'RolledBack',
      message: 'traffic back on green 100 %: error-rate breached',
      at: new Date(),
    });
    const events = await cp.kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=reviews,involvedObject.kind=VirtualService', '-o', 'json']);
    const items = (JSON.parse(events.stdout) as { items: { reason: string; type: string; message: string; involvedObject: { uid: string }; source: { component: string } }[] }).items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ reason: 'RolledBack', type: 'Warning', message: 'traffic back on green 100 %: error-rate breached', involvedObject: { uid: vs.metadata.uid }, source: { component: 'bluegreen-guard-watcher' } });
  });

  it('labels the candidate Deployment env=prod and no other (seed step 7)', async () => {
    const ns = await cp.newNamespace('promote');
    await createService(cp.api, ns, 'reviews');
    await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v1' });
    await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v2' });
    const promoter = new KubernetesDeploymentPromoter(kc.makeApiClient(CoreV1Api), kc.makeApiClient(AppsV1Api));
    const label = { key: 'env', value: 'prod' };
    expect(await promoter.promote({ namespace: ns, service: 'reviews', subsetLabels: { version: 'v2' } }, label)).toEqual({ outcome: 'labelled', deployment: 'reviews-v2' });
    const v2 = await cp.api.read('apps/v1', 'Deployment', ns, 'reviews-v2');
    const v1 = await cp.api.read('apps/v1', 'Deployment', ns, 'reviews-v1');
    expect(v2.metadata.labels?.env).toBe('prod');
    expect(v1.metadata.labels?.env).toBeUndefined();
    expect(await promoter.promote({ namespace: ns, service: 'reviews', subsetLabels: { version: 'v2' } }, label)).toEqual({ outcome: 'already-labelled', deployment: 'reviews-v2' });
    const none = await promoter.promote({ namespace: ns, service: 'reviews', subsetLabels: { version: 'v9' } }, label);
    expect(none.outcome === 'failed' && none.error).toMatch(/expected exactly one Deployment in .* whose pods carry app=reviews,version=v9, found 0/);
  });
});

describe('leader election over a Lease', () => {
  const electors: LeaseElector[] = [];
  afterAll(async () => {
    for (const e of electors) await e.stop();
  });

  it('elects exactly one of two replicas, writes MicroTime the API server accepts, and hands over on release', async () => {
    const ns = await cp.newNamespace('lease');
    const store = new KubernetesLeaseStore(kc.makeApiClient(CoordinationV1Api), ns, 'bluegreen-guard-watcher');
    const make = (identity: string) => {
      const e = new LeaseElector(store, { identity, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 250, clock: { now: () => new Date() } });
      electors.push(e);
      return e;
    };
    const a = make('watcher-a');
    const b = make('watcher-b');
    a.start();
    await waitUntil(() => a.isLeader(), { timeoutMs: 10_000, description: 'watcher-a leading' });
    b.start();
    const lease = await waitUntil(
      async () => {
        const l = await cp.api.read<KubeObject & { spec: { holderIdentity: string; renewTime: string } }>('coordination.k8s.io/v1', 'Lease', ns, 'bluegreen-guard-watcher');
        return l.spec.holderIdentity === 'watcher-a' && l.metadata.resourceVersion !== undefined && Number(l.metadata.resourceVersion) > 0 ? l : undefined;
      },
      { timeoutMs: 5_000, description: 'the Lease held by watcher-a' },
    );
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // b keeps trying for several renew periods and never leads while a renews.
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      expect(a.isLeader() && b.isLeader()).toBe(false);
      expect(b.isLeader()).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
    }
    const released = Date.now();
    await a.stop();
    expect(a.isLeader()).toBe(false);
    await waitUntil(() => b.isLeader(), { timeoutMs: 4_000, description: 'watcher-b leading after watcher-a released the Lease' });
    const handoverMs = Date.now() - released;
    expect(handoverMs).toBeLessThan(4_000);
    const after = await cp.api.read<KubeObject & { spec: { holderIdentity: string; leaseTransitions: number } }>('coordination.k8s.io/v1', 'Lease', ns, 'bluegreen-guard-watcher');
    expect(after.spec).toMatchObject({ holderIdentity: 'watcher-b', leaseTransitions: 1 });
  }, 30_000);

  it('a standby takes over within the lease duration when the leader stops renewing without releasing', async () => {
    const ns = await cp.newNamespace('lease-expiry');
    const store = new KubernetesLeaseStore(kc.makeApiClient(CoordinationV1Api), ns, 'watcher');
    const opts = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250, clock: { now: () => new Date() } };
    const a = new LeaseElector(store, { ...opts, identity: 'a' });
    await a.tick();
    expect(a.isLeader()).toBe(true);
    const b = new LeaseElector(store, { ...opts, identity: 'b' });
    electors.push(b);
    const from = Date.now();
    b.start();
    await waitUntil(() => b.isLeader(), { timeoutMs: 6_000, description: 'b taking over an expired lease' });
    expect(a.isLeader()).toBe(false);
    expect(Date.now() - from).toBeGreaterThanOrEqual(2_900);
  }, 20_000);
});
