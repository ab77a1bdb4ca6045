// "No Kubernetes API call on the request path": the webhook's own composition
// root (startWebhook) serves real AdmissionReviews over HTTPS while three
// independent traps watch for I/O: the watch caches' port to the API server
// counts every list and watch, a local Prometheus counts every query (the
// metrics-scraped rule is on, reading its background cache of `up`), and
// fetch, http(s).request and every new socket in the process are recorded.
// The reviews travel on connections opened before the traps are armed. A
// second test shows the traps catch a review path that does call out.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { createServer, type Server } from 'node:http';
import https from 'node:https';
import { Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startWebhook, type RunningWebhook } from '../../src/cli/webhook.js';
import { loadWebhookConfig } from '../../src/config/webhook-config.js';
import { MemoryClusterState } from '../../src/cluster/memory-cluster-state.js';
import { issueCa, issueServing, type PemPair } from '../../src/tls/x509-issuer.js';
import { AdmissionMetrics } from '../../src/webhook/metrics.js';
import { review } from '../../src/webhook/review.js';
import { defaultRulesConfig } from '../../src/webhook/rules-config.js';
import { createWebhookApp, createWebhookServer, listen } from '../../src/webhook/server.js';
import { destinationRule, FULL_CLUSTER, virtualService, type ClusterShape } from '../../bench/lib/cluster-fixture.js';
import { workloadReviews } from '../../bench/lib/workload-reviews.js';
import { FixtureListWatchClient, podKeys } from '../../bench/lib/fixture-client.js';
import { Http1Connection, postRequest } from '../../bench/lib/http1-connection.js';
import { reviewBody } from '../../bench/lib/reviews.js';
import { waitUntil } from '../support/wait-until.js';

type Json = Record<string, unknown>;

const SHAPE: ClusterShape = { ...FULL_CLUSTER, namespaces: 4 };
const NAMESPACE = 'team-001';

/** Records every way this process could reach another one while armed. */
class IoTrap {
  readonly calls: string[] = [];
  private readonly restore: Array<() => void> = [];

  arm(): void {
    const record = (what: string) => this.calls.push(`${what}\n${new Error().stack?.split('\n').slice(2, 8).join('\n') ?? ''}`);
    const originalFetch = globalThis.fetch;
    globalThis.fetch = (...args: Parameters<typeof fetch>) => {
      record(`fetch ${String(args[0] instanceof Request ? args[0].url : args[0])}`);
      return originalFetch(...args);
    };
    this.restore.push(() => (globalThis.fetch = originalFetch));
    for (const [name, mod] of [['http', http], ['https', https]] as const) {
      for (const fn of ['request', 'get'] as const) {
        const original = mod[fn];
        (mod as Record<string, unknown>)[fn] = (...args: unknown[]) => {
          record(`${name}.${fn}`);
          return (original as (...a: unknown[]) => unknown)(...args);
        };
        this.restore.push(() => ((mod as Record<string, unknown>)[fn] = original));
      }
    }
    // Every TCP client (http, https, tls, net, fetch's undici) connects through here.
    const proto = Socket.prototype as unknown as { connect: (...a: unknown[]) => Socket };
    const originalConnect = proto.connect;
    proto.connect = function (this: Socket, ...args: unknown[]) {
      record(`socket connect ${JSON.stringify(args[0])}`);
      return originalConnect.apply(this, args);
    };
    this.restore.push(() => (proto.connect = originalConnect));
  }

  disarm(): void {
    for (const undo of this.restore.splice(0).reverse()) undo();
  }
}

