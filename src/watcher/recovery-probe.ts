// Measures what judgeRecovery needs from Prometheus, for one service: its
// stable version now and over the baseline before the cutover, and every
// workload that called it (Istio's `source_workload`) the same way. Six
// instant queries per service, only while a recovery is being watched.
import type { MetricsSource, Sample } from '../prometheus/metrics-source.js';
import type { CallerLevel, Level, RecoveryMeasurement } from './recovery.js';

export interface RecoveryTarget {
  namespace: string;
  service: string;
  /** The stable subset's `destination_version`. */
  stableVersion: string;
}

export interface RecoveryTimes {
  nowSeconds: number;
  /** When the cutover began: the baseline ends here. */
  cutoverStartedSeconds: number;
  /** The rate window of "now": never reaching back before the rollback, where the stable version had less traffic. */
  nowWindowSeconds: number;
  baselineSeconds: number;
}

const quote = (v: string) => JSON.stringify(v);

/**
 * The instants a recovery is measured at, as the watcher and `evaluate` both take them: the
 * baseline ends when the cutover began (the rollback when that is not known), and "now" never
 * reaches back before the rollback, where the stable version had less traffic.
 */
export function recoveryTimes(
  policy: { rateWindowSeconds: number; baselineSeconds: number },
  nowSeconds: number,
  rolledBackSeconds: number,
  cutoverStartedSeconds: number | undefined,
): RecoveryTimes {
  return {
    nowSeconds,
    cutoverStartedSeconds: cutoverStartedSeconds ?? rolledBackSeconds,
    nowWindowSeconds: Math.min(policy.rateWindowSeconds, nowSeconds - rolledBackSeconds),
    baselineSeconds: policy.baselineSeconds,
  };
}

export async function measureRecovery(source: MetricsSource, target: RecoveryTarget, times: RecoveryTimes): Promise<RecoveryMeasurement> {
  const stable = `reporter="destination", destination_service_namespace=${quote(target.namespace)}, destination_service_name=${quote(target.service)}, destination_version=${quote(target.stableVersion)}`;
  const calledBy = `sum by (source_workload, source_workload_namespace) (rate(istio_requests_total{reporter="destination", destination_service_namespace=${quote(target.namespace)}, destination_service_name=${quote(target.service)}}[${times.baselineSeconds}s])) > 0`;
  const nowWindow = `${Math.max(1, Math.round(times.nowWindowSeconds))}s`;
  const baseWindow = `${times.baselineSeconds}s`;
  const [now, baseline, callersBefore, callersNow] = await Promise.all([
    level(source, stable, nowWindow, times.nowSeconds),
    level(source, stable, baseWindow, times.cutoverStartedSeconds),
    source.instantQuery(calledBy, times.cutoverStartedSeconds),
    source.instantQuery(calledBy, times.nowSeconds),
  ]);
  const workloads = new Map<string, { name: string; namespace: string }>();
  for (const s of [...callersBefore, ...callersNow]) {
    const name = s.labels.source_workload;
    const namespace = s.labels.source_workload_namespace;
    if (name && namespace && name !== 'unknown') workloads.set(`${namespace}/${name}`, { name, namespace });
  }
  const callers = await Promise.all(
    [...workloads.entries()].map(async ([workload, w]): Promise<CallerLevel> => {
      const sel = `reporter="destination", destination_workload=${quote(w.name)}, destination_workload_namespace=${quote(w.namespace)}`;
      const [errorRatio, baselineErrorRatio] = await Promise.all([ratio(source, sel, nowWindow, times.nowSeconds), ratio(source, sel, baseWindow, times.cutoverStartedSeconds)]);
      return { workload, errorRatio, baselineErrorRatio };
    }),
  );
  return { now, baseline, callers };
}

async function level(source: MetricsSource, sel: string, window: string, atSeconds: number): Promise<Level> {
  const [errorRatio, p99] = await Promise.all([
    ratio(source, sel, window, atSeconds),
    source.instantQuery(`histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${sel}}[${window}])))`, atSeconds),
  ]);
  return { errorRatio, latencyP99Ms: single(p99) };
}

async function ratio(source: MetricsSource, sel: string, window: string, atSeconds: number): Promise<number | null> {
  const q = `(sum(rate(istio_requests_total{${sel}, response_code=~"5.."}[${window}])) or vector(0)) / (sum(rate(istio_requests_total{${sel}}[${window}])) > 0)`;
  return single(await source.instantQuery(q, atSeconds));
}

function single(samples: readonly Sample[]): number | null {
  const v = samples[0]?.value;
  return v === undefined || !Number.isFinite(v) ? null : v;
}
