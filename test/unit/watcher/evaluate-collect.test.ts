import { describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig, type WatcherConfig } from '../../../src/config/watcher-config.js';
import type { MetricsSource, RangeSeries, RangeWindow, Sample } from '../../../src/prometheus/metrics-source.js';
import { EXAMPLE_CIRCUIT_BREAKER_QUERY, EXAMPLE_ERROR_LOGS_QUERY } from '../../../src/prometheus/query-templates.js';
import { evaluateService } from '../../../src/watcher/evaluate.js';
import { collectMetrics, keyOf } from '../../../src/watcher/metrics-snapshot.js';
import type { ServiceKey } from '../../../src/watcher/verdict.js';

const AT = 1_700_000_000;

/**
 * A Prometheus stand-in that answers every query for `services` services, as
 * an aggregated query would: one series per (namespace, service, version).
 */
class FakeMetricsSource implements MetricsSource {
  readonly calls: string[] = [];
  constructor(
    private readonly services: ServiceKey[],
    private readonly value: (promql: string, service: ServiceKey, atSeconds: number) => number | undefined,
    private readonly failing: RegExp | null = null,
  ) {}

  private labels(s: ServiceKey, promql: string): Record<string, string> {
    return promql.includes('destination_service_name')
      ? { destination_service_namespace: s.namespace, destination_service_name: s.service, destination_version: s.version }
      : { namespace: s.namespace, app: s.service, version: s.version };
  }

  instantQuery(promql: string, atSeconds: number): Promise<Sample[]> {
    this.calls.push(`instant ${promql}`);
    if (this.failing?.test(promql)) return Promise.reject(new Error('Prometheus at http://fake:9090 rejected the query'));
    return Promise.resolve(
      this.services.flatMap((s) => {
        const v = this.value(promql, s, atSeconds);
        return v === undefined ? [] : [{ labels: this.labels(s, promql), value: v }];
      }),
    );
  }

  rangeQuery(promql: string, w: RangeWindow): Promise<RangeSeries[]> {
    this.calls.push(`range ${promql} ${w.startSeconds}..${w.endSeconds} step ${w.stepSeconds}`);
    if (this.failing?.test(promql)) return Promise.reject(new Error('Prometheus at http://fake:9090 could not be reached'));
    const out: RangeSeries[] = [];
    for (const s of this.services) {
      const points: RangeSeries['points'] = [];
      for (let t = w.startSeconds; t <= w.endSeconds; t += w.stepSeconds) {
        const v = this.value(promql, s, t);
        if (v !== undefined) points.push({ atSeconds: t, value: v });
      }
      if (points.length > 0) out.push({ labels: this.labels(s, promql), points });
    }
    return Promise.resolve(out);
  }
}

const services = (n: number): ServiceKey[] => Array.from({ length: n }, (_, i) => ({ namespace: `ns-${i % 7}`, service: `svc-${i}`, version: 'v2' }));

const withEarlyQueries = (c: WatcherConfig): WatcherConfig => ({ ...c, queries: { ...c.queries, errorLogs: EXAMPLE_ERROR_LOGS_QUERY, circuitBreakerOpen: EXAMPLE_CIRCUIT_BREAKER_QUERY } });

describe('collectMetrics', () => {
  it.each([1, 10, 100])('makes the same number of Prometheus queries for %i guarded services', async (n) => {
    const source = new FakeMetricsSource(services(n), () => 0);
    await collectMetrics(source, AT, defaultWatcherConfig());
    expect(source.calls).toHaveLength(2);
    const early = new FakeMetricsSource(services(n), () => 0);
    await collectMetrics(early, AT, withEarlyQueries(defaultWatcherConfig()));
    expect(early.calls).toHaveLength(4);
  });

  it('asks for the 2-minute window every 15 s and the last 3 minutes every minute, both ending at the instant', async () => {
    const source = new FakeMetricsSource([], () => 0);
    await collectMetrics(source, AT, defaultWatcherConfig());
    expect(source.calls.some((c) => c.includes('[60s]') && c.endsWith(`${AT - 120}..${AT} step 15`) && c.includes('response_code=~"5.."'))).toBe(true);
    expect(source.calls.some((c) => c.includes('histogram_quantile(0.99') && c.endsWith(`${AT - 120}..${AT} step 60`))).toBe(true);
  });

  it('skips the early-window queries when asked to', async () => {
    const source = new FakeMetricsSource(services(3), () => 0);
    const snapshot = await collectMetrics(source, AT, withEarlyQueries(defaultWatcherConfig()), { earlyWindow: false });
    expect(source.calls).toHaveLength(2);
    expect(snapshot.errorLogsPerSecond).toBeUndefined();
  });

  it('splits the results per service and places each value at its step', async () => {
    const all = services(3);
    const [a, b, c] = all as [ServiceKey, ServiceKey, ServiceKey];
    const source = new FakeMetricsSource(all, (promql, s, t) => {
      if (promql.includes('histogram_quantile')) return s === b ? NaN : 100 + (t - AT);
      if (s === c && t < AT - 60) return undefined; // c got traffic only a minute ago
      return s === a ? 0.5 : 0.01;
    });
    const snapshot = await collectMetrics(source, AT, defaultWatcherConfig());
    if (snapshot.errorRatio.status !== 'ok' || snapshot.latencyP99Ms.status !== 'ok') throw new Error('expected ok outcomes');
    expect(snapshot.errorRatio.byService.get(keyOf(a))).toEqual(new Array(9).fill(0.5));
    expect(snapshot.errorRatio.byService.get(keyOf(c))).toEqual([null, null, null, null, 0.01, 0.01, 0.01, 0.01, 0.01]);
    expect(snapshot.latencyP99Ms.byService.get(keyOf(a))).toEqual([-20, 40, 100]);
    expect(snapshot.latencyP99Ms.byService.get(keyOf(b))).toEqual([null, null, null]);
    expect(evaluateService(snapshot, a, {}, defaultWatcherConfig()).verdict).toBe('breached');
    expect(evaluateService(snapshot, b, {}, defaultWatcherConfig()).verdict).toBe('no-data');
    expect(evaluateService(snapshot, c, {}, defaultWatcherConfig()).verdict).toBe('healthy');
  });

  it('turns a failing query into an error outcome for that query only', async () => {
    const source = new FakeMetricsSource(services(2), () => 0.01, /histogram_quantile/);
    const snapshot = await collectMetrics(source, AT, defaultWatcherConfig());
    expect(snapshot.errorRatio.status).toBe('ok');
    expect(snapshot.latencyP99Ms).toEqual({ status: 'error', error: 'Prometheus at http://fake:9090 could not be reached' });
    const e = evaluateService(snapshot, services(1)[0] as ServiceKey, {}, defaultWatcherConfig());
    expect(e.findings.map((f) => f.status)).toEqual(['ok', 'error']);
    expect(e.verdict).toBe('error');
  });

  it('keeps the worst value when several series name one service', async () => {
    const one = services(1);
    const source = new FakeMetricsSource([...one, ...one], (_q, _s, t) => (t === AT ? 0.2 : 0.1));
    let toggle = 0;
    const original = source.rangeQuery.bind(source);
    source.rangeQuery = async (promql, w) => {
      const series = await original(promql, w);
      return series.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, value: p.value + (toggle++ % 2) })) }));
    };
    const snapshot = await collectMetrics(source, AT, defaultWatcherConfig());
    if (snapshot.errorRatio.status !== 'ok') throw new Error('expected ok');
    expect(snapshot.errorRatio.byService.get(keyOf(one[0] as ServiceKey))?.at(-1)).toBe(1.2);
  });
});
