// The test bed itself: a real kube-apiserver with Istio's CRDs behaves the way
// the webhook and the watcher rely on (schema validation, no strategic merge
// on custom resources, 409 on stale writes), and the mesh simulator follows a
// VirtualService's weights and exposes Istio's metrics.
import { createServer as createHttpsServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { KubeApiError, PATCH, type KubeObject } from '../support/kube-api.js';
import { makeServingCertificate } from '../support/tls.js';
import { MeshSimulator } from '../support/mesh-simulator.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { waitUntil } from '../support/wait-until.js';
import { createService, createWorkload, setWorkloadReady } from '../support/workloads.js';

const VS_API = 'networking.istio.io/v1';

function virtualService(namespace: string, greenWeight: number): KubeObject {
  return {
    apiVersion: VS_API,
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace },
    spec: {
      hosts: ['reviews'],
      http: [
        {
          route: [
            { destination: { host: 'reviews', subset: 'green' }, weight: greenWeight },
            { destination: { host: 'reviews', subset: 'blue' }, weight: 100 - greenWeight },
          ],
          timeout: '5s',
        },
      ],
    },
  };
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof KubeApiError) return error.status;
    throw error;
  }
}

interface PromVector {
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function promQuery(prom: RunningPrometheus, query: string): Promise<PromVector['data']['result']> {
  const response = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(query)}`);
  if (!response.ok) throw new Error(`Prometheus answered ${response.status} to ${query}: ${await response.text()}`);
  return ((await response.json()) as PromVector).data.result;
}

let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane();
}, 120_000);

afterAll(async () => {
  await cp?.stop();
});

describe('the real control plane', () => {
  it('is ready and reports the pinned Kubernetes version', async () => {
    const readyz = await cp.api.request('GET', '/readyz');
    expect(readyz.status).toBe(200);
    const version = await cp.api.call<{ gitVersion: string }>('GET', '/version');
    expect(version.gitVersion).toBe('v1.35.4');
  });

  it('serves Istio networking CRDs, Established, at v1, v1beta1 and v1alpha3', async () => {
    const crd = await cp.api.read<KubeObject & { spec: { versions: { name: string; served: boolean }[] } }>(
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
      undefined,
      'virtualservices.networking.istio.io',
    );
    expect(crd.spec.versions.filter((v) => v.served).map((v) => v.name).sort()).toEqual(['v1', 'v1alpha3', 'v1beta1']);
    const kubectl = await cp.kubectl(['get', 'crd', 'destinationrules.networking.istio.io', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
    expect(kubectl).toMatchObject({ code: 0, stdout: 'True' });
  });

  it('rejects a VirtualService that breaks Istio\'s schema and accepts a valid one', async () => {
    const ns = await cp.newNamespace('schema');
    const invalid = virtualService(ns, 100);
    (invalid.spec as { http: { route: { weight: unknown }[] }[] }).http[0]!.route[0]!.weight = 'all of it';
    const refused = await cp.api.request('POST', `/apis/${VS_API}/namespaces/${ns}/virtualservices`, { body: invalid });
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('spec.http[0].route[0].weight');

    const unknownField = await cp.api.request('POST', `/apis/${VS_API}/namespaces/${ns}/virtualservices`, {
      body: { ...virtualService(ns, 100), spec: { ...(virtualService(ns, 100).spec as object), hostz: ['reviews'] } },
      query: { fieldValidation: 'Strict' },
    });
    expect(unknownField.status).toBe(400);
    expect((unknownField.body as { message: string }).message).toContain('unknown field "spec.hostz"');

    const created = await cp.api.create(virtualService(ns, 100));
    expect(created.metadata.uid).toBeTruthy();
    const applied = await cp.kubectl(['apply', '-f', '-', '-o', 'name'], { stdin: JSON.stringify(virtualService(ns, 90)) });
    expect(applied).toMatchObject({ code: 0, stdout: 'virtualservice.networking.istio.io/reviews\n' });
  });

  it('refuses a strategic-merge patch on a custom resource (415) and applies a JSON Patch', async () => {
    const ns = await cp.newNamespace('patch');
    const vs = await cp.api.create(virtualService(ns, 100));
    const strategic = await cp.api.request('PATCH', `/apis/${VS_API}/namespaces/${ns}/virtualservices/reviews`, {
      body: { spec: { http: [{ route: [] }] } },
      contentType: PATCH.strategicMerge,
    });
    expect(strategic.status).toBe(415);

    const patched = await cp.api.patch(
      vs,
      [
        { op: 'test', path: '/metadata/resourceVersion', value: vs.metadata.resourceVersion },
        { op: 'replace', path: '/spec/http/0/route/0/weight', value: 0 },
        { op: 'replace', path: '/spec/http/0/route/1/weight', value: 100 },
      ],
      PATCH.json,
    );
    const route = (patched.spec as { http: { route: { weight: number }[]; timeout: string }[] }).http[0]!;
    expect(route.route.map((r) => r.weight)).toEqual([0, 100]);
    expect(route.timeout).toBe('5s');

    // The `test` op on a stale resourceVersion fails the whole patch.
    const stale = cp.api.patch(vs, [{ op: 'test', path: '/metadata/resourceVersion', value: vs.metadata.resourceVersion }], PATCH.json);
    expect(await statusOf(stale)).toBe(422);
  });

  it('answers 409 Conflict to an update carrying a stale resourceVersion', async () => {
    const ns = await cp.newNamespace('conflict');
    const original = await cp.api.create(virtualService(ns, 100));
    await cp.api.replace({ ...original, spec: virtualService(ns, 50).spec });
    expect(await statusOf(cp.api.replace({ ...original, spec: virtualService(ns, 0).spec }))).toBe(409);
  });

  it('creates workloads the way controllers and kubelets would report them', async () => {
    const ns = await cp.newNamespace('workloads', { guard: true });
    const namespace = await cp.api.read('v1', 'Namespace', undefined, ns);
    expect(namespace.metadata.labels).toMatchObject({ 'bluegreen-guard.io/guard': 'enabled' });
    await createService(cp.api, ns, 'reviews');
    const blue = await createWorkload(cp.api, { namespace: ns, app: 'reviews', version: 'v2', replicas: 2, ready: false });
    expect(blue.deployment.status).toMatchObject({ replicas: 2, updatedReplicas: 2, unavailableReplicas: 2 });
    expect((blue.deployment.status as { readyReplicas?: number }).readyReplicas ?? 0).toBe(0);
    expect(blue.pods[0]!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReplicaSet', name: blue.replicaSet.metadata.name })]);
    expect(blue.replicaSet.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Deployment', name: 'reviews-v2' })]);

    await setWorkloadReady(cp.api, blue, true);
    const pods = await cp.kubectl(['get', 'pods', '-n', ns, '-l', 'app=reviews,version=v2', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}']);
    expect(pods.stdout).toBe('True True');
    const rollout = await cp.kubectl(['rollout', 'status', `deployment/reviews-v2`, '-n', ns, '--timeout=5s']);
    expect(rollout).toMatchObject({ code: 0 });
    expect(rollout.stdout).toContain('successfully rolled out');
  });

  it('resumes service after an API server restart, with the data kept in etcd', async () => {
    const ns = await cp.newNamespace('restart');
    await cp.api.create(virtualService(ns, 100));
    await cp.restartApiServer();
    const vs = await cp.api.read(VS_API, 'VirtualService', ns, 'reviews');
    expect(vs.metadata.name).toBe('reviews');
  }, 60_000);
});

describe('the mesh simulator', () => {
  let simulator: MeshSimulator | undefined;
  let prometheus: RunningPrometheus | undefined;

  afterAll(async () => {
    await simulator?.stop();
    await prometheus?.stop();
  });

  it('follows the VirtualService\'s weights through a watch, survives an API server restart, and is scraped by Prometheus', async () => {
    const ns = await cp.newNamespace('mesh');
    const vs = await cp.api.create(virtualService(ns, 100));
    simulator = await MeshSimulator.start({ api: cp.api, namespace: ns, virtualService: 'reviews', service: 'reviews', requestsPerSecond: 100 });
    expect(simulator.trafficShare()).toEqual({ v1: 1, v2: 0 });
    prometheus = await startPrometheus({
      config: {
        global: { scrape_interval: '1s' },
        scrape_configs: [{ job_name: 'mesh', static_configs: [{ targets: [simulator.metricsTarget] }] }],
      },
    });

    // The runbook's cutover: blue to 100 %; the simulator moves the traffic when the watch says so.
    await cp.api.patch(vs, [{ op: 'replace', path: '/spec/http/0/route/0/weight', value: 0 }, { op: 'replace', path: '/spec/http/0/route/1/weight', value: 100 }], PATCH.json);
    await simulator.waitForShare('v2', 1, 10_000);
    const servedBefore = simulator.served().v2?.requests ?? 0;
    await waitUntil(() => (simulator?.served().v2?.requests ?? 0) >= servedBefore + 50, { timeoutMs: 10_000, description: 'v2 serving requests' });
    expect(simulator.served().v2?.errors).toBe(0);

    // A fault in v2: exactly one request in five fails.
    simulator.setBehaviour('v2', { errorRatio: 0.2, latencyMs: 30 });
    const metrics = await (await fetch(simulator.metricsUrl)).text();
    expect(metrics).toContain('# TYPE istio_requests_total counter');
    expect(metrics).toMatch(/istio_request_duration_milliseconds_bucket\{.*le="25".*\}/);
    const fiveHundreds = `istio_requests_total{reporter="destination",destination_service_name="reviews",destination_service_namespace="${ns}",destination_version="v2",destination_workload="reviews-v2",response_code="503"}`;
    const errors = await waitUntil(async () => (await promQuery(prometheus!, fiveHundreds))[0], {
      timeoutMs: 20_000,
      description: 'Prometheus scraping the simulated 503s of v2',
    });
    expect(Number(errors.value[1])).toBeGreaterThan(0);
    const served = simulator.served().v2!;
    expect(served.errors / served.requests).toBeGreaterThan(0.1);

    // The API server restarts; the simulator resumes its watch and follows the rollback to green.
    await cp.restartApiServer();
    const current = await cp.api.read(VS_API, 'VirtualService', ns, 'reviews');
    await cp.api.patch(current, [{ op: 'replace', path: '/spec/http/0/route/0/weight', value: 100 }, { op: 'replace', path: '/spec/http/0/route/1/weight', value: 0 }], PATCH.json);
    const back = await simulator.waitForShare('v1', 1, 15_000);
    expect(back.share).toEqual({ v1: 1, v2: 0 });
  }, 90_000);
});

describe('a ValidatingWebhookConfiguration registered for a URL', () => {
  let server: Server | undefined;
  let certDir: string | undefined;

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  it('is called over TLS for guarded namespaces only, and kubectl prints its denial', async () => {
    certDir = mkdtempSync(join(tmpdir(), 'bgg-webhook-certs-'));
    const certs = makeServingCertificate(certDir, { ips: ['127.0.0.1'] });
    // A webhook that denies every VirtualService: enough to prove the wiring.
    server = createHttpsServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string; name: string } };
        const response = { uid: review.request.uid, allowed: false, status: { code: 403, message: `test webhook denies ${review.request.name}` } };
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/validate`;
    const webhook = await cp.registerValidatingWebhook({ url, caBundlePem: certs.caPem });

    const guarded = await cp.newNamespace('guarded', { guard: true });
    const other = await cp.newNamespace('unguarded');
    // The API server picks the configuration up a moment later: poll with a server-side dry-run.
    await waitUntil(async () => (await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: JSON.stringify(virtualService(guarded, 100)) })).code !== 0, {
      timeoutMs: 20_000,
      description: 'the webhook registration taking effect',
    });
    const denied = await cp.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(virtualService(guarded, 100)) });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('denied the request: test webhook denies reviews');
    expect((await cp.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(virtualService(other, 100)) })).code).toBe(0);

    await webhook.remove();
    await waitUntil(async () => (await cp.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(virtualService(guarded, 100)) })).code === 0, {
      timeoutMs: 20_000,
      description: 'the webhook removal taking effect',
    });
  }, 60_000);
});
