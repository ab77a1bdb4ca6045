// The scenarios of evaluate.test.ts, unchanged, against a second PromQL
// engine: single-node VictoriaMetrics holding the same backfilled history.
// Where its MetricsQL answers differently from Prometheus, the difference is
// stated here and in docs/metrics-backends.md, not papered over.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig } from '../../src/config/watcher-config.js';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import { collectMetrics, type MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import { startVictoriaMetrics, type RunningVictoriaMetrics } from '../support/victoria-metrics.js';
import { AT, expectScenario, NAMESPACE, SCENARIOS, scenarioHistory } from './evaluate-scenarios.js';

const config = defaultWatcherConfig();
let vm: RunningVictoriaMetrics | undefined;
let source: PrometheusMetricsSource;
let snapshot: MetricsSnapshot;

beforeAll(async () => {
  vm = await startVictoriaMetrics({ backfill: scenarioHistory() });
  source = new PrometheusMetricsSource({ url: vm.url, timeoutMs: 30_000 });
  snapshot = await collectMetrics(source, AT, config);
}, 180_000);

afterAll(async () => {
  await vm?.stop();
});

describe('evaluation against VictoriaMetrics with the same Istio history', () => {
  it('answers every service from the same fixed set of queries', () => {
    expect(source.stats).toMatchObject({ queries: 2, failures: 0 });
  });

  it.each(Object.entries(SCENARIOS))('%s', (service, scenario) => {
    expectScenario(snapshot, service, scenario, config);
  });

  it('an exact limit stays exact in MetricsQL too (5 % is ≥ 5 %, 2000 ms is not > 2000 ms)', () => {
    const ratio = evaluateService(snapshot, { namespace: NAMESPACE, service: 'errors-at-limit', version: 'v2' }, {}, config).findings[0];
    expect(ratio?.value).toBe(0.05);
    const p99 = evaluateService(snapshot, { namespace: NAMESPACE, service: 'latency-at-limit', version: 'v2' }, {}, config).findings[1];
    expect(p99?.value).toBe(2000);
  });

  it('a version that never had a series is no-data', () => {
    expect(evaluateService(snapshot, { namespace: NAMESPACE, service: 'healthy', version: 'v9' }, {}, config).verdict).toBe('no-data');
  });
});
