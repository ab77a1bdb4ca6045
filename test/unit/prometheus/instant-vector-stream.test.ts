// The streamed instant query behind the webhook's `up` refresh: the splitter
// against every way an answer can be cut into chunks, and the answer judged as
// PrometheusMetricsSource judges a whole one (errors, partial answers, the
// event loop served between chunks), then the reader's changes per refresh.
import { describe, expect, it } from '@jest/globals';
import { ResultSplitter, streamInstantVector } from '../../../src/prometheus/instant-vector-stream.js';
import { StreamingScrapeReader } from '../../../src/webhook/scrape-reader.js';

const TRICKY = {
  status: 'success',
  data: {
    resultType: 'vector',
    result: [
      { metric: { namespace: 'shop', pod: 'reviews-v1-0' }, value: [1733230000.123, '1'] },
      { metric: { namespace: 'shop', pod: 'braces-{[', note: 'quote " and \\ backslash ]}' }, value: [1733230000.123, '0'] },
      { metric: { namespace: 'ünïcödé-😀', pod: 'p' }, value: [1733230000.123, 'NaN'] },
      { metric: { namespace: 'x', pod: 'result', data: '"data":{"result":[' }, value: [1733230000.123, '+Inf'] },
    ],
  },
  warnings: ['PromQL info: nothing to see'],
};

function split(text: string, sizes: (i: number) => number): { elements: unknown[]; rest: unknown } {
  const splitter = new ResultSplitter();
  const elements: unknown[] = [];
  for (let at = 0, i = 0; at < text.length; i++) {
    const size = Math.max(1, sizes(i));
    splitter.push(text.slice(at, at + size), (t) => elements.push(JSON.parse(t)));
    at += size;
  }
  return { elements, rest: JSON.parse(splitter.rest()) };
}

function body(chunks: string[], status = 200): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
  return new Response(stream, { status, headers: { 'content-type': 'application/json' } });
}

const answering = (...responses: Array<() => Response>): typeof fetch => {
  return (() => {
    const next = responses.shift();
    return next ? Promise.resolve(next()) : Promise.reject(new Error('no more answers prepared'));
  });
};

const vector = (samples: Array<[string, string, string]>): string =>
  JSON.stringify({ status: 'success', data: { resultType: 'vector', result: samples.map(([namespace, pod, v]) => ({ metric: { namespace, pod }, value: [1, v] })) } });

describe('ResultSplitter', () => {
  const text = JSON.stringify(TRICKY);
  const expectedRest = { ...TRICKY, data: { ...TRICKY.data, result: [] } };

  it('hands over every element of data.result and keeps the rest, however the answer is cut in two', () => {
    for (let cut = 1; cut < text.length; cut++) {
      const got = split(text, (i) => (i === 0 ? cut : text.length));
      expect(got.elements).toEqual(TRICKY.data.result);
      expect(got.rest).toEqual(expectedRest);
    }
  });

  it('one character at a time, and in chunks of 7', () => {
    for (const size of [1, 7]) {
      const got = split(text, () => size);
      expect(got.elements).toEqual(TRICKY.data.result);
      expect(got.rest).toEqual(expectedRest);
    }
  });

  it('follows the structure, not the key order or spacing', () => {
    const reordered = `{ "warnings" : [ "w" ] ,\n "data" : { "result" : [ {"value":[1,"1"],"metric":{"pod":"a","namespace":"n"}} , {"metric":{},"value":[1,"2"]} ] , "resultType" : "vector" } , "status" : "success" }`;
    const got = split(reordered, () => 5);
    expect(got.elements).toEqual([{ value: [1, '1'], metric: { pod: 'a', namespace: 'n' } }, { metric: {}, value: [1, '2'] }]);
    expect(got.rest).toEqual({ warnings: ['w'], data: { result: [], resultType: 'vector' }, status: 'success' });
  });

  it('an error answer, or a document that is no answer, ends up whole in the rest', () => {
    const error = { status: 'error', errorType: 'bad_data', error: 'parse error at char 4' };
    expect(split(JSON.stringify(error), () => 3)).toEqual({ elements: [], rest: error });
    const splitter = new ResultSplitter();
    splitter.push('<html>{"data": no', () => undefined);
    expect(splitter.rest()).toBe('<html>{"data": no');
  });
});

