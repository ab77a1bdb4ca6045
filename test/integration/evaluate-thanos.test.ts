// The scenarios of evaluate.test.ts, unchanged, through Thanos Query over two
// Prometheus servers with Thanos sidecars: the services split between them,
// one service whose versions live on different servers, one held by both (an
// HA pair, deduplicated), what a store going down does to an answer (refused,
// or answered partially with warnings), and Thanos Query's own timeout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig } from '../../src/config/watcher-config.js';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import { collectMetrics, type MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import { startThanos, type RunningThanos, type ThanosQuery } from '../support/thanos.js';
import { AT, expectScenario, NAMESPACE, SCENARIOS, scenarioHistory, scenarioSeries, type ScenarioSeries } from './evaluate-scenarios.js';

const config = defaultWatcherConfig();
/** Held by both stores, as two replicas of one Prometheus would. */
const HA_SERVICE = 'errors-sustained';
let thanos: RunningThanos | undefined;
let source: PrometheusMetricsSource;
let snapshot: MetricsSnapshot;
/** A second Query over the same stores that answers partially when a query names no `partial_response`. */
let lenient: ThanosQuery;
/** A third whose own `--query.timeout` no query can meet. */
let hasty: ThanosQuery;
/** The smallest `--query.timeout` Thanos takes (a Prometheus duration: no unit below ms). */
const HASTY_TIMEOUT = '1ms';
const HEALTHY = { namespace: NAMESPACE, service: 'healthy', version: 'v2' };

/** Judged series alternate between the stores; `healthy`'s stable v1 is on the other store than its v2. */
function shards(): [ScenarioSeries[], ScenarioSeries[]] {
  const a: ScenarioSeries[] = [];
  const b: ScenarioSeries[] = [];
  scenarioSeries().forEach((s, i) => {
    const judgedHealthy = s.key.service === 'healthy' && s.key.namespace === NAMESPACE && s.key.version === 'v2' && s.reporter === undefined;
    const healthyDistractor = s.key.service === 'healthy' && !judgedHealthy;
    if (s.key.service === HA_SERVICE) {
      a.push(s);
      b.push(s);
    } else if (judgedHealthy) a.push(s);
    else if (healthyDistractor) b.push(s);
    else (i % 2 === 0 ? a : b).push(s);
  });
  return [a, b];
}

beforeAll(async () => {
  const [a, b] = shards();
  thanos = await startThanos({ shards: [{ backfill: scenarioHistory(a) }, { backfill: scenarioHistory(b) }] });
  source = new PrometheusMetricsSource({ url: thanos.url, timeoutMs: 30_000 });
  snapshot = await collectMetrics(source, AT, config);
  lenient = await thanos.addQuery({ partialResponse: true });
  hasty = await thanos.addQuery({ queryTimeout: HASTY_TIMEOUT });
}, 15 * 60_000);

/**
 * Forwards to Thanos Query without the `partial_response=false` the source
 * sends, as a proxy in front of Query that passes on only Prometheus's own
 * parameters would: Query's `--query.partial-response` then decides.
 */
const withoutPartialResponseParam: typeof fetch = (input, init) => {
  const body = new URLSearchParams(init?.body as URLSearchParams);
  body.delete('partial_response');
  return fetch(input, { ...init, body });
};

/** As withoutPartialResponseParam, and drops the answer's `warnings` too: what a client blind to them would read. */
const withoutWarnings: typeof fetch = async (input, init) => {
  const res = await withoutPartialResponseParam(input, init);
  const body = (await res.json()) as { warnings?: string[] };
  delete body.warnings;
  return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } });
};

/** Thanos Query's own answer to `promql` at AT, deduplicated, naming no `partial_response`. */
async function rawAnswer(url: string, promql: string): Promise<{ httpStatus: number; body: { status: string; errorType?: string; error?: string; warnings?: string[]; data?: { result: Array<{ metric: Record<string, string> }> } } }> {
  const res = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: promql, time: String(AT), dedup: 'true' }) });
  return { httpStatus: res.status, body: (await res.json()) as never };
}

afterAll(async () => {
  await thanos?.stop();
});

