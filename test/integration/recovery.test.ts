// "Monitor recovery" against a real Prometheus with backfilled Istio history
// (promtool): the stable version after a rollback compared with its level
// before the cutover, and its callers (source_workload) the same way.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { measureRecovery } from '../../src/watcher/recovery-probe.js';
import { DEFAULT_RECOVERY_POLICY, judgeRecovery } from '../../src/watcher/recovery.js';
import { istioHistory, type IntervalTraffic } from '../support/istio-history.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

const STEP = 15;
const START = Math.floor(Date.now() / 1000 / 3600) * 3600 - 4 * 3600;
const CUTOVER = START + 1800;
const ROLLBACK = CUTOVER + 300;
const NOW = ROLLBACK + 120;
const END = NOW + 60;

const healthy = (errors = 0, latencyMs = 50): IntervalTraffic => ({ requests: 100, errors, latency: [[latencyMs, 100]] });
/** v1 serves before the cutover and after the rollback; between, v2 has the traffic. */
const stable = (after: IntervalTraffic) => (t: number) => (t <= CUTOVER ? healthy() : t <= ROLLBACK ? null : after);
const candidate = (t: number) => (t > CUTOVER && t <= ROLLBACK ? healthy(20) : null);

/** One namespace per story; `productpage` (the caller of reviews) with its own traffic. */
function story(namespace: string, stableAfter: IntervalTraffic, callerAfter: IntervalTraffic) {
  return [
    { key: { namespace, service: 'reviews', version: 'v1' }, traffic: stable(stableAfter) },
    { key: { namespace, service: 'reviews', version: 'v2' }, traffic: candidate },
    { key: { namespace, service: 'productpage', version: 'v1' }, traffic: (t: number) => (t <= ROLLBACK ? healthy() : callerAfter) },
  ];
}

let prom: RunningPrometheus | undefined;
let source: PrometheusMetricsSource;

beforeAll(async () => {
  prom = await startPrometheus({
    backfill: istioHistory({
      startSeconds: START,
      endSeconds: END,
      stepSeconds: STEP,
      services: [
        ...story('recovered', healthy(), healthy()),
        ...story('still-failing', healthy(20, 50), healthy()),
        ...story('slow', healthy(0, 1000), healthy()),
        ...story('caller-errors', healthy(), healthy(10)),
      ],
    }),
  });
  source = new PrometheusMetricsSource({ url: prom.url, timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
});

const times = { nowSeconds: NOW, cutoverStartedSeconds: CUTOVER, nowWindowSeconds: 60, baselineSeconds: 300 };
const judge = async (namespace: string) => {
  const m = await measureRecovery(source, { namespace, service: 'reviews', stableVersion: 'v1' }, times);
  return { m, verdict: judgeRecovery(m, DEFAULT_RECOVERY_POLICY, NOW - ROLLBACK) };
};

describe('recovery after a rollback, measured in Prometheus', () => {
  it('recovered: the stable version back at its pre-cutover 5xx and p99, its caller too', async () => {
    const { m, verdict } = await judge('recovered');
    expect(m.now.errorRatio).toBe(0);
    expect(m.baseline.errorRatio).toBe(0);
    expect(m.now.latencyP99Ms).toBeCloseTo(m.baseline.latencyP99Ms ?? NaN, 6);
    expect(m.callers).toEqual([{ workload: 'recovered/productpage-v1', errorRatio: 0, baselineErrorRatio: 0 }]);
    expect(verdict).toEqual({ kind: 'recovered', detail: expect.stringMatching(/^recovered in 120 s/) as unknown });
  });

  it('not recovered: the stable version answers 20 % 5xx after the rollback', async () => {
    const { m, verdict } = await judge('still-failing');
    expect(m.now.errorRatio).toBeCloseTo(0.2, 6);
    expect(verdict.kind).toBe('failed');
    expect(verdict.detail).toMatch(/stable 5xx 20.00 % > baseline 0.00 % \+ 1.00 %/);
  });

  it('not recovered: the stable version is slower than before the cutover', async () => {
    const { m, verdict } = await judge('slow');
    expect(m.now.latencyP99Ms).toBeGreaterThan((m.baseline.latencyP99Ms ?? 0) * 1.25);
    expect(verdict.detail).toMatch(/stable p99 \d+ ms > baseline \d+ ms/);
  });

  it('caller errors: the service calling this one shows rising 5xx (a cascading failure)', async () => {
    const { m, verdict } = await judge('caller-errors');
    expect(m.callers).toEqual([{ workload: 'caller-errors/productpage-v1', errorRatio: expect.closeTo(0.1, 6) as unknown, baselineErrorRatio: 0 }]);
    expect(verdict.kind).toBe('failed');
    expect(verdict.detail).toMatch(/caller caller-errors\/productpage-v1 5xx 10.00 % > its baseline 0.00 %/);
  });
});
