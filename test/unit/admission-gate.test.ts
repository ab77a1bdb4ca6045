// The concurrency gate of the admission transport: reviews past the limit wait
// with their bodies unread, and past the queue they get a 429 at once.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { admissionTransport } from '../../src/webhook/admission-transport.js';
import type { AdmissionHandler } from '../../src/webhook/admission.js';
import { admissionReview, virtualService } from '../support/admission-review.js';
import { waitUntil } from '../support/wait-until.js';

const allow: AdmissionHandler = () => ({ kind: 'verdict', verdict: { allowed: true, findings: [], auditAnnotations: {} } });

let server: Server | undefined;
let arrived = 0;
const arrivals = (n: number) => waitUntil(() => arrived >= n, { timeoutMs: 5_000, intervalMs: 5, description: `${n} requests at the server` });
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(maxConcurrentReviews: number, maxQueuedReviews: number): Promise<number> {
  const transport = admissionTransport(allow, { bodyLimitBytes: 1 << 20, maxConcurrentReviews, maxQueuedReviews });
  server = createServer((req, res) => {
    arrived++;
    transport(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Starts a review and sends only part of its body; `finish` sends the rest. */
function partial(port: number, uid: string): { finish(): void; reply: Promise<{ status: number; uid: string }> } {
  const body = Buffer.from(JSON.stringify(admissionReview(virtualService(), { uid })));
  let finish = (): void => undefined;
  const reply = new Promise<{ status: number; uid: string }>((resolve, reject) => {
    const req = request({ port, method: 'POST', path: '/validate', headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, uid: (JSON.parse(text) as { response: { uid: string } }).response.uid }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 10));
    finish = () => req.end(body.subarray(10));
  });
  return { finish: () => finish(), reply };
}

describe('admission concurrency gate', () => {
  it('queues a review past the limit and answers it once a place is free; past the queue, 429', async () => {
    arrived = 0;
    const port = await serve(1, 1);
    const first = partial(port, 'first');
    await arrivals(1);
    const second = partial(port, 'second');
    second.finish(); // complete, but it waits: the only place is taken
    await arrivals(2);
    const third = partial(port, 'third');
    third.finish();
    expect(await third.reply).toEqual({ status: 429, uid: '' });
    first.finish();
    expect(await first.reply).toEqual({ status: 200, uid: 'first' });
    expect(await second.reply).toEqual({ status: 200, uid: 'second' });
  });
});
