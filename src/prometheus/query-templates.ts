// The PromQL the watcher runs, as overridable templates. Every template
// aggregates `by` namespace, service and version so that one query answers for
// every guarded service at once: the number of queries per cycle does not grow
// with the number of services.

export interface ResultLabels {
  namespace: string;
  service: string;
  version: string;
}

export interface QueryTemplate {
  /** PromQL; `{{rateWindow}}` is replaced by the rule's rate window (e.g. `60s`). */
  query: string;
  /** Which labels of the result name the service's namespace, name and version. */
  labels: ResultLabels;
}

export const ISTIO_LABELS: ResultLabels = {
  namespace: 'destination_service_namespace',
  service: 'destination_service_name',
  version: 'destination_version',
};

const BY = 'destination_service_namespace, destination_service_name, destination_version';
const REQUESTS = `rate(istio_requests_total{reporter="destination"}[{{rateWindow}}])`;

/**
 * 5xx responses over all responses, per service version. The `or 0 * …` arm
 * gives a 0 where a version has traffic but never answered 5xx (that series
 * does not exist yet); `> 0` drops instants without traffic, which then read as
 * "no data" rather than as a 0/0 NaN.
 */
export const DEFAULT_ERROR_RATIO_QUERY = [
  '(',
  `  sum by (${BY}) (rate(istio_requests_total{reporter="destination", response_code=~"5.."}[{{rateWindow}}]))`,
  `  or 0 * sum by (${BY}) (${REQUESTS})`,
  ')',
  `/ (sum by (${BY}) (${REQUESTS}) > 0)`,
].join('\n');

/** p99 in milliseconds of the requests that completed within the rate window. */
export const DEFAULT_LATENCY_P99_QUERY = `histogram_quantile(0.99, sum by (${BY}, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[{{rateWindow}}])))`;

/**
 * Open Envoy circuit breakers in the candidate's sidecars. Envoy's cluster
 * statistics are not exported by a default Istio install (they need
 * `proxyStatsMatcher`), so this template is an example, not a default.
 */
export const EXAMPLE_CIRCUIT_BREAKER_QUERY: QueryTemplate = {
  query: 'sum by (namespace, app, version) ({__name__=~"envoy_cluster_circuit_breakers_default_(cx|rq|rq_pending|rq_retry|cx_pool)_open"})',
  labels: { namespace: 'namespace', service: 'app', version: 'version' },
};

/** Error log lines per second; no standard metric exists, so this is an example only. */
export const EXAMPLE_ERROR_LOGS_QUERY: QueryTemplate = {
  query: 'sum by (namespace, app, version) (rate(log_messages_total{level="error"}[{{rateWindow}}]))',
  labels: { namespace: 'namespace', service: 'app', version: 'version' },
};

export function renderQuery(template: string, vars: { rateWindowSeconds: number }): string {
  return template.replaceAll('{{rateWindow}}', `${vars.rateWindowSeconds}s`);
}

/** The key results are split by: one string per (namespace, service, version). */
export function seriesKey(namespace: string, service: string, version: string): string {
  return `${namespace}/${service}/${version}`;
}

/** The series key of a result's labels, or undefined when a label is missing. */
export function seriesKeyOf(labels: Record<string, string>, names: ResultLabels): string | undefined {
  const namespace = labels[names.namespace];
  const service = labels[names.service];
  const version = labels[names.version];
  if (namespace === undefined || service === undefined || version === undefined) return undefined;
  return seriesKey(namespace, service, version);
}
