// One cycle's metrics for every service at once: a fixed set of queries
// (two, plus one per optional early-window rule that is configured), whatever
// the number of guarded services; results are split per service afterwards.
import type { WatcherConfig } from '../config/watcher-config.js';
import type { MetricsSource, RangeSeries, Sample } from '../prometheus/metrics-source.js';
import { renderQuery, seriesKey, seriesKeyOf, type QueryTemplate } from '../prometheus/query-templates.js';
import type { ServiceKey } from './verdict.js';

/** Values at evenly spaced instants, oldest first, the last one at the evaluation instant; null: no data there (no series, or NaN). */
export type History = Array<number | null>;

export type QueryOutcome<T> = { status: 'ok'; byService: ReadonlyMap<string, T> } | { status: 'error'; error: string };

export interface MetricsSnapshot {
  /** The evaluation instant (Unix seconds). */
  atSeconds: number;
  /** 5xx ratio at every `errorRate.stepSeconds` from `atSeconds − errorRate.windowSeconds` to `atSeconds`. */
  errorRatio: QueryOutcome<History>;
  /** p99 (ms) of each of the last `latencyP99.consecutiveMinutes` one-minute windows ending at `atSeconds`. */
  latencyP99Ms: QueryOutcome<History>;
  /** Absent when `queries.errorLogs` is not configured. */
  errorLogsPerSecond?: QueryOutcome<number>;
  /** Absent when `queries.circuitBreakerOpen` is not configured. */
  circuitBreakerOpen?: QueryOutcome<number>;
}

export function keyOf(service: ServiceKey): string {
  return seriesKey(service.namespace, service.service, service.version);
}

/** Whole-minute windows: a p99 per minute needs the rate window to be exactly one step. */
export const MINUTE_SECONDS = 60;

export interface CollectOptions {
  /** Skip the early-window queries when no guarded service is in its early window. Default true. */
  earlyWindow?: boolean;
}

export async function collectMetrics(source: MetricsSource, atSeconds: number, config: WatcherConfig, options: CollectOptions = {}): Promise<MetricsSnapshot> {
  const er = config.errorRate;
  const minutes = config.latencyP99.consecutiveMinutes;
  const early = options.earlyWindow ?? true;
  const { errorLogs, circuitBreakerOpen } = config.queries;

  const [errorRatio, latencyP99Ms, logs, breakers] = await Promise.all([
    history(source, config.queries.errorRatio, er.rateWindowSeconds, atSeconds, er.windowSeconds, er.stepSeconds),
    history(source, config.queries.latencyP99, MINUTE_SECONDS, atSeconds, (minutes - 1) * MINUTE_SECONDS, MINUTE_SECONDS),
    early && errorLogs ? instant(source, errorLogs, MINUTE_SECONDS, atSeconds) : undefined,
    early && circuitBreakerOpen ? instant(source, circuitBreakerOpen, MINUTE_SECONDS, atSeconds) : undefined,
  ]);
  const snapshot: MetricsSnapshot = { atSeconds, errorRatio, latencyP99Ms };
  if (logs) snapshot.errorLogsPerSecond = logs;
  if (breakers) snapshot.circuitBreakerOpen = breakers;
  return snapshot;
}

async function history(source: MetricsSource, template: QueryTemplate, rateWindowSeconds: number, atSeconds: number, spanSeconds: number, stepSeconds: number): Promise<QueryOutcome<History>> {
  const startSeconds = atSeconds - spanSeconds;
  let series: RangeSeries[];
  try {
    series = await source.rangeQuery(renderQuery(template.query, { rateWindowSeconds }), { startSeconds, endSeconds: atSeconds, stepSeconds });
  } catch (err) {
    return { status: 'error', error: errorText(err) };
  }
  const steps = Math.round(spanSeconds / stepSeconds) + 1;
  const byService = new Map<string, History>();
  for (const s of series) {
    const key = seriesKeyOf(s.labels, template.labels);
    if (key === undefined) continue;
    let values = byService.get(key);
    if (!values) {
      values = new Array<number | null>(steps).fill(null);
      byService.set(key, values);
    }
    for (const p of s.points) {
      const index = Math.round((p.atSeconds - startSeconds) / stepSeconds);
      if (index < 0 || index >= steps || Number.isNaN(p.value)) continue;
      // Several series for one service (a custom query that does not aggregate): the worst counts.
      const previous = values[index];
      values[index] = previous === null || previous === undefined ? p.value : Math.max(previous, p.value);
    }
  }
  return { status: 'ok', byService };
}

async function instant(source: MetricsSource, template: QueryTemplate, rateWindowSeconds: number, atSeconds: number): Promise<QueryOutcome<number>> {
  let samples: Sample[];
  try {
    samples = await source.instantQuery(renderQuery(template.query, { rateWindowSeconds }), atSeconds);
  } catch (err) {
    return { status: 'error', error: errorText(err) };
  }
  const byService = new Map<string, number>();
  for (const s of samples) {
    const key = seriesKeyOf(s.labels, template.labels);
    if (key === undefined || Number.isNaN(s.value)) continue;
    byService.set(key, Math.max(byService.get(key) ?? -Infinity, s.value));
  }
  return { status: 'ok', byService };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