/** A Prometheus that answers the webhook's `up` query for every pod and counts what it is asked. */
async function countingPrometheus(shape: ClusterShape): Promise<{ server: Server; url: string; queries: () => number }> {
  let queries = 0;
  const answer = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: podKeys(shape).map((p) => ({ metric: p, value: [Date.now() / 1000, '1'] })) } });
  const server = createServer((req, res) => {
    queries++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  const address = await listen(server, 0, '127.0.0.1');
  return { server, url: `http://127.0.0.1:${address.port}`, queries: () => queries };
}

function request(kind: 'VirtualService' | 'DestinationRule', object: Json | null, oldObject: Json | null, operation: string, extra: Json = {}): Json {
  const meta = (object ?? oldObject)?.metadata as { name: string; namespace: string };
  const resource = kind === 'VirtualService' ? 'virtualservices' : 'destinationrules';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${Math.random().toString(36).slice(2)}`,
      kind: { group: 'networking.istio.io', version: 'v1', kind },
      resource: { group: 'networking.istio.io', version: 'v1', resource },
      name: meta.name,
      namespace: meta.namespace,
      operation,
      userInfo: { username: 'jane@example.com', groups: ['system:authenticated'] },
      object,
      oldObject,
      dryRun: false,
      ...extra,
    },
  };
}

/** Reviews of every shape the rules distinguish, with the answer each must get. */
function reviews(): Array<{ what: string; body: Json; allowed: boolean }> {
  const drWithoutBlue = destinationRule(NAMESPACE, 'reviews');
  (drWithoutBlue.spec as { subsets: unknown[] }).subsets.pop();
  const optedOut = virtualService(NAMESPACE, 'ratings', { green: 0, blue: 100 });
  (optedOut.metadata as { annotations: Record<string, string> }).annotations['bluegreen-guard.io/guard'] = 'disabled';
  const failing = reviewBody('fail', NAMESPACE);
  (failing.request as Json).dryRun = true;
  return [
    { what: 'a cutover that passes every rule', body: reviewBody('pass', NAMESPACE), allowed: true },
    { what: 'a cutover that fails five rules', body: reviewBody('fail', NAMESPACE), allowed: false },
    { what: 'the same, as a dry run', body: failing, allowed: false },
    { what: 'a rollback of the broken service', body: request('VirtualService', virtualService(NAMESPACE, 'payments', { green: 100, blue: 0 }), virtualService(NAMESPACE, 'payments', { green: 0, blue: 100 }), 'UPDATE'), allowed: true },
    { what: 'a DestinationRule dropping a subset still routed', body: request('DestinationRule', drWithoutBlue, destinationRule(NAMESPACE, 'reviews'), 'UPDATE'), allowed: false },
    { what: 'a VirtualService deletion', body: request('VirtualService', null, virtualService(NAMESPACE, 'catalog'), 'DELETE'), allowed: true },
    // An opt-out already stored (set by a break-glass member); adding one is a guarded switch (guard-switches).
    { what: 'an opted-out VirtualService', body: request('VirtualService', optedOut, structuredClone(optedOut), 'UPDATE'), allowed: true },
    { what: 'an opt-out added by a normal user', body: request('VirtualService', optedOut, virtualService(NAMESPACE, 'ratings'), 'UPDATE'), allowed: false },
    // Label changes under routes that are set: a v2 pod and Deployment relabelled into green (100 %), a selector narrowed.
    ...workloadReviews(SHAPE, NAMESPACE),
  ];
}

async function send(conn: Http1Connection, port: number, body: Json): Promise<{ uid?: string; allowed?: boolean }> {
  const res = await conn.send(postRequest('127.0.0.1', port, '/validate', Buffer.from(JSON.stringify(body))));
  expect(res.status).toBe(200);
  return (JSON.parse(res.body.toString('utf8')) as { response: { uid?: string; allowed?: boolean } }).response;
}

let dir: string;
let pems: { ca: PemPair; serving: PemPair };
let prometheus: Awaited<ReturnType<typeof countingPrometheus>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bgg-hot-path-'));
  const ca = await issueCa(new Date(), 1, 'hot-path test CA');
  pems = { ca, serving: await issueServing(new Date(), 1, ['localhost'], ca) };
  writeFileSync(join(dir, 'tls.crt'), pems.serving.certPem);
  writeFileSync(join(dir, 'tls.key'), pems.serving.keyPem);
  prometheus = await countingPrometheus(SHAPE);
});

afterAll(async () => {
  await new Promise((r) => prometheus?.server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('the admission hot path', () => {
  let webhook: RunningWebhook | undefined;
  const connections: Http1Connection[] = [];

  afterAll(async () => {
    for (const c of connections) c.close();
    await webhook?.stop({ graceSeconds: 0 });
  });

  it('answers reviews from the watch caches alone: no Kubernetes API call, no Prometheus query, no new connection', async () => {
    // Background work is pushed out of the test's window: the `up` refresh runs at start and then hourly, bookmarks hourly.
    const yaml = `prometheus: { url: "${prometheus.url}", refreshIntervalSeconds: 3600 }\nlogLevel: info\n`;
    const config = loadWebhookConfig(
      ['--config', 'webhook.yaml', '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--cert-file', join(dir, 'tls.crt'), '--key-file', join(dir, 'tls.key')],
      () => yaml,
    );
    const client = new FixtureListWatchClient(SHAPE, { bookmarkIntervalMs: 3_600_000 });
    webhook = await startWebhook(config, { log: pino({ level: 'silent' }), client });
    await webhook.cache.synced();
    const port = webhook.admissionAddress.port;
    for (let i = 0; i < 4; i++) connections.push(await Http1Connection.open({ host: '127.0.0.1', port, ca: pems.ca.certPem, servername: 'localhost' }));
    const first = connections[0] as Http1Connection;
    // Until the first `up` answer is in, metrics-scraped knows nothing and denies the passing cutover.
    await waitUntil(async () => (await send(first, port, reviewBody('pass', NAMESPACE))).allowed === true, { timeoutMs: 10_000, description: 'the scrape-status cache filled' });
    expect(client.calls.filter((c) => c.method === 'list').length).toBeGreaterThan(0);
    expect(prometheus.queries()).toBeGreaterThan(0);

    const listAndWatchBefore = client.calls.length;
    const queriesBefore = prometheus.queries();
    const cases = reviews();
    const trap = new IoTrap();
    const answers: Array<{ what: string; allowed: boolean | undefined; expected: boolean; uidEchoed: boolean }> = [];
    trap.arm();
    try {
      for (let i = 0; i < 140; i++) {
        const c = cases[i % cases.length] as (typeof cases)[number];
        const uid = (c.body.request as { uid: string }).uid;
        const answer = await send(connections[i % connections.length] as Http1Connection, port, c.body);
        answers.push({ what: c.what, allowed: answer.allowed, expected: c.allowed, uidEchoed: answer.uid === uid });
      }
    } finally {
      trap.disarm();
    }

    // The rules ran against the cached cluster: every verdict is the one the state implies.
    expect(answers.filter((a) => a.allowed !== a.expected || !a.uidEchoed)).toEqual([]);
    expect(client.calls.slice(listAndWatchBefore)).toEqual([]);
    expect(prometheus.queries() - queriesBefore).toBe(0);
    expect(trap.calls).toEqual([]);
  }, 60_000);
});

describe('the traps', () => {
  it('catch a review path that calls out, whichever client it uses', async () => {
    const state = new MemoryClusterState();
    const rules = defaultRulesConfig();
    let leaks = 0;
    const app = createWebhookApp({
      judge: (input) => {
        // What the product must never do: ask someone while the API server waits.
        void fetch(`${prometheus.url}/api/v1/query`, { method: 'POST', body: 'query=up' }).then((r) => r.arrayBuffer()).catch(() => {});
        http.get(`${prometheus.url}/api/v1/query?query=up`, (r) => r.resume()).on('error', () => {});
        leaks++;
        return review(input, state, rules);
      },
      isGuarded: () => true,
      readiness: { notReady: () => [] },
      metrics: new AdmissionMetrics(),
      log: { info: () => {}, warn: () => {} },
      bodyLimitBytes: 6 * 1024 * 1024,
    });
    const server = createWebhookServer(app, { cert: Buffer.from(pems.serving.certPem), key: Buffer.from(pems.serving.keyPem), fingerprint256: '', subject: '', subjectAltName: '', validTo: '' });
    const { port } = (await listen(server, 0, '127.0.0.1')) satisfies AddressInfo;
    const conn = await Http1Connection.open({ host: '127.0.0.1', port, ca: pems.ca.certPem, servername: 'localhost' });
    const queriesBefore = prometheus.queries();
    const trap = new IoTrap();
    trap.arm();
    try {
      await send(conn, port, reviewBody('pass', NAMESPACE));
      await waitUntil(() => prometheus.queries() - queriesBefore >= 2, { timeoutMs: 5_000, description: 'both leaked queries at Prometheus' });
    } finally {
      trap.disarm();
      conn.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    expect(leaks).toBe(1);
    expect(trap.calls.some((c) => c.startsWith('fetch '))).toBe(true);
    expect(trap.calls.some((c) => c.startsWith('http.get'))).toBe(true);
    expect(trap.calls.some((c) => c.startsWith('socket connect'))).toBe(true);
  }, 30_000);
});