describe('streamInstantVector', () => {
  const options = (f: typeof fetch) => ({ url: 'http://prometheus:9090/', timeoutMs: 5000, fetch: f });

  it('calls back for every sample, with values as Prometheus encodes them, and counts the bytes', async () => {
    const text = JSON.stringify(TRICKY);
    const seen: Array<[Record<string, string>, number]> = [];
    const fetchAnswer = answering(() => body([text.slice(0, 50), text.slice(50, 51), text.slice(51)]));
    const answer = await streamInstantVector(options(fetchAnswer), 'max by (namespace, pod) (up)', 1733230000.123, (l, v) => seen.push([l, v]));
    expect(answer).toEqual({ samples: 4, bytes: Buffer.byteLength(text) });
    expect(seen.map(([l, v]) => [l.pod, v])).toEqual([['reviews-v1-0', 1], ['braces-{[', 0], ['p', Number.NaN], ['result', Infinity]]);
  });

  it('serves the event loop between chunks', async () => {
    const chunks = vector(Array.from({ length: 50 }, (_, i) => ['shop', `pod-${i}`, '1'])).match(/.{1,40}/gs) ?? [];
    expect(chunks.length).toBeGreaterThan(20);
    let turns = 0;
    let samplesAtFirstTurn = -1;
    let samples = 0;
    const tick = (): void => {
      turns += 1;
      if (samplesAtFirstTurn < 0) samplesAtFirstTurn = samples;
      if (turns < 1000) setImmediate(tick);
    };
    setImmediate(tick);
    await streamInstantVector(options(answering(() => body(chunks))), 'up', 1, () => (samples += 1));
    expect(samples).toBe(50);
    // Macrotasks ran while the answer was being read, not only after it.
    expect(samplesAtFirstTurn).toBeLessThan(50);
    expect(turns).toBeGreaterThanOrEqual(chunks.length - 1);
    turns = 1000;
  });

  it('reads one large chunk in slices, serving the event loop between them', async () => {
    const text = vector(Array.from({ length: 4000 }, (_, i) => ['shop', `pod-${i}`, '1']));
    expect(text.length).toBeGreaterThan(8 * 16 * 1024);
    let turns = 0;
    let running = true;
    const tick = (): void => {
      turns += 1;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    let samples = 0;
    await streamInstantVector(options(answering(() => body([text]))), 'up', 1, () => (samples += 1));
    running = false;
    expect(samples).toBe(4000);
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it('rejects as a whole answer would be rejected: errors, partial answers, other result types, no JSON', async () => {
    const run = (...chunks: string[]) => streamInstantVector(options(answering(() => body(chunks, chunks[0]?.includes('"error"') ? 400 : 200))), 'up', 1, () => undefined);
    await expect(run(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }))).rejects.toThrow(/rejected the query \(HTTP 400, bad_data: parse error\)/);
    await expect(run(JSON.stringify({ status: 'error', errorType: 'timeout', error: 'query timed out' }))).rejects.toThrow(/gave up on the query/);
    const partial = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [1, '1'] }] }, warnings: ['No StoreAPIs matched for this query'] });
    await expect(run(partial)).rejects.toThrow(/answered only partially \(No StoreAPIs matched for this query\).*counts as none/);
    await expect(run(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }))).rejects.toThrow(/returned a matrix, not an instant vector/);
    await expect(run('<html>proxy login</html>')).rejects.toThrow(/answered HTTP 200 with a body that is not JSON \(<html>proxy login<\/html>\)/);
    await expect(run('{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}')).rejects.toThrow(/a result element that is not a sample/);
    await expect(streamInstantVector(options((() => Promise.reject(new TypeError('fetch failed')))), 'up', 1, () => undefined)).rejects.toThrow(/could not be reached/);
  });
});

describe('StreamingScrapeReader', () => {
  it('answers in full first, then only what changed; after a failure in full again', async () => {
    const reader = new StreamingScrapeReader({
      url: 'http://prometheus:9090',
      timeoutMs: 5000,
      fetch: answering(
        () => body([vector([['shop', 'a', '1'], ['shop', 'b', '1'], ['shop', 'c', '0'], ['web', 'x', '0'], ['web', 'x', '1']])]),
        () => body([vector([['shop', 'a', '1'], ['shop', 'b', '0'], ['shop', 'd', '1']])]),
        () => body([vector([['shop', 'a', '1'], ['shop', 'b', '0'], ['shop', 'd', '1']])]),
        () => body([vector([['shop', 'a', '0']]).slice(0, 30)]),
        () => body([vector([['shop', 'a', '1']])]),
      ),
    });
    expect(await reader.read(1_000)).toEqual({ full: true, set: [['shop/a', 1], ['shop/b', 1], ['shop/c', 0], ['web/x', 1]], removed: [], pods: 4 });
    expect(await reader.read(2_000)).toEqual({ full: false, set: [['shop/b', 0], ['shop/d', 1]], removed: ['shop/c', 'web/x'], pods: 3 });
    expect(await reader.read(3_000)).toEqual({ full: false, set: [], removed: [], pods: 3 });
    await expect(reader.read(4_000)).rejects.toThrow(/not JSON/);
    expect(await reader.read(5_000)).toEqual({ full: true, set: [['shop/a', 1]], removed: [], pods: 1 });
  });
});
