// The independent check of the time-to-rollback benchmark against the
// watcher, at the boundary: on history whose errors begin at a known second,
// the first instant the watcher's error-rate rule breaches is exactly the
// first instant the check finds the "sustained" condition true, whatever the
// phase of the instant the check starts from. A check that named a later
// instant made "condition true → rolled back" negative.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig, type WatcherConfig } from '../../src/config/watcher-config.js';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import { collectMetrics } from '../../src/watcher/metrics-snapshot.js';
import { istioHistory } from '../support/istio-history.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { conditionTrueAt, errorRatioQuery, type ErrorRateCondition } from '../support/rollback-timing.js';

/** The stage's `short` profile: 5xx ≥ 5 % at every 2 s step of 12 s, over a 6 s rate window, sampled every 1 s. */
const CONDITION: ErrorRateCondition = { ratio: 0.05, windowSeconds: 12, stepSeconds: 2, rateWindowSeconds: 6 };
const START = 1_700_000_000;
/** The first second whose interval carries errors. */
const ERRORS_FROM = START + 60;
const scene = { namespace: 'shop', service: 'reviews' };
const config: WatcherConfig = { ...defaultWatcherConfig(), errorRate: CONDITION };
let prom: RunningPrometheus | undefined;
let source: PrometheusMetricsSource;

beforeAll(async () => {
  const backfill = istioHistory({
    startSeconds: START,
    endSeconds: START + 120,
    stepSeconds: 1,
    services: [{ key: { ...scene, version: 'v2' }, traffic: (end) => ({ requests: 100, errors: end >= ERRORS_FROM ? 50 : 0, latency: [[50, 100]] }) }],
  });
  prom = await startPrometheus({ backfill });
  source = new PrometheusMetricsSource({ url: prom.url, timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
});

const stageLike = {
  queryRange: async (promql: string, start: number, end: number, step: number) =>
    (await source.rangeQuery(promql, { startSeconds: start, endSeconds: end, stepSeconds: step })).map((s) => ({
      metric: s.labels,
      values: s.points.map((p): [number, string] => [p.atSeconds, String(p.value)]),
    })),
};

async function watcherBreachesAt(atSeconds: number): Promise<boolean> {
  const snapshot = await collectMetrics(source, atSeconds, config, { earlyWindow: false });
  return evaluateService(snapshot, { ...scene, version: 'v2' }, {}, config).findings[0]?.status === 'breached';
}

describe('time to rollback: the watcher and the independent check agree on when the condition became true', () => {
  let firstBreachSeconds: number | undefined;

  it('the watcher first breaches one full window after the errors began, not a step earlier', async () => {
    for (let t = ERRORS_FROM - 2; t <= ERRORS_FROM + 20 && firstBreachSeconds === undefined; t++) {
      if (await watcherBreachesAt(t)) firstBreachSeconds = t;
    }
    // One interval of 50 % in a 6 s rate window is 8.3 % ≥ 5 %: the ratio holds from ERRORS_FROM on,
    // and the condition once the oldest step of the 12 s window is at ERRORS_FROM.
    expect(firstBreachSeconds).toBe(ERRORS_FROM + CONDITION.windowSeconds);
    expect(await watcherBreachesAt((firstBreachSeconds ?? 0) - 1)).toBe(false);
  }, 120_000);

  it.each([0, 123, 500, 877])('the check names the same instant when it starts %i ms past a whole second', async (phaseMs) => {
    const promql = errorRatioQuery(scene, 'v2', CONDITION.rateWindowSeconds);
    const from = (ERRORS_FROM - 5) * 1000 + phaseMs;
    const at = await conditionTrueAt(stageLike, promql, CONDITION, from, (ERRORS_FROM + 30) * 1000);
    expect(at).toBe((firstBreachSeconds ?? Number.NaN) * 1000);
  });
});
