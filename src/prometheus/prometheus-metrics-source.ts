// MetricsSource over Prometheus's HTTP API (/api/v1/query, /api/v1/query_range)
// with Node's built-in fetch: keep-alive comes from its global agent, the
// timeout from AbortSignal, and no per-sample objects beyond the ones returned.
//
// The same API is served by scale-out PromQL layers (Thanos Query,
// VictoriaMetrics; docs/metrics-backends.md). What they add is handled here:
// - partial answers: a layer over several stores may answer from the ones that
//   responded and list the others in `warnings`. Such an answer cannot tell
//   which services are missing, so it is no answer at all (the rule reads
//   `error`, never healthy); `partial_response=false` asks Thanos to fail the
//   query instead, and a warning that is not a PromQL annotation rejects it.
// - deduplication: `dedup=true` asks Thanos to merge an HA pair's series.
// - timeouts: sent as `timeout`, enforced client side too, and reported as
//   timeouts (not as a bad query template) whichever side gave up first.
import { describeFailure } from '../http/fetch-failure.js';
import type { MetricsSource, RangeSeries, RangeWindow, Sample } from './metrics-source.js';

export interface PrometheusMetricsSourceOptions {
  /** Base URL, e.g. `http://prometheus.monitoring:9090` (a path prefix is kept). */
  url: string;
  /** Per query, client side; also sent to Prometheus as its `timeout` parameter. */
  timeoutMs: number;
  /** Called after every query, answered or not: feeds the watcher's own latency metric. */
  onQuery?: (event: QueryEvent) => void;
  /** Injected in tests only; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface QueryEvent {
  kind: 'instant' | 'range';
  durationMs: number;
  bytes: number;
  ok: boolean;
}

/** Counters for benchmarks and tests: how many queries and bytes a cycle cost. */
export interface QueryStats {
  queries: number;
  failures: number;
  bytesRead: number;
}

export class PrometheusQueryError extends Error {
  constructor(
    message: string,
    readonly promql: string,
  ) {
    super(message);
    this.name = 'PrometheusQueryError';
  }
}

interface ApiResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType: string; result: unknown };
}

/**
 * Parameters for the scale-out layers; Prometheus ignores both. Thanos's
 * defaults are dedup on and partial responses allowed: the second must be off.
 */
const SCALE_OUT_PARAMS = { partial_response: 'false', dedup: 'true' } as const;

type RawSample = { metric: Record<string, string>; value: [number, string] };
type RawSeries = { metric: Record<string, string>; values: Array<[number, string]> };

export class PrometheusMetricsSource implements MetricsSource {
  readonly stats: QueryStats = { queries: 0, failures: 0, bytesRead: 0 };
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: PrometheusMetricsSourceOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  get url(): string {
    return this.base;
  }

  async instantQuery(promql: string, atSeconds: number): Promise<Sample[]> {
    const data = await this.call('instant', '/api/v1/query', promql, { time: formatTime(atSeconds) });
    if (data.resultType !== 'vector') {
      throw new PrometheusQueryError(`Prometheus at ${this.base} returned a ${data.resultType}, not an instant vector, for: ${promql}. Fix: the query must yield a vector (aggregate with sum/max by …).`, promql);
    }
    return (data.result as RawSample[]).map((s) => ({ labels: s.metric, value: parseSampleValue(s.value[1]) }));
  }

  async rangeQuery(promql: string, window: RangeWindow): Promise<RangeSeries[]> {
    const data = await this.call('range', '/api/v1/query_range', promql, {
      start: formatTime(window.startSeconds),
      end: formatTime(window.endSeconds),
      step: `${window.stepSeconds}`,
    });
    if (data.resultType !== 'matrix') {
      throw new PrometheusQueryError(`Prometheus at ${this.base} returned a ${data.resultType}, not a matrix, for range query: ${promql}.`, promql);
    }
    return (data.result as RawSeries[]).map((s) => ({
      labels: s.metric,
      points: s.values.map(([t, v]) => ({ atSeconds: t, value: parseSampleValue(v) })),
    }));
  }

