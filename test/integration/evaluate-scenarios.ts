// Known Istio histories, one service per scenario, all judged at the same
// instant AT: what Prometheus holds for each and what the watcher must decide.
// Shared by the library-level and the CLI-level integration tests.
import { expect } from '@jest/globals';
import type { WatcherConfig } from '../../src/config/watcher-config.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import type { MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import type { FindingStatus, Verdict } from '../../src/watcher/verdict.js';
import { istioHistory, type IntervalTraffic, type ServiceVersion } from '../support/istio-history.js';

/** The evaluation instant: a whole minute, so the 15 s samples fall on every window edge. */
export const AT = 1_699_999_980;
export const NAMESPACE = 'shop';

// 150 000 requests per 15 s interval is 10 000 per second: every ratio and
// quantile below is an exact binary fraction of whole per-second rates, so
// "at the limit" is exactly at the limit inside Prometheus too.
const N = 150_000;
const fast = (errors = 0, requests = N): IntervalTraffic => ({ requests, errors, latency: [[100, requests]] });
const slow = (requests = N): IntervalTraffic => ({ requests, errors: 0, latency: [[5000, requests]] });
/** p99 = 1000 + 1500 × (9900 − r) / (10000 − r) ms with r = requests/s within 1 s; r = 9700 gives exactly 2000 ms. */
const p99Around2s = (withinOneSecondPerSecond: number): IntervalTraffic => {
  const fastCount = withinOneSecondPerSecond * 15;
  return { requests: N, errors: 0, latency: [[100, fastCount], [2500, N - fastCount]] };
};
/** Interval ending at `end` is within the last `seconds` before AT. */
const within = (end: number, seconds: number) => end > AT - seconds;

export interface Scenario {
  version: string;
  verdict: Verdict;
  /**
   * `leftOpenValue`: the value where an engine's range selectors are left-open (Prometheus 3, and Thanos
   * v0.42 which runs its engine): `[60s]` at AT then holds the samples after AT−60 only, four of 15 s, not five.
   */
  findings: Partial<Record<string, { status: FindingStatus; value?: number | null; leftOpenValue?: number }>>;
  traffic: (end: number) => IntervalTraffic | null;
}

export const SCENARIOS: Record<string, Scenario> = {
  healthy: { version: 'v2', verdict: 'healthy', findings: { 'error-rate': { status: 'ok', value: 0.001 }, 'latency-p99': { status: 'ok' } }, traffic: () => fast(150) },
  'errors-sustained': { version: 'v2', verdict: 'breached', findings: { 'error-rate': { status: 'breached', value: 0.2 } }, traffic: (end) => fast(within(end, 600) ? N / 5 : 0) },
  'errors-at-limit': { version: 'v2', verdict: 'breached', findings: { 'error-rate': { status: 'breached', value: 0.05 } }, traffic: () => fast(7500) },
  'errors-just-above': { version: 'v2', verdict: 'breached', findings: { 'error-rate': { status: 'breached', value: 0.0501 } }, traffic: () => fast(7515) },
  'errors-just-below': { version: 'v2', verdict: 'healthy', findings: { 'error-rate': { status: 'ok', value: 0.0499 } }, traffic: () => fast(7485) },
  // Bad from the interval (AT−135, AT−120] on: the oldest step's minute holds one bad interval of four: exactly 5 %.
  // Prometheus 3's left-open range (AT−180, AT−120] holds three intervals: the 5xx counter, 0 until then, is not extrapolated
  // back past its zero, while the total is extrapolated from 45 s to 60 s: 0.2 / (2.8 × 4/3 + 0.2).
  'errors-began-2m-ago': { version: 'v2', verdict: 'breached', findings: { 'error-rate': { status: 'breached', value: 0.05, leftOpenValue: 0.2 / ((2.8 * 4) / 3 + 0.2) } }, traffic: (end) => fast(end > AT - 135 ? N / 5 : 0) },
  // One interval later: the oldest step saw no errors, so not sustained over 2 minutes yet.
  'errors-began-105s-ago': { version: 'v2', verdict: 'healthy', findings: { 'error-rate': { status: 'ok', value: 0 } }, traffic: (end) => fast(end > AT - 120 ? N / 5 : 0) },
  'errors-recovered': { version: 'v2', verdict: 'healthy', findings: { 'error-rate': { status: 'ok', value: 0 } }, traffic: (end) => fast(within(end, 600) && !within(end, 60) ? N / 5 : 0) },
  // Recovered 15 s ago: the ratio over the last minute is still 15 % (3 bad intervals of 4); 2 of 3 in a left-open range.
  'errors-recovering': { version: 'v2', verdict: 'breached', findings: { 'error-rate': { status: 'breached', value: 0.15, leftOpenValue: 0.2 * (2 / 3) } }, traffic: (end) => fast(within(end, 600) && !within(end, 15) ? N / 5 : 0) },
  'latency-3-minutes': { version: 'v2', verdict: 'breached', findings: { 'latency-p99': { status: 'breached', value: 4975 } }, traffic: (end) => (within(end, 180) ? slow() : fast()) },
  // Minutes oldest → newest: slow, slow, fast, slow, slow: 4 bad of 5, not the last 3.
  'latency-4-of-5': { version: 'v2', verdict: 'healthy', findings: { 'latency-p99': { status: 'ok', value: 50 + 50 * 0.99 } }, traffic: (end) => (within(end, 300) && !(end > AT - 180 && end <= AT - 120) ? slow() : fast()) },
  'latency-2-minutes': { version: 'v2', verdict: 'healthy', findings: { 'latency-p99': { status: 'ok' } }, traffic: (end) => (within(end, 120) ? slow() : fast()) },
  'latency-at-limit': { version: 'v2', verdict: 'healthy', findings: { 'latency-p99': { status: 'ok', value: 2000 } }, traffic: () => p99Around2s(9700) },
  'latency-just-above': { version: 'v2', verdict: 'breached', findings: { 'latency-p99': { status: 'breached' } }, traffic: () => p99Around2s(9699) },
  'latency-just-below': { version: 'v2', verdict: 'healthy', findings: { 'latency-p99': { status: 'ok' } }, traffic: () => p99Around2s(9701) },
  'no-traffic': { version: 'v2', verdict: 'no-data', findings: { 'error-rate': { status: 'no-data', value: null }, 'latency-p99': { status: 'no-data', value: null } }, traffic: (end) => (within(end, 300) ? null : fast(1500)) },
  // 1 % errors and p99 ≈ 833 ms: fine for the rollback rules, a warning in the early window.
  'early-trouble': {
    version: 'v2',
    verdict: 'healthy',
    findings: { 'error-rate': { status: 'ok', value: 0.01 } },
    traffic: () => ({ requests: 1500, errors: 15, latency: [[100, 1455], [1000, 45]] }),
  },
};

