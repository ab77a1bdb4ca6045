// The webhook over real TLS: a node:https client that trusts only the test CA
// sends real AdmissionReview JSON, malformed requests included, and the
// certificate files are replaced while requests are in flight.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { Agent, request, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createWebhookApp, createWebhookServer, listen } from '../../src/webhook/server.js';
import { AdmissionMetrics } from '../../src/webhook/metrics.js';
import { CertificateReloader, loadServingCertificate } from '../../src/webhook/tls.js';
import { DEFAULT_BODY_LIMIT_BYTES } from '../../src/webhook/admission-transport.js';
import type { AdmissionReviewResponse } from '../../src/webhook/admission.js';
import type { ReviewInput, ReviewVerdict } from '../../src/webhook/verdict.js';
import { admissionReview, virtualService } from '../support/admission-review.js';
import { makeServingCertificate, type ServingCertificateFiles } from '../support/tls.js';
import { waitUntil } from '../support/wait-until.js';

interface Reply {
  status: number;
  body: AdmissionReviewResponse;
  fingerprint256: string;
}

// The judge stands in for the rule core: it denies traffic to a subset named
// "broken" and throws for a VirtualService named "boom".
function judge(input: ReviewInput): ReviewVerdict {
  const obj = input.object;
  if (obj?.metadata.name === 'boom') throw new Error('rule exploded');
  const routes = obj?.kind === 'VirtualService' ? (obj.spec.http ?? []).flatMap((r) => r.route ?? []) : [];
  const broken = routes.find((r) => r.destination.subset === 'broken' && (r.weight ?? 0) > 0);
  return broken
    ? {
        allowed: false,
        findings: [{ rule: 'subset-exists', severity: 'deny', object: `VirtualService/${obj?.metadata.namespace}/${obj?.metadata.name}`, message: 'subset "broken" does not exist: fix the name' }],
        auditAnnotations: {},
      }
    : { allowed: true, findings: [], auditAnnotations: {} };
}

jest.setTimeout(30_000);