  /** True when Prometheus answers its readiness endpoint. */
  async isReady(): Promise<boolean> {
    try {
      const res = await this.fetchImpl(`${this.base}/-/ready`, { signal: AbortSignal.timeout(this.options.timeoutMs) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  private async call(kind: QueryEvent['kind'], path: string, promql: string, params: Record<string, string>): Promise<{ resultType: string; result: unknown }> {
    const started = performance.now();
    this.stats.queries += 1;
    let bytes = 0;
    let ok = false;
    try {
      const body = queryParameters(promql, params, this.options.timeoutMs);
      let res: Response;
      try {
        // POST keeps long aggregated queries out of URL length limits.
        res = await this.fetchImpl(`${this.base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (err) {
        throw new PrometheusQueryError(`Prometheus at ${this.base} could not be reached (${describeFailure(err, this.options.timeoutMs)}). Fix: check the Prometheus URL and that it is up and reachable from the watcher.`, promql);
      }
      let text: string;
      try {
        const buf = await res.arrayBuffer();
        bytes = buf.byteLength;
        text = new TextDecoder().decode(buf);
      } catch (err) {
        throw new PrometheusQueryError(`Prometheus at ${this.base} stopped answering mid-response (${describeFailure(err, this.options.timeoutMs)}).`, promql);
      }
      let parsed: ApiResponse;
      try {
        parsed = JSON.parse(text) as ApiResponse;
      } catch {
        throw new PrometheusQueryError(`Prometheus at ${this.base}${path} answered HTTP ${res.status} with a body that is not JSON (${text.slice(0, 120)}). Fix: the URL must point at Prometheus itself, not at a UI or proxy page.`, promql);
      }
      if (!res.ok || parsed.status !== 'success' || parsed.data === undefined) {
        throw new PrometheusQueryError(rejectionMessage(this.base, res.status, parsed, promql), promql);
      }
      const partial = partialWarnings(parsed.warnings);
      if (partial.length > 0) {
        throw new PrometheusQueryError(`${this.base} answered only partially (${partial.join('; ')}): a partial answer cannot tell which services are missing, so it counts as none. Fix: bring the failed store back, or check the query layer's store list.`, promql);
      }
      ok = true;
      return parsed.data;
    } finally {
      this.stats.bytesRead += bytes;
      if (!ok) this.stats.failures += 1;
      this.options.onQuery?.({ kind, durationMs: performance.now() - started, bytes, ok });
    }
  }
}

/**
 * A store behind a query layer that did not answer. Thanos Query asked with
 * `partial_response=false` fails the whole query with HTTP 422 `execution`
 * and the store API's gRPC status, e.g. "expanding series: proxy Series():
 * fetch series for {replica="b"} Addr: …: rpc error: code = Unavailable …".
 */
const STORE_FAILURE = /rpc error: code = (Unavailable|ResourceExhausted|Aborted)\b|fetch series for .*Addr:/;

/** A query's form body: the PromQL, its time parameters, the scale-out layers' parameters and the server-side timeout. */
export function queryParameters(promql: string, params: Record<string, string>, timeoutMs: number): URLSearchParams {
  return new URLSearchParams({ query: promql, ...params, ...SCALE_OUT_PARAMS, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` });
}

/** Why a query failed, with the fix that fits: a timeout or an unavailable store is not a bad template. */
export function rejectionMessage(base: string, httpStatus: number, parsed: Pick<ApiResponse, 'errorType' | 'error'>, promql: string): string {
  const reason = `HTTP ${httpStatus}, ${parsed.errorType ?? 'error'}: ${parsed.error ?? 'no detail'}`;
  if (parsed.errorType === 'timeout' || parsed.errorType === 'canceled' || /deadline ?exceeded|timed? ?out/i.test(parsed.error ?? '')) {
    return `${base} timed out on its side and gave up on the query (${reason}): ${promql}. Fix: raise prometheusTimeoutMs in the watcher configuration (the webhook: prometheus.timeoutMs), or the query layer's own limit (Prometheus --query.timeout, Thanos --query.timeout).`;
  }
  if (STORE_FAILURE.test(parsed.error ?? '')) {
    return `${base} could not read every store behind it (${reason}): ${promql}. Without a store's series the answer cannot tell which services are missing, so it counts as none. Fix: bring the failed store back, or correct the query layer's store list.`;
  }
  if (httpStatus >= 500 || parsed.errorType === 'unavailable' || parsed.errorType === 'internal') {
    return `${base} could not answer the query (${reason}): ${promql}. Fix: check the metrics backend and, behind a query layer, every store it reads.`;
  }
  return `Prometheus at ${base} rejected the query (${reason}): ${promql}. Fix: correct the query template in the watcher configuration.`;
}

/**
 * Warnings that mean data is missing. PromQL's own annotations ("PromQL
 * warning: …", "PromQL info: …", e.g. a bucket label out of order) describe
 * the computation, not missing stores, and leave the answer whole.
 */
export function partialWarnings(warnings: readonly string[] | undefined): string[] {
  return (warnings ?? []).filter((w) => !/^PromQL (warning|info):/.test(w));
}

/** Prometheus encodes sample values as strings, with `NaN`, `+Inf` and `-Inf`. */
export function parseSampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function formatTime(seconds: number): string {
  // Millisecond precision is what Prometheus keeps.
  return (Math.round(seconds * 1000) / 1000).toString();
}
