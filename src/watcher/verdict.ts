// The closed set of outcomes of one evaluation: the contract between the pure
// threshold evaluation, the watcher loop, `bluegreen-guard evaluate` and alerts.

export const WATCH_RULE_IDS = [
  'error-rate',
  'latency-p99',
  'smoke-test',
  'critical-alert',
  'early-error-rate',
  'early-latency-p99',
  'error-logs',
  'circuit-breaker',
] as const;
export type WatchRuleId = (typeof WATCH_RULE_IDS)[number];

export type FindingStatus = 'ok' | 'warning' | 'breached' | 'no-data' | 'error';
export type Verdict = 'healthy' | 'warning' | 'breached' | 'no-data' | 'error';

/**
 * Worst first, the one order of outcomes: any breach wins (the seed: roll back
 * if any of them occurs); then the guard being blind, then missing data, then
 * warnings. Each is its own outcome so the loop can act on it; none is a
 * silent pass.
 */
export const VERDICT_ORDER: readonly Verdict[] = ['breached', 'error', 'no-data', 'warning', 'healthy'];

/** The worst of some verdicts (one service's findings, or its candidates); undefined when there are none. */
export function worst(verdicts: Iterable<Verdict>): Verdict | undefined {
  let rank = VERDICT_ORDER.length;
  for (const v of verdicts) rank = Math.min(rank, VERDICT_ORDER.indexOf(v));
  return VERDICT_ORDER[rank];
}

/** The verdict a finding alone would give. */
export function verdictOfStatus(status: FindingStatus): Verdict {
  return status === 'ok' ? 'healthy' : status;
}

export interface WatchFinding {
  rule: WatchRuleId;
  status: FindingStatus;
  value: number | null;
  threshold: number | null;
  message: string;
}

export interface Evaluation {
  verdict: Verdict;
  findings: WatchFinding[];
}

/** The service a verdict is about, as Istio's metrics label it. */
export interface ServiceKey {
  namespace: string;
  service: string;
  /** `destination_version`: the candidate subset's `version` label. */
  version: string;
}
