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
