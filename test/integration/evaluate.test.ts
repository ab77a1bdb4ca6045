import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig } from '../../src/config/watcher-config.js';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import { collectMetrics, type MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { freePort } from '../support/free-port.js';
import { AT, expectScenario, NAMESPACE, SCENARIOS, scenarioHistory } from './evaluate-scenarios.js';

const config = defaultWatcherConfig();
let prom: RunningPrometheus | undefined;
let source: PrometheusMetricsSource;
let snapshot: MetricsSnapshot;

beforeAll(async () => {
  prom = await startPrometheus({ backfill: scenarioHistory() });
  source = new PrometheusMetricsSource({ url: prom.url, timeoutMs: 30_000 });
  snapshot = await collectMetrics(source, AT, config);
}, 180_000);

afterAll(async () => {
  await prom?.stop();
});

describe('evaluation against a real Prometheus with backfilled Istio history', () => {
  it('answers every service from one fixed set of queries', () => {
    expect(source.stats).toMatchObject({ queries: 2, failures: 0 });
    expect(source.stats.bytesRead).toBeGreaterThan(0);
  });

  it.each(Object.entries(SCENARIOS))('%s', (service, scenario) => {
    expectScenario(snapshot, service, scenario, config);
  });

  it('an exact limit stays exact inside Prometheus (5 % is ≥ 5 %, 2000 ms is not > 2000 ms)', () => {
    const ratio = evaluateService(snapshot, { namespace: NAMESPACE, service: 'errors-at-limit', version: 'v2' }, {}, config).findings[0];
    expect(ratio?.value).toBe(0.05);
    const p99 = evaluateService(snapshot, { namespace: NAMESPACE, service: 'latency-at-limit', version: 'v2' }, {}, config).findings[1];
    expect(p99?.value).toBe(2000);
  });

  it('a version that never had a series is no-data', () => {
    const evaluation = evaluateService(snapshot, { namespace: NAMESPACE, service: 'healthy', version: 'v9' }, {}, config);
    expect(evaluation.verdict).toBe('no-data');
  });

  it('warns in the early window and not after it', () => {
    const key = { namespace: NAMESPACE, service: 'early-trouble', version: 'v2' };
    const early = evaluateService(snapshot, key, { cutoverStartedAtSeconds: AT - 120 }, config);
    expect(early.verdict).toBe('warning');
    expect(early.findings.filter((f) => f.status === 'warning').map((f) => f.rule)).toEqual(['early-error-rate', 'early-latency-p99']);
    expect(evaluateService(snapshot, key, { cutoverStartedAtSeconds: AT - 300 }, config).verdict).toBe('healthy');
  });

  it('an unreachable Prometheus is error for every metric rule', async () => {
    const nowhere = new PrometheusMetricsSource({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 5000 });
    const blind = await collectMetrics(nowhere, AT, config);
    const evaluation = evaluateService(blind, { namespace: NAMESPACE, service: 'healthy', version: 'v2' }, {}, config);
    expect(evaluation.verdict).toBe('error');
    expect(evaluation.findings.map((f) => f.status)).toEqual(['error', 'error']);
    expect(evaluation.findings[0]?.message).toMatch(/could not be reached/);
  });

  it('a query Prometheus rejects is error, with Prometheus’s reason', async () => {
    const broken = { ...config, queries: { ...config.queries, errorRatio: { ...config.queries.errorRatio, query: 'sum by (x) (rate(istio_requests_total[' } } };
    const s = await collectMetrics(source, AT, broken);
    const evaluation = evaluateService(s, { namespace: NAMESPACE, service: 'healthy', version: 'v2' }, {}, broken);
    expect(evaluation.findings[0]).toMatchObject({ rule: 'error-rate', status: 'error' });
    expect(evaluation.findings[0]?.message).toMatch(/rejected the query \(HTTP 400, bad_data/);
  });
});
