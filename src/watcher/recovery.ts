// The seed's "Monitor recovery", judged: after a rollback, the stable
// version's 5xx ratio and p99 must come back to what they were before the
// cutover within the recovery window, and the services calling this one
// (Istio's `source_workload`) must not show rising 5xx ("no cascading
// failures in dependent services"). Pure: measurements in, a verdict out.
import { RECOVERY } from '../istio/annotations.js';

export interface RecoveryPolicy {
  enabled: boolean;
  /** How long after the rollback the stable version may take to recover (seed: 2 minutes). */
  windowSeconds: number;
  /** The pre-cutover baseline is the rate over this long before the cutover began. */
  baselineSeconds: number;
  /** The rate window of the values measured now. */
  rateWindowSeconds: number;
  /** Recovered when the 5xx ratio is at most the baseline plus this (absolute, 0.01 = 1 point). */
  errorRatioMargin: number;
  /** … and p99 at most the baseline times (1 + this), … */
  latencyP99MarginRatio: number;
  /**
   * … or at most the baseline plus this many milliseconds, whichever is more: a p99 of a few
   * milliseconds moves by more than a quarter from one minute to the next (and Istio's duration
   * buckets are 10, 25, 50 ms wide there), which is no failed recovery.
   */
  latencyP99MarginMs: number;
}

export const DEFAULT_RECOVERY_POLICY: RecoveryPolicy = { enabled: true, windowSeconds: 120, baselineSeconds: 300, rateWindowSeconds: 60, errorRatioMargin: 0.01, latencyP99MarginRatio: 0.25, latencyP99MarginMs: 50 };

export interface Level {
  errorRatio: number | null;
  latencyP99Ms: number | null;
}

export interface CallerLevel {
  /** `shop/productpage-v1`. */
  workload: string;
  errorRatio: number | null;
  baselineErrorRatio: number | null;
}

export interface RecoveryMeasurement {
  now: Level;
  baseline: Level;
  callers: CallerLevel[];
}

export type RecoveryVerdict =
  | { kind: 'recovered'; detail: string }
  /** Not yet, and the window is still open. */
  | { kind: 'pending'; detail: string }
  | { kind: 'failed'; detail: string };

/** What the watcher records between cycles (annotation `bluegreen-guard.io/recovery`). */
export interface RecoveryRecord {
  state: 'pending' | 'recovered' | 'failed';
  /** When the rollback happened (ISO 8601). */
  rolledBackAt: string;
  /** The rollback alert's `reason` and `version` labels, to resolve it. */
  alertReason: string;
  candidateVersion: string;
  detail?: string;
}

export function judgeRecovery(m: RecoveryMeasurement, policy: RecoveryPolicy, elapsedSeconds: number): RecoveryVerdict {
  const problems: string[] = [];
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  const baseRatio = m.baseline.errorRatio ?? 0;
  if (m.now.errorRatio === null) problems.push('the stable version has no traffic to judge');
  else if (m.now.errorRatio > baseRatio + policy.errorRatioMargin) {
    problems.push(`stable 5xx ${pct(m.now.errorRatio)} > baseline ${m.baseline.errorRatio === null ? 'n/a (taken as 0 %)' : pct(baseRatio)} + ${pct(policy.errorRatioMargin)}`);
  }
  if (m.now.latencyP99Ms !== null && m.baseline.latencyP99Ms !== null) {
    const base = m.baseline.latencyP99Ms;
    const limit = Math.max(base * (1 + policy.latencyP99MarginRatio), base + policy.latencyP99MarginMs);
    if (m.now.latencyP99Ms > limit) {
      const margin = base * policy.latencyP99MarginRatio >= policy.latencyP99MarginMs ? `${Math.round(policy.latencyP99MarginRatio * 100)} %` : `${policy.latencyP99MarginMs} ms`;
      problems.push(`stable p99 ${Math.round(m.now.latencyP99Ms)} ms > baseline ${Math.round(base)} ms + ${margin}`);
    }
  }
  for (const c of m.callers) {
    if (c.errorRatio === null) continue;
    const base = c.baselineErrorRatio ?? 0;
    if (c.errorRatio > base + policy.errorRatioMargin) problems.push(`caller ${c.workload} 5xx ${pct(c.errorRatio)} > its baseline ${c.baselineErrorRatio === null ? 'n/a (taken as 0 %)' : pct(base)} + ${pct(policy.errorRatioMargin)}`);
  }
  const measured = `stable 5xx ${m.now.errorRatio === null ? 'n/a' : pct(m.now.errorRatio)} (baseline ${m.baseline.errorRatio === null ? 'n/a' : pct(baseRatio)}), p99 ${m.now.latencyP99Ms === null ? 'n/a' : `${Math.round(m.now.latencyP99Ms)} ms`} (baseline ${m.baseline.latencyP99Ms === null ? 'n/a' : `${Math.round(m.baseline.latencyP99Ms)} ms`}), ${m.callers.length} caller${m.callers.length === 1 ? '' : 's'} checked`;
  // Recovered only on a whole rate window of traffic after the rollback: a few good seconds are not a recovery.
  if (problems.length === 0 && elapsedSeconds >= Math.min(policy.rateWindowSeconds, policy.windowSeconds)) return { kind: 'recovered', detail: `recovered in ${Math.round(elapsedSeconds)} s: ${measured}` };
  if (problems.length === 0) return { kind: 'pending', detail: `level back, waiting for a whole ${policy.rateWindowSeconds} s rate window after the rollback (${measured})` };
  const detail = `${problems.join('; ')} (${measured})`;
  return elapsedSeconds >= policy.windowSeconds ? { kind: 'failed', detail: `not recovered ${Math.round(elapsedSeconds)} s after the rollback: ${detail}` } : { kind: 'pending', detail };
}

export function parseRecovery(value: string | undefined): RecoveryRecord | undefined {
  if (value === undefined) return undefined;
  try {
    const o = JSON.parse(value) as Partial<RecoveryRecord>;
    if ((o.state === 'pending' || o.state === 'recovered' || o.state === 'failed') && typeof o.rolledBackAt === 'string') {
      return { state: o.state, rolledBackAt: o.rolledBackAt, alertReason: o.alertReason ?? 'breach', candidateVersion: o.candidateVersion ?? '', ...(o.detail ? { detail: o.detail } : {}) };
    }
  } catch {
    // A malformed record is not followed up; the next rollback writes a new one.
  }
  return undefined;
}

export function recoveryAnnotation(record: RecoveryRecord): Record<string, string> {
  return { [RECOVERY]: JSON.stringify(record) };
}
