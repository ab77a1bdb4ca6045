// Recording rules for large meshes: Prometheus computes, on its own schedule,
// the per-version request rates and p99 the rollback rules need, and the
// watcher's two queries read those few series instead of reducing every
// service's raw counters and histogram buckets inside its cycle. The cost moves
// to Prometheus's rule evaluation, spread over time; the price is freshness:
// a recorded value is up to one rule interval old when the watcher reads it.
//
// The rules are the chart's (templates/prometheusrule-recorded.yaml, with
// `watcher.recordingRules.enabled`); test/integration/evaluate-recorded.test.ts
// backfills them with promtool and runs the evaluation scenarios through
// `recordedQueries()`, so a name or an expression that drifts apart fails there.
import { ISTIO_LABELS, type QueryTemplate } from './query-templates.js';

/** The recorded series' names, by rate window (Prometheus's convention: level:metric:operations). */
export const RECORDED = {
  requests: (window: string) => `namespace_service_version:istio_requests:rate${window}`,
  errors: (window: string) => `namespace_service_version:istio_requests_5xx:rate${window}`,
  latencyP99: (window: string) => `namespace_service_version:istio_request_duration_milliseconds_p99:rate${window}`,
} as const;

/**
 * The watcher's error-ratio and p99 templates over the recorded series: the same
 * values as the default templates (query-templates.ts) at the instants Prometheus
 * evaluated the rules, with the same `or 0 *` and `> 0` arms.
 */
export function recordedQueries(): { errorRatio: QueryTemplate; latencyP99: QueryTemplate } {
  const requests = RECORDED.requests('{{rateWindow}}');
  return {
    errorRatio: {
      query: `(${RECORDED.errors('{{rateWindow}}')} or 0 * ${requests}) / (${requests} > 0)`,
      labels: { ...ISTIO_LABELS },
    },
    latencyP99: { query: RECORDED.latencyP99('{{rateWindow}}'), labels: { ...ISTIO_LABELS } },
  };
}