export interface ScenarioSeries {
  key: ServiceVersion;
  reporter?: 'source';
  traffic: (end: number) => IntervalTraffic | null;
}

/** Series that must not leak into the judged ones: the stable version, and the source-side reporter. */
export const DISTRACTORS: ScenarioSeries[] = [
  { key: { namespace: NAMESPACE, service: 'healthy', version: 'v1' }, traffic: () => ({ requests: N, errors: N / 2, latency: [[5000, N]] }) },
  { key: { namespace: NAMESPACE, service: 'healthy', version: 'v2' }, reporter: 'source', traffic: () => ({ requests: N, errors: N, latency: [[5000, N]] }) },
  { key: { namespace: 'other', service: 'healthy', version: 'v2' }, traffic: () => ({ requests: N, errors: N, latency: [[5000, N]] }) },
];

/** Every series of the scenarios, judged ones first, then the distractors. */
export function scenarioSeries(): ScenarioSeries[] {
  return [...Object.entries(SCENARIOS).map(([service, s]) => ({ key: { namespace: NAMESPACE, service, version: s.version }, traffic: s.traffic })), ...DISTRACTORS];
}

/** The history of `series` (default: all of them), for one Prometheus. */
export function scenarioHistory(series: ScenarioSeries[] = scenarioSeries()): string {
  return istioHistory({
    startSeconds: AT - 12 * 60,
    // History goes on after AT: a verdict at AT must not see it.
    endSeconds: AT + 5 * 60,
    services: series,
  });
}

/** How an engine's range selectors bound a window: `[t−w, t]` (Prometheus 2, VictoriaMetrics) or `(t−w, t]` (Prometheus 3). */
export type RangeSelectors = 'left-closed' | 'left-open';

/** What every backend must decide for `service`, asserted the same way whichever PromQL engine computed the snapshot. */
export function expectScenario(snapshot: MetricsSnapshot, service: string, scenario: Scenario, config: WatcherConfig, ranges: RangeSelectors = 'left-closed'): void {
  const evaluation = evaluateService(snapshot, { namespace: NAMESPACE, service, version: scenario.version }, {}, config);
  for (const [rule, expected] of Object.entries(scenario.findings)) {
    const found = evaluation.findings.find((f) => f.rule === rule);
    expect({ rule, status: found?.status }).toEqual({ rule, status: expected?.status });
    const value = ranges === 'left-open' && expected?.leftOpenValue !== undefined ? expected.leftOpenValue : expected?.value;
    if (value === null) expect(found?.value).toBeNull();
    else if (value !== undefined) expect(found?.value).toBeCloseTo(value, 9);
  }
  expect(evaluation.verdict).toBe(scenario.verdict);
}
