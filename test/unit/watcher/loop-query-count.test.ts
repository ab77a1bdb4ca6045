// The loop wired to the real evaluation round (MetricsCycleEvaluator: collect
// once, split per service, evaluate each) over a MetricsSource that counts its
// queries: the number of Prometheus queries per cycle does not grow with the
// number of guarded services, and the per-service split still finds the one
// bad version among many.
import { describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig } from '../../../src/config/watcher-config.js';
import { VirtualServicePatcher } from '../../../src/watcher/virtual-service-patcher.js';
import { CUTOVER_STARTED_AT } from '../../../src/istio/annotations.js';
import type { MetricsSource, RangeSeries, RangeWindow, Sample } from '../../../src/prometheus/metrics-source.js';
import { MetricsCycleEvaluator } from '../../../src/watcher/cycle-evaluator.js';
import { WatcherLoop } from '../../../src/watcher/loop.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import { routesOf, subsetShare } from '../../../src/istio/routes.js';
import { FakeVirtualServiceStore } from './support/fake-virtual-service-store.js';
import { FakeClock, LaggingCache, Recorder, T0, loopConfig } from './support/loop-harness.js';
import { http, virtualService } from './support/virtual-services.js';

/** Answers like Prometheus would for `services` candidates: one series per service and version. */
class CountingSource implements MetricsSource {
  queries = 0;
  constructor(
    private readonly services: string[],
    private readonly errorRatioOf: (service: string) => number,
  ) {}

  instantQuery(): Promise<Sample[]> {
    this.queries++;
    return Promise.resolve([]);
  }

  rangeQuery(promql: string, w: RangeWindow): Promise<RangeSeries[]> {
    this.queries++;
    const points = (value: number) => {
      const out: { atSeconds: number; value: number }[] = [];
      for (let t = w.startSeconds; t <= w.endSeconds; t += w.stepSeconds) out.push({ atSeconds: t, value });
      return out;
    };
    const latency = promql.includes('histogram_quantile');
    return Promise.resolve(
      this.services.map((s) => ({
        labels: { destination_service_namespace: 'shop', destination_service_name: s, destination_version: 'blue' },
        points: points(latency ? 120 : this.errorRatioOf(s)),
      })),
    );
  }
}

async function cycleWith(n: number, bad?: string) {
  const names = Array.from({ length: n }, (_, i) => `svc-${i}`);
  const source = new CountingSource(names, (s) => (s === bad ? 0.3 : 0.001));
  const store = new FakeVirtualServiceStore();
  const cache = new LaggingCache(store);
  cache.addNamespace('shop', true);
  const started = new Date(T0 - 3_600_000).toISOString();
  for (const name of names) store.put(virtualService(http(`green@${name}:0 blue@${name}:100`), { [CUTOVER_STARTED_AT]: started }, name, 'shop'));
  cache.sync();
  const recorder = new Recorder();
  const loop = new WatcherLoop({
    objects: cache,
    evaluator: new MetricsCycleEvaluator({ source, config: defaultWatcherConfig() }),
    writer: new VirtualServicePatcher(store, { mesh: DEFAULT_MESH }),
    events: recorder,
    alerts: recorder.sink,
    promoter: recorder,
    elector: { isLeader: () => true },
    clock: new FakeClock(),
    metrics: recorder,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    mesh: DEFAULT_MESH,
    config: loopConfig(),
  });
  const report = await loop.runCycle();
  return { source, store, recorder, report };
}

describe('Prometheus queries per watcher cycle', () => {
  it('stays the same for 1, 10 and 100 guarded services', async () => {
    const counts = [];
    for (const n of [1, 10, 100]) {
      const { source, report } = await cycleWith(n);
      expect(report).toMatchObject({ ran: true, guarded: n, evaluated: n, rollbacks: 0 });
      counts.push(source.queries);
    }
    expect(counts).toEqual([2, 2, 2]);
  });

  it('still finds and rolls back the one breached service among 100', async () => {
    const { source, store, recorder } = await cycleWith(100, 'svc-42');
    expect(source.queries).toBe(2);
    expect(recorder.verdicts.filter((v) => v === 'breached')).toHaveLength(1);
    expect(routesOf(store.current('shop', 'svc-42'), 'cluster.local').map((r) => subsetShare(r, 'green'))).toEqual([100]);
    expect(routesOf(store.current('shop', 'svc-41'), 'cluster.local').map((r) => subsetShare(r, 'green'))).toEqual([0]);
    expect(recorder.alerts.map((a) => [a.labels.alertname, a.labels.service, a.labels.reason])).toEqual([['BlueGreenGuardRolledBack', 'svc-42', 'error-rate']]);
  });
});
