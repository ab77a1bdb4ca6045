import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSampleValue, PrometheusMetricsSource, type QueryEvent } from '../../../src/prometheus/prometheus-metrics-source.js';

// An HTTP server that answers like Prometheus's API does, so the client's
// parsing and error paths run over a real socket.
let server: Server;
let base: string;
const bodies: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      const query = new URLSearchParams(body).get('query') ?? '';
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/prefix/api/v1/query_range')) {
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { a: '1' }, values: [[100, '1'], [115, 'NaN']] }] } }));
      } else if (query === 'html') {
        res.setHeader('content-type', 'text/html');
        res.end('<html>login</html>');
      } else if (query === 'partial') {
        res.end(JSON.stringify({ status: 'success', warnings: ['fetching series: rpc error: code = Unavailable desc = store 127.0.0.1:1 is down'], data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [100, '0'] }] } }));
      } else if (query === 'annotated') {
        res.end(JSON.stringify({ status: 'success', warnings: ['PromQL warning: bucket label "le" is missing or has a malformed value'], data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [100, '0'] }] } }));
      } else if (query === 'slow') {
        res.statusCode = 503;
        res.end(JSON.stringify({ status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' }));
      } else if (query === 'store-down' || query === 'store-slow') {
        // Thanos Query with partial_response=false when one store does not answer (its exact text).
        const status = query === 'store-down' ? 'Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:42061: connect: connection refused"' : 'DeadlineExceeded desc = context deadline exceeded';
        res.statusCode = 422;
        res.end(JSON.stringify({ status: 'error', errorType: 'execution', error: `expanding series: proxy Series(): fetch series for {replica="b"} Addr: 127.0.0.1:42061 MinTime: 1699999260000 MaxTime: 9223372036854775807: rpc error: code = ${status}` }));
      } else if (query === 'bad') {
        res.statusCode = 400;
        res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected end of input' }));
      } else if (query === 'scalar') {
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [100, '1'] } }));
      } else {
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [100, '+Inf'] }, { metric: { pod: 'b' }, value: [100, '0.25'] }] } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('PrometheusMetricsSource', () => {
  it('reads vectors and matrices, keeps the URL prefix, counts queries and bytes', async () => {
    const events: QueryEvent[] = [];
    const source = new PrometheusMetricsSource({ url: base, timeoutMs: 5000, onQuery: (e) => events.push(e) });
    expect(await source.instantQuery('up', 100.5)).toEqual([{ labels: { pod: 'a' }, value: Infinity }, { labels: { pod: 'b' }, value: 0.25 }]);
    const series = await source.rangeQuery('up', { startSeconds: 100, endSeconds: 115, stepSeconds: 15 });
    expect(series[0]?.points[0]).toEqual({ atSeconds: 100, value: 1 });
    expect(series[0]?.points[1]?.value).toBeNaN();
    expect(source.stats.queries).toBe(2);
    expect(source.stats.bytesRead).toBeGreaterThan(100);
    expect(events.map((e) => [e.kind, e.ok])).toEqual([['instant', true], ['range', true]]);
    expect(new URLSearchParams(bodies[0]).get('time')).toBe('100.5');
    expect(new URLSearchParams(bodies[1]).get('step')).toBe('15');
  });

  it('says the URL is not Prometheus when the body is not JSON', async () => {
    const source = new PrometheusMetricsSource({ url: base, timeoutMs: 5000 });
    await expect(source.instantQuery('html', 1)).rejects.toThrow(/not JSON .*must point at Prometheus itself/);
    expect(source.stats.failures).toBe(1);
  });

  it('rejects a query that does not give an instant vector', async () => {
    await expect(new PrometheusMetricsSource({ url: base, timeoutMs: 5000 }).instantQuery('scalar', 1)).rejects.toThrow(/returned a scalar, not an instant vector/);
  });

  it('asks a scale-out layer for a whole, deduplicated answer', async () => {
    bodies.length = 0;
    await new PrometheusMetricsSource({ url: base, timeoutMs: 5000 }).instantQuery('up', 1);
    const sent = new URLSearchParams(bodies[0]);
    expect([sent.get('partial_response'), sent.get('dedup')]).toEqual(['false', 'true']);
  });

  it('counts a partial answer (a store missing) as no answer, never as the data it does hold', async () => {
    const source = new PrometheusMetricsSource({ url: base, timeoutMs: 5000 });
    await expect(source.instantQuery('partial', 1)).rejects.toThrow(/answered only partially \(fetching series: rpc error.*store 127.0.0.1:1 is down\).*counts as none/);
    expect(source.stats.failures).toBe(1);
  });

  it('names a store that a query layer could not read, not the query template, as the failure', async () => {
    const source = new PrometheusMetricsSource({ url: base, timeoutMs: 5000 });
    const failure = source.instantQuery('store-down', 1);
    await expect(failure).rejects.toThrow(/could not read every store behind it \(HTTP 422, execution: .*fetch series for \{replica="b"\} Addr: 127.0.0.1:42061.*code = Unavailable.*\).*counts as none\. Fix: bring the failed store back/);
    await expect(failure).rejects.not.toThrow(/query template/);
    expect(source.stats.failures).toBe(1);
  });

  it('reports a store that ran out of time as a timeout', async () => {
    await expect(new PrometheusMetricsSource({ url: base, timeoutMs: 5000 }).instantQuery('store-slow', 1)).rejects.toThrow(/timed out on its side and gave up on the query \(HTTP 422, execution: .*code = DeadlineExceeded.*\).*raise prometheusTimeoutMs/);
  });

  it('still blames the template for a query the backend cannot parse', async () => {
    await expect(new PrometheusMetricsSource({ url: base, timeoutMs: 5000 }).instantQuery('bad', 1)).rejects.toThrow(/rejected the query \(HTTP 400, bad_data: .*parse error.*\).*Fix: correct the query template/);
  });

  it('keeps an answer whose only warnings are PromQL annotations', async () => {
    expect(await new PrometheusMetricsSource({ url: base, timeoutMs: 5000 }).instantQuery('annotated', 1)).toEqual([{ labels: { pod: 'a' }, value: 0 }]);
  });

  it('reports a server-side timeout as a timeout, with the limits to raise', async () => {
    await expect(new PrometheusMetricsSource({ url: base, timeoutMs: 5000 }).instantQuery('slow', 1)).rejects.toThrow(/timed out on its side and gave up on the query \(HTTP 503, timeout: .*\).*raise prometheusTimeoutMs/);
  });

  it.each([
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['0.05', 0.05],
    ['1e3', 1000],
  ])('parses %s', (text, value) => {
    expect(parseSampleValue(text)).toBe(value);
  });
  it('parses NaN', () => {
    expect(parseSampleValue('NaN')).toBeNaN();
  });
});