describe('evaluation through Thanos Query over two Prometheus servers', () => {
  it('the services really are split, and one version of `healthy` is on each store', () => {
    const [a, b] = shards();
    const on = (shard: ScenarioSeries[], version: string) => shard.some((s) => s.key.service === 'healthy' && s.key.version === version && s.key.namespace === NAMESPACE && !s.reporter);
    expect([on(a, 'v2'), on(b, 'v2'), on(a, 'v1'), on(b, 'v1')]).toEqual([true, false, false, true]);
    expect(a.length).toBeGreaterThan(5);
    expect(b.length).toBeGreaterThan(5);
  });

  it('answers every service from the same fixed set of queries', () => {
    expect(source.stats).toMatchObject({ queries: 2, failures: 0 });
  });

  // Thanos v0.42 runs Prometheus 3's engine: left-open ranges (docs/metrics-backends.md, "Queries that differ").
  it.each(Object.entries(SCENARIOS))('%s', (service, scenario) => {
    expectScenario(snapshot, service, scenario, config, 'left-open');
  });

  it('deduplicates the series both stores hold', async () => {
    const raw = `istio_requests_total{reporter="destination", destination_service_name="${HA_SERVICE}"}`;
    const deduplicated = await source.instantQuery(raw, AT);
    expect(deduplicated.map((s) => s.labels.response_code).sort()).toEqual(['200', '503']);
    // The same question without deduplication sees both replicas: the test above can fail.
    const res = await fetch(`${thanos?.url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: raw, time: String(AT), dedup: 'false' }) });
    const body = (await res.json()) as { data: { result: unknown[] } };
    expect(body.data.result).toHaveLength(4);
  });

  it('a query that runs out of time is error, named as a timeout', async () => {
    const impatient = new PrometheusMetricsSource({ url: thanos?.url ?? '', timeoutMs: 1 });
    const blind = await collectMetrics(impatient, AT, config);
    const evaluation = evaluateService(blind, { namespace: NAMESPACE, service: 'healthy', version: 'v2' }, {}, config);
    expect(evaluation.verdict).toBe('error');
    expect(evaluation.findings[0]?.message).toMatch(/no answer within 1 ms|gave up on the query/);
  });

  it("a query Thanos Query's own --query.timeout cuts short is error, named as a server-side timeout", async () => {
    const timed = new PrometheusMetricsSource({ url: hasty.url, timeoutMs: 30_000 });
    // 1 ms is Thanos's smallest limit; these queries fan out over gRPC to both sidecars, which read
    // Prometheus over HTTP: the fastest of 60 took 13 ms here, so the limit trips every time.
    const blind = await collectMetrics(timed, AT, config);
    const evaluation = evaluateService(blind, HEALTHY, {}, config);
    expect(timed.stats).toMatchObject({ queries: 2, failures: 2 });
    expect(evaluation.verdict).toBe('error');
    expect(evaluation.findings.map((f) => f.status)).toEqual(['error', 'error']);
    // Server side (Query's own limit, its HTTP status and gRPC status quoted), not the client's "no answer within".
    for (const f of evaluation.findings) {
      expect(f.message).toMatch(new RegExp(`^cannot read the .* of shop/healthy version v2: ${hasty.url} timed out on its side and gave up on the query \\(HTTP \\d+, \\w+: [\\s\\S]*?(DeadlineExceeded|deadline exceeded|timed out)[\\s\\S]*Thanos --query.timeout`));
    }
  });

  // Last: they stop a store.
  it('with one store down, a service whose data is all on the other store is not healthy', async () => {
    await thanos?.stores[1]?.sidecar.stop();
    const partial = await collectMetrics(source, AT, config);
    const evaluation = evaluateService(partial, { namespace: NAMESPACE, service: 'healthy', version: 'v2' }, {}, config);
    expect(evaluation.verdict).toBe('error');
    expect(evaluation.findings.map((f) => f.status)).toEqual(['error', 'error']);
    expect(evaluation.findings[0]?.message).toMatch(/could not read every store behind it \(HTTP 422, execution: .*code = Unavailable[\s\S]*counts as none/);
  });

  it('with one store down and partial responses allowed, the 200 answer with warnings counts as no data, never as healthy', async () => {
    // The store is down (the test above): Query answers from the other, HTTP 200 with a warning.
    const promql = `istio_requests_total{reporter="destination", destination_service_name="healthy"}`;
    const raw = await rawAnswer(lenient.url, promql);
    expect([raw.httpStatus, raw.body.status]).toEqual([200, 'success']);
    expect(raw.body.warnings?.length).toBeGreaterThan(0);
    // The answer holds `healthy`'s v2 (on the store that is up) and not its v1: read as data, it would judge v2 on half the picture.
    const versions = new Set(raw.body.data?.result.map((s) => s.metric.destination_version));
    expect([versions.has('v2'), versions.has('v1')]).toEqual([true, false]);

    const behindProxy = new PrometheusMetricsSource({ url: lenient.url, timeoutMs: 30_000, fetch: withoutPartialResponseParam });
    const partial = await collectMetrics(behindProxy, AT, config);
    const evaluation = evaluateService(partial, HEALTHY, {}, config);
    expect(behindProxy.stats).toMatchObject({ queries: 2, failures: 2 });
    expect(evaluation.verdict).toBe('error');
    expect(evaluation.findings.map((f) => f.status)).toEqual(['error', 'error']);
    // Thanos's warning names the store that did not answer; the message quotes it.
    const warning = raw.body.warnings?.[0] ?? '';
    expect(warning).toMatch(/fetch series for \{replica="b"\} Addr: .*code = Unavailable/);
    for (const f of evaluation.findings) {
      expect(f.message).toContain(`${lenient.url} answered only partially (${warning}): a partial answer cannot tell which services are missing, so it counts as none.`);
    }
    // The same answer with its warnings dropped reads as healthy: the assertions above can fail.
    const blindToWarnings = new PrometheusMetricsSource({ url: lenient.url, timeoutMs: 30_000, fetch: withoutWarnings });
    expect(evaluateService(await collectMetrics(blindToWarnings, AT, config), HEALTHY, {}, config).verdict).toBe('healthy');
  });
});