describe('webhook over HTTPS', () => {
  let dir: string;
  let certs: ServingCertificateFiles;
  let server: Server;
  let reloader: CertificateReloader;
  let port: number;
  let agent: Agent;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bluegreen-guard-https-'));
    certs = makeServingCertificate(dir);
    const logStream = new PassThrough();
    logStream.setEncoding('utf8');
    logStream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const log = pino({ level: 'info' }, logStream);
    const app = createWebhookApp({
      judge,
      isGuarded: () => true,
      readiness: { notReady: () => [] },
      metrics: new AdmissionMetrics({ registry: new Registry() }),
      log,
      bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
    });
    const initial = loadServingCertificate(certs);
    server = createWebhookServer(app, initial);
    reloader = new CertificateReloader(certs, initial, {
      onChange: (c) => server.setSecureContext({ cert: c.cert, key: c.key }),
      log,
      pollIntervalMs: 250,
      debounceMs: 50,
    });
    reloader.start();
    port = (await listen(server, 0, '127.0.0.1')).port;
    agent = new Agent({ ca: certs.caPem, keepAlive: true, maxSockets: 1 });
  });

  afterAll(async () => {
    agent?.destroy();
    reloader?.stop();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** One request; `body` is sent as given (string/Buffer), or in chunks without Content-Length. */
  function send(
    body: string | Buffer | Buffer[] | undefined,
    headers: Record<string, string | number> = { 'Content-Type': 'application/json' },
    via: Agent | false = agent,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/validate', method: 'POST', headers, ...(via ? { agent: via } : { agent: false, ca: certs.caPem }) },
        (res) => {
          // Read now: a keep-alive socket is detached from the response once it ends.
          const fingerprint256 = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReviewResponse, fingerprint256 });
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
        },
      );
      req.on('error', reject);
      if (Array.isArray(body)) {
        for (const c of body) req.write(c);
        req.end();
      } else {
        req.end(body);
      }
    });
  }

  const json = (o: unknown) => JSON.stringify(o);

  async function expectServing(uid = `ok-${Math.random()}`): Promise<void> {
    const reply = await send(json(admissionReview(virtualService(), { uid })));
    expect(reply.status).toBe(200);
    expect(reply.body.response).toEqual({ uid, allowed: true });
  }

  it('answers an AdmissionReview with a certificate the CA vouches for', async () => {
    const reply = await send(json(admissionReview(virtualService(), { uid: 'first' })));
    expect(reply).toEqual({
      status: 200,
      body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'first', allowed: true } },
      fingerprint256: certs.fingerprint256,
    });
  });

  it('denies with a 403 status the API server shows to kubectl', async () => {
    const reply = await send(json(admissionReview(virtualService('shop', 'web', { green: 50, broken: 50 }), { uid: 'deny-1' })));
    expect(reply.status).toBe(200);
    expect(reply.body.response).toEqual({
      uid: 'deny-1',
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: '[subset-exists] subset "broken" does not exist: fix the name' },
    });
  });

  it('writes one JSON log line per review', async () => {
    await send(json(admissionReview(virtualService('shop', 'logged'), { uid: 'log-me', dryRun: true })));
    const line = await waitUntil(() => logLines.find((l) => l.uid === 'log-me'), { timeoutMs: 2000, description: 'the review log line' });
    expect(line).toMatchObject({ level: 30, msg: 'admission review', kind: 'VirtualService', namespace: 'shop', name: 'logged', operation: 'UPDATE', dryRun: true, verdict: 'allowed', rules: [] });
    expect(typeof line.latencyMs).toBe('number');
  });

  it('accepts an UPDATE review of two 2.5 MiB objects, under the default limit', async () => {
    const vs = virtualService();
    (vs.metadata as Record<string, unknown>).annotations = { big: 'x'.repeat(2.5 * 1024 * 1024) };
    const body = json(admissionReview(vs, { uid: 'big-ok' }));
    expect(body.length).toBeGreaterThan(5 * 1024 * 1024);
    const reply = await send(body);
    expect(reply.status).toBe(200);
    expect(reply.body.response.uid).toBe('big-ok');
  });

  describe('refuses every malformed request and keeps serving', () => {
    const oversized = () => {
      const vs = virtualService();
      (vs.metadata as Record<string, unknown>).annotations = { big: 'x'.repeat(DEFAULT_BODY_LIMIT_BYTES) };
      return Buffer.from(json(admissionReview(vs)));
    };
    const withoutUid = () => {
      const r = admissionReview(virtualService());
      delete (r.request as Record<string, unknown>).uid;
      return json(r);
    };
    it.each<[string, () => Promise<Reply>, number, RegExp]>([
      ['an empty body', () => send(undefined, { 'Content-Type': 'application/json', 'Content-Length': 0 }), 400, /body is empty/],
      ['a body over the limit (Content-Length)', () => send(oversized()), 413, /larger than 6291456 bytes/],
      [
        'a body over the limit (chunked)',
        () => {
          const big = oversized();
          const pieces = [];
          for (let i = 0; i < big.length; i += 512 * 1024) pieces.push(big.subarray(i, i + 512 * 1024));
          return send(pieces, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        },
        413,
        /larger than 6291456 bytes/,
      ],
      ['a YAML content type', () => send('kind: AdmissionReview', { 'Content-Type': 'application/yaml' }), 415, /content type must be application\/json/],
      ['malformed JSON', () => send('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {'), 400, /not valid JSON/],
      ['a review without request.uid', () => send(withoutUid()), 400, /request\.uid is missing/],
    ])('%s', async (_name, sendBad, status, message) => {
      const reply = await sendBad();
      expect(reply.status).toBe(status);
      expect(reply.body.kind).toBe('AdmissionReview');
      expect(reply.body.response.allowed).toBe(false);
      expect(reply.body.response.status?.code).toBe(status);
      expect(reply.body.response.status?.message).toMatch(message);
      await expectServing();
    });

    it('a rule that throws: a denial with the uid kept (not a 500 that failurePolicy Ignore would admit)', async () => {
      const reply = await send(json(admissionReview(virtualService('shop', 'boom'), { uid: 'boom-1' })));
      expect(reply.status).toBe(200);
      expect(reply.body.response).toMatchObject({
        uid: 'boom-1',
        allowed: false,
        status: { code: 500, reason: 'InternalError', message: expect.stringContaining('reviewing VirtualService shop/boom failed: rule exploded; refused because') },
      });
      await expectServing();
    });
  });

  it('serves a replaced certificate to new connections without failing a request', async () => {
    const before = certs.fingerprint256;
    let swapping = true;
    const failures: string[] = [];
    let answered = 0;
    // Keep-alive and fresh connections, both busy while the files change.
    const loop = async (via: Agent | false): Promise<void> => {
      while (swapping) {
        try {
          const uid = `rot-${answered}-${Math.random()}`;
          const reply = await send(json(admissionReview(virtualService(), { uid })), undefined, via);
          if (reply.status !== 200 || reply.body.response.uid !== uid) failures.push(`HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
          answered++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    const keepAlive = new Agent({ ca: certs.caPem, keepAlive: true, maxSockets: 2 });
    const loops = [loop(keepAlive), loop(keepAlive), loop(false), loop(false)];
    try {
      await waitUntil(() => answered > 20, { timeoutMs: 10_000, description: 'traffic before the swap' });
      const renewed = makeServingCertificate(dir);
      expect(renewed.fingerprint256).not.toBe(before);
      const countAtSwap = answered;
      await waitUntil(async () => (await send(json(admissionReview(virtualService())), undefined, false)).fingerprint256 === renewed.fingerprint256, {
        timeoutMs: 10_000,
        description: 'a new connection served the renewed certificate',
      });
      await waitUntil(() => answered > countAtSwap + 20, { timeoutMs: 10_000, description: 'traffic after the swap' });
      certs = { ...certs, fingerprint256: renewed.fingerprint256 };
    } finally {
      swapping = false;
      await Promise.all(loops);
      keepAlive.destroy();
    }
    expect(failures).toEqual([]);
    expect(reloader.current.fingerprint256).toBe(certs.fingerprint256);
  });

  it('keeps the previous certificate when the new files are not a valid pair', async () => {
    const serving = certs.fingerprint256;
    const saved = join(dir, 'saved.key');
    copyFileSync(certs.keyFile, saved);
    writeFileSync(certs.keyFile, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    await waitUntil(() => logLines.find((l) => typeof l.msg === 'string' && l.msg.includes('still serving the previous certificate') && String(l.err).includes('is not a PEM private key')), {
      timeoutMs: 5000,
      description: 'the refused pair logged',
    });
    const reply = await send(json(admissionReview(virtualService(), { uid: 'still-old' })), undefined, false);
    expect(reply.status).toBe(200);
    expect(reply.fingerprint256).toBe(serving);
    // A later valid pair is picked up again.
    const renewed = makeServingCertificate(dir);
    await waitUntil(async () => (await send(json(admissionReview(virtualService())), undefined, false)).fingerprint256 === renewed.fingerprint256, {
      timeoutMs: 10_000,
      description: 'the next valid pair served',
    });
  });
});
