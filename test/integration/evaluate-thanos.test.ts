// The scenarios of evaluate.test.ts, unchanged, through Thanos Query over two
// Prometheus servers with Thanos sidecars: the services split between them,
// one service whose versions live on different servers, one held by both (an
// HA pair, deduplicated), and what a store going down does to an answer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig } from '../../src/config/watcher-config.js';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import { collectMetrics, type MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import { startThanos, type RunningThanos } from '../support/thanos.js';
import { AT, expectScenario, NAMESPACE, SCENARIOS, scenarioHistory, scenarioSeries, type ScenarioSeries } from './evaluate-scenarios.js';

const config = defaultWatcherConfig();
/** Held by both stores, as two replicas of one Prometheus would. */
const HA_SERVICE = 'errors-sustained';
let thanos: RunningThanos | undefined;
let source: PrometheusMetricsSource;
let snapshot: MetricsSnapshot;

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
}, 15 * 60_000);

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

  // Last: it stops a store.
  it('with one store down, a service whose data is all on the other store is not healthy', async () => {
    await thanos?.stores[1]?.sidecar.stop();
    const partial = await collectMetrics(source, AT, config);
    const evaluation = evaluateService(partial, { namespace: NAMESPACE, service: 'healthy', version: 'v2' }, {}, config);
    expect(evaluation.verdict).toBe('error');
    expect(evaluation.findings.map((f) => f.status)).toEqual(['error', 'error']);
    expect(evaluation.findings[0]?.message).toMatch(/could not read every store behind it \(HTTP 422, execution: .*code = Unavailable[\s\S]*counts as none/);
  });
});
