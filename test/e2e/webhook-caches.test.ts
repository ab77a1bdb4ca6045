// The webhook's watch caches and composition root against a real
// kube-apiserver: caches fill from real lists and watches, follow changes,
// come back after the API server restarts, follow namespace opt-in; the whole
// webhook, registered with the API server, refuses a bad `kubectl apply`.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ClusterCache, type CacheScope } from '../../src/cluster/cluster-cache.js';
import { loadKubeAccess } from '../../src/cluster/kube-access.js';
import { KubeListWatchClient } from '../../src/cluster/kube-list-watch-client.js';
import { MemoryClusterState } from '../../src/cluster/memory-cluster-state.js';
import { parseWebhookConfig } from '../../src/config/webhook-config.js';
import { startWebhook, type RunningWebhook } from '../../src/cli/webhook.js';
import { GUARD_LABEL } from '../../src/istio/annotations.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { PATCH, type KubeObject } from '../support/kube-api.js';
import { makeServingCertificate } from '../support/tls.js';
import { waitUntil } from '../support/wait-until.js';
import { createService, createWorkload } from '../support/workloads.js';

jest.setTimeout(120_000);

const silentLog = pino({ level: 'silent' });

function destinationRule(namespace: string, name = 'reviews'): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace },
    spec: {
      host: 'reviews',
      subsets: [
        { name: 'green', labels: { version: 'v1' } },
        { name: 'blue', labels: { version: 'v2' } },
      ],
    },
  };
}

function virtualServiceYaml(namespace: string, subsets: Record<string, number>): string {
  const routes = Object.entries(subsets)
    .map(([subset, weight]) => `    - destination: {host: reviews, subset: ${subset}}\n      weight: ${weight}`)
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${namespace}}
spec:
  hosts: [reviews]
  http:
  - route:
