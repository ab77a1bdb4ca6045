import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runSmokeTest, smokeTestUrl } from '../../../src/watcher/smoke-test.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hang') return; // never answers
    res.statusCode = req.url === '/health-check' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('smoke test', () => {
  it('passes on the expected status', async () => {
    expect(await runSmokeTest({ url: `${base}/health-check`, expectedStatus: 200, timeoutMs: 5000 })).toMatchObject({ outcome: 'passed', httpStatus: 200 });
  });

  it.each([
    ['/broken', 503],
    ['/moved', 302],
  ])('fails when %s answers %i (redirects are not followed)', async (path, status) => {
    const r = await runSmokeTest({ url: `${base}${path}`, expectedStatus: 200, timeoutMs: 5000 });
    expect(r).toMatchObject({ outcome: 'failed', httpStatus: status });
    expect(r.message).toContain(`answered ${status}, expected 200`);
  });

  it('fails when the endpoint does not answer in time', async () => {
    const r = await runSmokeTest({ url: `${base}/hang`, expectedStatus: 200, timeoutMs: 200 });
    expect(r).toMatchObject({ outcome: 'failed', httpStatus: null });
    expect(r.message).toContain('did not answer within 200 ms');
  });

  it('fails when the connection is refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect((await runSmokeTest({ url: `http://127.0.0.1:${port}/`, expectedStatus: 200, timeoutMs: 5000 })).outcome).toBe('failed');
  });

  it('is an error, not a failure, when the URL cannot be used', async () => {
    expect((await runSmokeTest({ url: 'not a url', expectedStatus: 200, timeoutMs: 1000 })).outcome).toBe('error');
    const unresolvable = (): Promise<Response> => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND reviews.shop'), { code: 'ENOTFOUND' }) }));
    const r = await runSmokeTest({ url: 'http://reviews.shop/health-check', expectedStatus: 200, timeoutMs: 1000 }, unresolvable);
    expect(r.outcome).toBe('error');
    expect(r.message).toContain('ENOTFOUND');
  });

  it('takes the URL from the annotation first, then the template', () => {
    const key = { namespace: 'shop', service: 'reviews', version: 'v2' };
    expect(smokeTestUrl('http://{{service}}.{{namespace}}.svc/health?v={{version}}', key)).toBe('http://reviews.shop.svc/health?v=v2');
    expect(smokeTestUrl('http://x/', key, { 'bluegreen-guard.io/smoke-test-url': 'https://reviews.example.com/health-check' })).toBe('https://reviews.example.com/health-check');
    expect(smokeTestUrl(null, key)).toBeNull();
  });
});
