// Exact Istio metric history as OpenMetrics text, for backfilling a real
// Prometheus (see prometheus.ts). Each service version's traffic is described
// per scrape interval, so a test states precisely what Prometheus will
// compute: the counters of `istio_requests_total` and the buckets of
// `istio_request_duration_milliseconds` advance at every sample by the
// interval's counts.
//
//   istioHistory({ startSeconds, endSeconds, services: [{ key, traffic: (end) => ({ requests: 150, errors: 0, latency: [[250, 150]] }) }] })
//
// `traffic(intervalEnd)` describes the interval (intervalEnd − step, intervalEnd]; null means no requests.

export interface ServiceVersion {
  namespace: string;
  service: string;
  version: string;
}

export interface IntervalTraffic {
  /** Requests completed in the interval. */
  requests: number;
  /** Of which answered 503. */
  errors: number;
  /** [bucket upper bound in ms, requests in that bucket] — the counts must add up to `requests`. */
  latency: Array<[number, number]>;
}

export interface HistorySpec {
  /** First sample (Unix seconds); counters start at 0 there. */
  startSeconds: number;
  /** Last sample, included. */
  endSeconds: number;
  /** Default 15. */
  stepSeconds?: number;
  services: Array<{
    key: ServiceVersion;
    traffic: (intervalEndSeconds: number) => IntervalTraffic | null;
    /** Which Istio proxy reports; default `destination`. */
    reporter?: 'destination' | 'source';
  }>;
}

/** Istio's default bucket bounds for istio_request_duration_milliseconds. */
export const ISTIO_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

interface Series {
  name: string;
  labels: Record<string, string>;
  points: string[];
}

export function istioHistory(spec: HistorySpec): string {
  const step = spec.stepSeconds ?? 15;
  const requests: Series[] = [];
  const durations: Series[] = [];
  for (const s of spec.services) {
    const reporter = s.reporter ?? 'destination';
    const base = {
      reporter,
      source_workload: 'productpage-v1',
      source_workload_namespace: s.key.namespace,
      destination_service: `${s.key.service}.${s.key.namespace}.svc.cluster.local`,
      destination_service_name: s.key.service,
      destination_service_namespace: s.key.namespace,
      destination_workload: `${s.key.service}-${s.key.version}`,
      destination_workload_namespace: s.key.namespace,
      destination_version: s.key.version,
      request_protocol: 'http',
    };
    const ok: Series = { name: 'istio_requests_total', labels: { ...base, response_code: '200' }, points: [] };
    const failed: Series = { name: 'istio_requests_total', labels: { ...base, response_code: '503' }, points: [] };
    const buckets: Series[] = [...ISTIO_BUCKETS_MS.map(String), '+Inf'].map((le) => ({ name: 'istio_request_duration_milliseconds_bucket', labels: { ...base, le }, points: [] }));
    const count: Series = { name: 'istio_request_duration_milliseconds_count', labels: base, points: [] };
    const sum: Series = { name: 'istio_request_duration_milliseconds_sum', labels: base, points: [] };

    let okTotal = 0;
    let errorTotal = 0;
    let sumMs = 0;
    const perBucket = new Array<number>(buckets.length).fill(0);
    for (let t = spec.startSeconds; t <= spec.endSeconds; t += step) {
      const traffic = t === spec.startSeconds ? null : s.traffic(t);
      if (traffic) {
        const observed = traffic.latency.reduce((n, [, c]) => n + c, 0);
        if (observed !== traffic.requests || traffic.errors > traffic.requests) {
          throw new Error(`istioHistory: ${s.key.service}/${s.key.version} at ${t}: latency counts add up to ${observed}, errors ${traffic.errors}, requests ${traffic.requests}`);
        }
        okTotal += traffic.requests - traffic.errors;
        errorTotal += traffic.errors;
        for (const [boundMs, c] of traffic.latency) {
          const index = ISTIO_BUCKETS_MS.findIndex((b) => boundMs <= b);
          for (let i = index === -1 ? ISTIO_BUCKETS_MS.length : index; i < perBucket.length; i++) perBucket[i] = (perBucket[i] ?? 0) + c;
          sumMs += boundMs * c;
        }
      }
      const at = ` ${t}`;
      ok.points.push(`${okTotal}${at}`);
      failed.points.push(`${errorTotal}${at}`);
      buckets.forEach((b, i) => b.points.push(`${perBucket[i] ?? 0}${at}`));
      count.points.push(`${okTotal + errorTotal}${at}`);
      sum.points.push(`${sumMs}${at}`);
    }
    requests.push(ok, failed);
    durations.push(...buckets, count, sum);
  }
  return [
    '# HELP istio_requests Total requests.',
    '# TYPE istio_requests counter',
    ...lines(requests),
    '# HELP istio_request_duration_milliseconds Request duration.',
    '# TYPE istio_request_duration_milliseconds histogram',
    ...lines(durations),
    '# EOF',
    '',
  ].join('\n');
}

function lines(series: Series[]): string[] {
  const out: string[] = [];
  for (const s of series) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
      .join(',');
    for (const p of s.points) out.push(`${s.name}{${labels}} ${p}`);
  }
  return out;
}