${routes}
`;
}

describe('webhook caches and composition against a real kube-apiserver', () => {
  let cp: ControlPlane;
  let client: KubeListWatchClient;
  const caches: ClusterCache[] = [];

  beforeAll(async () => {
    cp = await startControlPlane();
    client = new KubeListWatchClient(await loadKubeAccess(cp.kubeconfigPath, null));
  });

  afterAll(async () => {
    await Promise.all(caches.map((c) => c.stop()));
    await cp?.stop();
  });

  function startCache(scope: CacheScope, rootNamespace: string): { cache: ClusterCache; state: MemoryClusterState } {
    const state = new MemoryClusterState();
    const cache = new ClusterCache({
      client,
      sink: state,
      log: silentLog,
      scope,
      rootNamespace,
      tuning: { backoffInitialMs: 100, backoffMaxMs: 1000 },
    });
    caches.push(cache);
    cache.start();
    return { cache, state };
  }

  it('fills slim objects from lists and follows watch events, also across an API server restart', async () => {
    const ns = await cp.newNamespace('cache', { guard: true });
    const root = await cp.newNamespace('mesh-root');
    await createService(cp.api, ns, 'reviews');
    const green = await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v1', replicas: 2 });
    await cp.api.create(destinationRule(ns));
    await cp.api.create(destinationRule(root, 'mesh-wide'));

    const { cache, state } = startCache('cluster', root);
    await cache.synced();
    expect(cache.notReady()).toEqual([]);
    expect(state.namespace(ns)?.metadata.labels?.[GUARD_LABEL]).toBe('enabled');
    expect(state.service(ns, 'reviews')?.spec.selector).toEqual({ app: 'reviews' });
    expect(state.deployment(ns, green.name)?.status).toMatchObject({ replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    expect(state.deployment(ns, green.name)?.spec.containers.every((c) => c.hasReadinessProbe && c.hasLivenessProbe)).toBe(true);
    expect(state.replicaSet(ns, green.replicaSet.metadata.name)?.metadata.ownerReferences).toEqual([{ kind: 'Deployment', name: green.name, controller: true }]);
    expect(state.pods(ns).map((p) => [p.metadata.name, p.ready]).sort()).toEqual(green.pods.map((p) => [p.metadata.name, true]).sort());
    expect(state.destinationRules(ns).map((d) => d.spec.subsets?.map((s) => s.name))).toEqual([['green', 'blue']]);
    expect(state.destinationRules(root).map((d) => d.metadata.name)).toEqual(['mesh-wide']);

    // Changes arrive through the watches.
    await cp.api.create({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'reviews', namespace: ns },
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'green' }, weight: 100 }] }] },
    });
    await cp.api.remove('networking.istio.io/v1', 'DestinationRule', root, 'mesh-wide');
    await waitUntil(() => state.virtualServices().some((v) => v.metadata.namespace === ns) && state.destinationRules(root).length === 0, {
      timeoutMs: 10_000,
      description: 'the new VirtualService cached and the deleted DestinationRule gone',
    });

    // The API server goes away and comes back: every watch ends, the caches relist.
    const relistsBefore = cache.kinds().find((k) => k.kind === 'Pod')?.relists ?? 0;
    await cp.restartApiServer();
    const blue = await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v2', replicas: 1 });
    await cp.api.remove('v1', 'Pod', ns, green.pods[0]?.metadata.name ?? '');
    await waitUntil(
      () => {
        const names = state.pods(ns).map((p) => p.metadata.name);
        return names.includes(blue.pods[0]?.metadata.name ?? '?') && !names.includes(green.pods[0]?.metadata.name ?? '?');
      },
      { timeoutMs: 30_000, description: 'pod changes made after the restart cached' },
    );
    expect(cache.kinds().find((k) => k.kind === 'Pod')?.relists).toBeGreaterThan(relistsBefore);
    expect(cache.kinds().find((k) => k.kind === 'Pod')?.watchRestarts).toBeGreaterThan(0);
    expect(cache.notReady()).toEqual([]);
  });

  it('in guarded-namespaces scope caches only opted-in namespaces and the root namespace DestinationRules', async () => {
    const guarded = await cp.newNamespace('opted-in', { guard: true });
    const other = await cp.newNamespace('opted-out');
    const root = await cp.newNamespace('mesh-root');
    await createWorkload(cp.api, { namespace: guarded, app: 'reviews', version: 'v1', replicas: 1 });
    const later = await createWorkload(cp.api, { namespace: other, app: 'ratings', version: 'v1', replicas: 1 });
    await cp.api.create(destinationRule(root, 'mesh-wide'));

    const { cache, state } = startCache('guarded-namespaces', root);
    await cache.synced();
    expect(cache.watchedNamespaces()).toEqual(expect.arrayContaining([guarded, root]));
    expect(cache.watchedNamespaces()).not.toContain(other);
    expect(state.pods(guarded)).toHaveLength(1);
    expect(state.pods(other)).toHaveLength(0);
    expect(state.destinationRules(root)).toHaveLength(1);

    await cp.api.patch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: other } }, { metadata: { labels: { [GUARD_LABEL]: 'enabled' } } }, PATCH.merge);
    await waitUntil(() => state.pods(other).some((p) => p.metadata.name === later.pods[0]?.metadata.name), {
      timeoutMs: 10_000,
      description: 'pods of the namespace that opted in cached',
    });
    await cp.api.patch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: other } }, { metadata: { labels: { [GUARD_LABEL]: null } } }, PATCH.merge);
    await waitUntil(() => state.pods(other).length === 0 && !cache.watchedNamespaces().includes(other), {
      timeoutMs: 10_000,
      description: 'the namespace that opted out forgotten',
    });
  });

  describe('the whole webhook, called by the API server', () => {
    let webhook: RunningWebhook | undefined;
    let certDir: string;

    afterAll(async () => {
      await webhook?.stop({ graceSeconds: 0 });
      if (certDir) rmSync(certDir, { recursive: true, force: true });
    });

    it('is ready once synced, refuses a route to a missing subset and allows a good change', async () => {
      const ns = await cp.newNamespace('admission', { guard: true });
      await createService(cp.api, ns, 'reviews');
      await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v1' });
      await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v2' });
      await cp.api.create(destinationRule(ns));

      certDir = mkdtempSync(join(tmpdir(), 'bluegreen-guard-e2e-tls-'));
      const certs = makeServingCertificate(certDir);
      const config = parseWebhookConfig({
        admission: { host: '127.0.0.1', port: 0 },
        metrics: { host: '127.0.0.1', port: 0 },
        tls: { certFile: certs.certFile, keyFile: certs.keyFile },
        kubernetes: { kubeconfig: cp.kubeconfigPath },
        shutdownGraceSeconds: 0,
      });
      webhook = await startWebhook(config, { log: silentLog, client });
      const metricsPort = webhook.metricsAddress.port;
      await waitUntil(async () => (await httpGet(metricsPort, '/ready')).status === 200, { timeoutMs: 20_000, description: 'the webhook ready' });

      const registration = await cp.registerValidatingWebhook({ url: `https://127.0.0.1:${webhook.admissionAddress.port}/validate`, caBundlePem: certs.caPem });
      try {
        const bad = virtualServiceYaml(ns, { green: 90, purple: 10 });
        const refused = await waitUntil(
          async () => {
            const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: bad });
            return r.code !== 0 && r.stderr.includes('denied the request') ? r : undefined;
          },
          { timeoutMs: 20_000, description: 'the API server calling the webhook' },
        );
        expect(refused.stderr).toContain('[subset-exists]');
        expect(refused.stderr).toContain('purple');

        const good = await cp.kubectl(['apply', '-f', '-'], { stdin: virtualServiceYaml(ns, { green: 100, blue: 0 }) });
        expect(good.stderr).toBe('');
        expect(good.code).toBe(0);

        const metrics = (await httpGet(metricsPort, '/metrics')).body;
        expect(metrics).toMatch(/bluegreen_guard_admission_reviews_total\{rule="subset-exists",outcome="denied"\} [1-9]/);
        expect(metrics).toMatch(/bluegreen_guard_cache_synced\{kind="Pod"\} 1/);
      } finally {
        await registration.remove();
      }
    });
  });
});

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
