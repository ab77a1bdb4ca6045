// The admission limits set in the webhook's config file take effect in the
// real process: startWebhook (the composition root) serving HTTPS, configured
// from a YAML file as the chart writes it, with values other than the defaults.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { startWebhook, type RunningWebhook } from '../../src/cli/webhook.js';
import { loadWebhookConfig } from '../../src/config/webhook-config.js';
import { issueCa, issueServing, type PemPair } from '../../src/tls/x509-issuer.js';
import type { ClusterShape } from '../../bench/lib/cluster-fixture.js';
import { FixtureListWatchClient } from '../../bench/lib/fixture-client.js';
import { reviewBody } from '../../bench/lib/reviews.js';
import { waitUntil } from '../support/wait-until.js';

type Json = Record<string, unknown>;

const SHAPE: ClusterShape = { namespaces: 2, servicesPerNamespace: 5, replicas: 2 };
const NAMESPACE = 'team-001';

let dir: string;
let ca: PemPair;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bgg-admission-limits-'));
  ca = await issueCa(new Date(), 1, 'admission limits test CA');
  const serving = await issueServing(new Date(), 1, ['localhost'], ca);
  writeFileSync(join(dir, 'tls.crt'), serving.certPem);
  writeFileSync(join(dir, 'tls.key'), serving.keyPem);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(yaml: string): Promise<RunningWebhook> {
  const config = loadWebhookConfig(
    ['--config', 'webhook.yaml', '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--cert-file', join(dir, 'tls.crt'), '--key-file', join(dir, 'tls.key')],
    () => yaml,
  );
  const webhook = await startWebhook(config, { log: pino({ level: 'silent' }), client: new FixtureListWatchClient(SHAPE, { bookmarkIntervalMs: 3_600_000 }) });
  await webhook.cache.synced();
  return webhook;
}

interface Reply {
  status: number;
  response?: { uid?: string; allowed?: boolean; status?: { code?: number; message?: string } };
}

/**
 * Posts a review on its own connection. With `hold`, only the first bytes of
 * the body are sent until `finish` is called, so the review keeps its place.
 */
function post(port: number, body: Json, hold = false): { finish(): void; reply: Promise<Reply> } {
  const bytes = Buffer.from(JSON.stringify(body));
  let finish = (): void => undefined;
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, agent: false, method: 'POST', path: '/validate', headers: { 'Content-Type': 'application/json', 'Content-Length': bytes.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, ...(JSON.parse(text) as { response?: Reply['response'] }) }));
      },
    );
    req.on('error', reject);
    if (hold) {
      req.write(bytes.subarray(0, 10));
      finish = () => req.end(bytes.subarray(10));
    } else {
      req.end(bytes);
    }
  });
  return { finish: () => finish(), reply };
}

function withRoutes(n: number, uid: string): Json {
  const body = reviewBody('pass', NAMESPACE, uid);
  const spec = ((body.request as Json).object as Json).spec as { http: unknown[] };
  spec.http = Array.from({ length: n }, () => structuredClone(spec.http[0]));
  return body;
}

describe('admission limits from the config file', () => {
  let webhook: RunningWebhook | undefined;
  afterAll(() => webhook?.stop({ graceSeconds: 0 }));

  it('applies admission.workBound, admission.maxConcurrentReviews and admission.maxQueuedReviews', async () => {
    webhook = await start(`
admission:
  workBound: { maxRoutes: 3 }
  maxConcurrentReviews: 3
  maxQueuedReviews: 0
`);
    const port = webhook.admissionAddress.port;

    // Work bound: 4 routes is past maxRoutes 3 (the default, 1000, would judge it); 3 routes is judged.
    const over = await post(port, withRoutes(4, 'four-routes')).reply;
    expect(over.status).toBe(200);
    expect(over.response).toMatchObject({ uid: 'four-routes', allowed: false, status: { code: 400 } });
    expect(over.response?.status?.message).toMatch(/has 4 routes \(limit 3\).*raise admission\.workBound\.maxRoutes in the webhook config/);
    const within = await post(port, withRoutes(3, 'three-routes')).reply;
    expect(within.response?.status?.message ?? '').not.toMatch(/workBound/);
    expect(within.response?.uid).toBe('three-routes');

    // Concurrency 3, queue 0: three held reviews all keep a place (the default
    // 2 would refuse the third), and once they are in, the next one gets a 429
    // at once (the default queue of 64 would make it wait).
    const held = ['held-1', 'held-2', 'held-3'].map((uid) => post(port, reviewBody('pass', NAMESPACE, uid), true));
    let probes = 0;
    let refused: Reply | undefined;
    await waitUntil(
      async () => {
        const r = await post(port, reviewBody('pass', NAMESPACE, `probe-${probes++}`)).reply;
        if (r.status === 429) refused = r;
        return r.status === 429;
      },
      { timeoutMs: 20_000, intervalMs: 20, description: 'a review refused with 429 while three are held' },
    );
    expect(refused?.response?.status?.message).toMatch(/raise admission\.maxQueuedReviews/);
    for (const h of held) h.finish();
    const answers = await Promise.all(held.map((h) => h.reply));
    expect(answers.map((a) => [a.status, a.response?.uid, a.response?.allowed])).toEqual([
      [200, 'held-1', true],
      [200, 'held-2', true],
      [200, 'held-3', true],
    ]);
    // The places are free again.
    expect(await post(port, reviewBody('pass', NAMESPACE, 'after')).reply).toMatchObject({ status: 200 });
  }, 60_000);
});

describe('connection limits from the config file', () => {
  let webhook: RunningWebhook | undefined;
  const sockets: TLSSocket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await webhook?.stop({ graceSeconds: 0 });
  });

  it('cuts a client that never finishes the TLS handshake after admission.handshakeTimeoutMs', async () => {
    webhook = await start('admission: { handshakeTimeoutMs: 1000, maxConnections: 8 }\n');
    const started = Date.now();
    const socket = netConnect(webhook.admissionAddress.port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('close', resolve));
    // Cut by the 1 s timeout; the default (10 s) would keep it open far longer.
    expect(Date.now() - started).toBeLessThan(6_000);
  }, 30_000);

  it('drops connections past admission.maxConnections at accept', async () => {
    const port = (webhook as RunningWebhook).admissionAddress.port;
    const open = (): Promise<TLSSocket | undefined> =>
      new Promise((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem });
        s.once('secureConnect', () => resolve(s));
        s.once('error', () => resolve(undefined));
        s.once('close', () => resolve(undefined));
      });
    for (let i = 0; i < 8; i++) {
      const s = await open();
      expect(s).toBeDefined();
      sockets.push(s as TLSSocket);
    }
    expect(await open()).toBeUndefined();
    // A place freed is a place to connect again.
    sockets.shift()?.destroy();
    await waitUntil(async () => {
      const s = await open();
      if (s) sockets.push(s);
      return s !== undefined;
    }, { timeoutMs: 10_000, intervalMs: 20, description: 'a connection accepted again after one closed' });
  }, 30_000);
});
