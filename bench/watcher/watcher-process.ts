// Part 2's process: the watcher's evaluation round (MetricsCycleEvaluator:
// collectMetrics's fixed queries, split per service, then evaluateService for
// every candidate) against a real Prometheus, repeated, with the queries,
// bytes and time of each cycle and the process's resident memory.
import { performance } from 'node:perf_hooks';
import { parseWatcherConfig } from '../../src/config/watcher-config.js';
import type { VirtualService } from '../../src/istio/types.js';
import { PrometheusMetricsSource, type QueryEvent } from '../../src/prometheus/prometheus-metrics-source.js';
import { MetricsCycleEvaluator } from '../../src/watcher/cycle-evaluator.js';
import type { WatchTarget } from '../../src/watcher/loop.js';
import { childInput, processMemory, reportStartFailure, serveParent } from '../lib/bench-child.js';
import { behaviourOf, meshServices } from './istio-openmetrics.js';

export interface CycleMeasurement {
  durationMs: number;
  queries: number;
  bytesRead: number;
  /** The longest query (they run in parallel: the cycle waits for the slowest). */
  slowestQueryMs: number;
  /** Time after the last answer: splitting results per service and judging every one. */
  evaluateMs: number;
  /** Bytes of each query's answer, in the order they were asked. */
  bytesPerQuery: number[];
  verdicts: Record<string, number>;
}

export interface WatcherProcessInput {
  prometheusUrl: string;
  services: number;
  atSeconds: number;
  cycles: number;
  /** Read the chart's recorded series (queries.recordingRules) instead of the raw counters and buckets. */
  recordingRules: boolean;
}

export interface WatcherProcessResult {
  services: number;
  cycles: CycleMeasurement[];
  rssBytes: number;
  peakRssBytes: number;
}

function target(namespace: string, service: string, atSeconds: number): WatchTarget {
  const vs: VirtualService = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: service, namespace, annotations: { 'bluegreen-guard.io/stable-subset': 'green' } },
    spec: { hosts: [service], http: [{ route: [{ destination: { host: service, subset: 'green' }, weight: 0 }, { destination: { host: service, subset: 'blue' }, weight: 100 }] }] },
  };
  // Past the early window: the default queries only (the early-window ones are examples, not defaults).
  return { virtualService: vs, key: { namespace, service, version: 'v2' }, subset: 'blue', cutoverStartedAt: new Date((atSeconds - 3600) * 1000) };
}

async function main(): Promise<void> {
  const { prometheusUrl, services, atSeconds, cycles, recordingRules } = childInput<WatcherProcessInput>();
  const config = parseWatcherConfig({ queries: { recordingRules } });
  let events: QueryEvent[] = [];
  const source = new PrometheusMetricsSource({ url: prometheusUrl, timeoutMs: 30_000, onQuery: (e) => events.push(e) });
  const evaluator = new MetricsCycleEvaluator({ source, config });
  const mesh = meshServices(services);
  const targets = mesh.map((s) => target(s.namespace, s.service, atSeconds));
  const expectedBreached = mesh.filter((_, i) => behaviourOf(i) !== 'healthy').length;
  const at = new Date(atSeconds * 1000);

  const measured: CycleMeasurement[] = [];
  for (let c = 0; c < cycles; c++) {
    events = [];
    const before = { ...source.stats };
    const started = performance.now();
    let lastAnswer = started;
    const evaluations = await evaluator.evaluate(targets, at);
    const durationMs = performance.now() - started;
    for (const e of events) lastAnswer = Math.max(lastAnswer, started + e.durationMs);
    const verdicts: Record<string, number> = {};
    for (const e of evaluations) verdicts[e.verdict] = (verdicts[e.verdict] ?? 0) + 1;
    // A cycle that judged wrongly measured nothing worth reporting.
    if ((verdicts.breached ?? 0) !== expectedBreached || evaluations.length !== services || source.stats.failures > before.failures) {
      throw new Error(`cycle ${c} over ${services} services: verdicts ${JSON.stringify(verdicts)}, expected ${expectedBreached} breached; query failures ${source.stats.failures - before.failures}`);
    }
    measured.push({
      durationMs,
      queries: source.stats.queries - before.queries,
      bytesRead: source.stats.bytesRead - before.bytesRead,
      slowestQueryMs: Math.max(...events.map((e) => e.durationMs)),
      evaluateMs: performance.now() - lastAnswer,
      bytesPerQuery: events.map((e) => e.bytes),
      verdicts,
    });
  }
  const memory = processMemory(process.pid);
  const result: WatcherProcessResult = { services, cycles: measured, ...memory };
  serveParent(result, {});
}

main().catch(reportStartFailure);
