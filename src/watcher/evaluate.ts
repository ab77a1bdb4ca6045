// What the watcher decides about one service, from inputs alone: the cycle's
// metrics snapshot, the live smoke test, the critical alerts firing now. No
// I/O here; the loop and `bluegreen-guard evaluate` gather the inputs.
import type { WatcherConfig } from '../config/watcher-config.js';
import { alertsForService, type CriticalAlerts } from '../alertmanager/firing-alert-source.js';
import { keyOf, MINUTE_SECONDS, type History, type MetricsSnapshot, type QueryOutcome } from './metrics-snapshot.js';
import type { SmokeTestResult } from './smoke-test.js';
import { formatMs, formatRatio, judgeHistory } from './thresholds.js';
import { verdictOfStatus, worst, type Evaluation, type FindingStatus, type ServiceKey, type Verdict, type WatchFinding, type WatchRuleId } from './verdict.js';

export interface EvaluationContext {
  /** When the current cutover began (Unix seconds). Absent or null: no early-window warnings. */
  cutoverStartedAtSeconds?: number | null;
  /** This cycle's smoke test for the service. Absent: no smoke test configured, the rule is not evaluated. */
  smokeTest?: SmokeTestResult;
  /** This cycle's critical alerts (all services). Absent: no Alertmanager configured, the rule is not evaluated. */
  criticalAlerts?: CriticalAlerts;
}

export function evaluateService(snapshot: MetricsSnapshot, service: ServiceKey, context: EvaluationContext, config: WatcherConfig): Evaluation {
  const key = keyOf(service);
  const who = `${service.namespace}/${service.service} version ${service.version}`;
  const current = sinceCutover(snapshot, key, context.cutoverStartedAtSeconds, config);
  const findings: WatchFinding[] = [errorRate(current, key, who, config), latencyP99(current, key, who, config)];
  if (context.smokeTest) findings.push(smokeTest(context.smokeTest));
  if (context.criticalAlerts) findings.push(criticalAlert(context.criticalAlerts, service));
  if (inEarlyWindow(snapshot.atSeconds, context.cutoverStartedAtSeconds, config)) {
    findings.push(...earlyWindow(snapshot, key, who, config));
  }
  return { verdict: verdictOf(findings), findings };
}

/** The worst finding decides (VERDICT_ORDER); no findings at all is healthy. */
export function verdictOf(findings: readonly WatchFinding[]): Verdict {
  return worst(findings.map((f) => verdictOfStatus(f.status))) ?? 'healthy';
}

/**
 * Samples taken before the current cutover began belong to an earlier one
 * (e.g. the errors that caused the last rollback): they count as no data, so
 * a re-cutover of a fixed version is judged on its own traffic alone. Only
 * `key`'s histories are kept: this runs once per service, and copying every
 * service's would make a cycle quadratic in the number of services.
 */
export function sinceCutover(snapshot: MetricsSnapshot, key: string, cutoverStartedAtSeconds: number | null | undefined, config: WatcherConfig): MetricsSnapshot {
  if (cutoverStartedAtSeconds === null || cutoverStartedAtSeconds === undefined) return snapshot;
  const mask = (outcome: QueryOutcome<History>, stepSeconds: number): QueryOutcome<History> => {
    if (outcome.status === 'error') return outcome;
    const history = outcome.byService.get(key);
    const byService = new Map<string, History>();
    if (history) {
      const last = history.length - 1;
      byService.set(key, history.map((v, i) => (snapshot.atSeconds - (last - i) * stepSeconds < cutoverStartedAtSeconds ? null : v)));
    }
    return { status: 'ok', byService };
  };
  return {
    ...snapshot,
    errorRatio: mask(snapshot.errorRatio, config.errorRate.stepSeconds),
    latencyP99Ms: mask(snapshot.latencyP99Ms, MINUTE_SECONDS),
  };
}

/** The first `earlyWindow.durationSeconds` after the cutover began, start included, end excluded. */
export function inEarlyWindow(atSeconds: number, cutoverStartedAtSeconds: number | null | undefined, config: WatcherConfig): boolean {
  if (cutoverStartedAtSeconds === null || cutoverStartedAtSeconds === undefined) return false;
  return atSeconds >= cutoverStartedAtSeconds && atSeconds < cutoverStartedAtSeconds + config.earlyWindow.durationSeconds;
}

function finding(rule: WatchRuleId, status: FindingStatus, value: number | null, threshold: number | null, message: string): WatchFinding {
  return { rule, status, value, threshold, message };
}

function lookup<T>(outcome: QueryOutcome<T>, key: string): { error: string } | { value: T | undefined } {
  return outcome.status === 'error' ? { error: outcome.error } : { value: outcome.byService.get(key) };
}

function errorRate(snapshot: MetricsSnapshot, key: string, who: string, config: WatcherConfig): WatchFinding {
  const { ratio, windowSeconds, rateWindowSeconds } = config.errorRate;
  const found = lookup(snapshot.errorRatio, key);
  if ('error' in found) return finding('error-rate', 'error', null, ratio, `cannot read the 5xx ratio of ${who}: ${found.error}`);
  const j = judgeHistory(found.value, (v) => v >= ratio);
  if (j.kind === 'no-data') {
    return finding('error-rate', 'no-data', null, ratio, `no requests to ${who} in the last ${rateWindowSeconds} s (or no such series): the 5xx ratio cannot be judged`);
  }
  const steps = found.value?.length ?? 0;
  if (j.level >= ratio) {
    return finding('error-rate', 'breached', j.level, ratio, `5xx ratio of ${who} ≥ ${formatRatio(ratio)} throughout the last ${windowSeconds} s (lowest ${formatRatio(j.level)}, now ${formatRatio(j.current)})`);
  }
  const detail = j.reached > 0 ? `≥ ${formatRatio(ratio)} only for the last ${j.reached} of ${steps} steps` : `lowest ${formatRatio(j.level)} over the last ${windowSeconds} s`;
  return finding('error-rate', 'ok', j.level, ratio, `5xx ratio of ${who} now ${formatRatio(j.current)}, not sustained over ${windowSeconds} s (${detail})`);
}

function latencyP99(snapshot: MetricsSnapshot, key: string, who: string, config: WatcherConfig): WatchFinding {
  const { thresholdMs, consecutiveMinutes } = config.latencyP99;
  const found = lookup(snapshot.latencyP99Ms, key);
  if ('error' in found) return finding('latency-p99', 'error', null, thresholdMs, `cannot read the p99 latency of ${who}: ${found.error}`);
  const j = judgeHistory(found.value, (v) => v > thresholdMs);
  if (j.kind === 'no-data') {
    return finding('latency-p99', 'no-data', null, thresholdMs, `no requests to ${who} in the last minute (or no such series): the p99 latency cannot be judged`);
  }
  const perMinute = describeMinutes(found.value ?? []);
  if (j.level > thresholdMs) {
    return finding('latency-p99', 'breached', j.level, thresholdMs, `p99 latency of ${who} > ${formatMs(thresholdMs)} in each of the last ${consecutiveMinutes} minutes (${perMinute})`);
  }
  return finding('latency-p99', 'ok', j.level, thresholdMs, `p99 latency of ${who} above ${formatMs(thresholdMs)} in ${j.reached} of the last ${consecutiveMinutes} consecutive minutes (${perMinute})`);
}

/** "oldest → newest" per-minute values, for messages. */
function describeMinutes(history: History): string {
  return `per minute, oldest first: ${history.map((v) => (v === null ? 'no requests' : formatMs(v))).join(', ')}`;
}

function smokeTest(result: SmokeTestResult): WatchFinding {
  const status: FindingStatus = result.outcome === 'passed' ? 'ok' : result.outcome === 'failed' ? 'breached' : 'error';
  return finding('smoke-test', status, result.httpStatus, result.expectedStatus, result.message);
}

function criticalAlert(alerts: CriticalAlerts, service: ServiceKey): WatchFinding {
  const who = `${service.namespace}/${service.service}`;
  if (alerts.status === 'error') return finding('critical-alert', 'error', null, 0, `cannot read firing alerts for ${who}: ${alerts.error}`);
  const mine = alertsForService(alerts.alerts, service.namespace, service.service);
  if (mine.length === 0) return finding('critical-alert', 'ok', 0, 0, `no active, unsilenced critical alert for ${who}`);
  const names = [...new Set(mine.map((a) => a.alertname))].join(', ');
  return finding('critical-alert', 'breached', mine.length, 0, `${mine.length} critical alert(s) firing for ${who}: ${names}`);
}

function earlyWindow(snapshot: MetricsSnapshot, key: string, who: string, config: WatcherConfig): WatchFinding[] {
  const ew = config.earlyWindow;
  const out: WatchFinding[] = [];

  const ratio = lookup(snapshot.errorRatio, key);
  out.push(
    latest('early-error-rate', ratio, ew.errorRatio, (v) => v >= ew.errorRatio, {
      what: `5xx ratio of ${who} over the last ${config.errorRate.rateWindowSeconds} s`,
      format: formatRatio,
      compare: '≥',
    }),
  );
  const p99 = lookup(snapshot.latencyP99Ms, key);
  out.push(
    latest('early-latency-p99', p99, ew.latencyP99Ms, (v) => v >= ew.latencyP99Ms, {
      what: `p99 latency of ${who} over the last minute`,
      format: formatMs,
      compare: '≥',
    }),
  );
  if (snapshot.errorLogsPerSecond) {
    out.push(
      single('error-logs', lookup(snapshot.errorLogsPerSecond, key), ew.errorLogsPerSecond, (v) => v >= ew.errorLogsPerSecond, {
        what: `error logs of ${who}`,
        format: (v) => `${Math.round(v * 1000) / 1000}/s`,
        compare: '≥',
      }),
    );
  }
  if (snapshot.circuitBreakerOpen) {
    out.push(
      single('circuit-breaker', lookup(snapshot.circuitBreakerOpen, key), ew.circuitBreakerOpen, (v) => v > ew.circuitBreakerOpen, {
        what: `open circuit breakers of ${who}`,
        format: (v) => String(v),
        compare: '>',
      }),
    );
  }
  return out;
}

interface Wording {
  what: string;
  format: (v: number) => string;
  compare: string;
}

function latest(rule: WatchRuleId, found: { error: string } | { value: History | undefined }, threshold: number, warns: (v: number) => boolean, w: Wording): WatchFinding {
  if ('error' in found) return finding(rule, 'error', null, threshold, `cannot read the ${w.what}: ${found.error}`);
  const history = found.value;
  const current = history?.[history.length - 1] ?? null;
  return single(rule, { value: current ?? undefined }, threshold, warns, w);
}

function single(rule: WatchRuleId, found: { error: string } | { value: number | undefined }, threshold: number, warns: (v: number) => boolean, w: Wording): WatchFinding {
  if ('error' in found) return finding(rule, 'error', null, threshold, `cannot read the ${w.what}: ${found.error}`);
  if (found.value === undefined) return finding(rule, 'no-data', null, threshold, `no data for the ${w.what}`);
  const v = found.value;
  if (warns(v)) return finding(rule, 'warning', v, threshold, `early window: ${w.what} is ${w.format(v)}, ${w.compare} ${w.format(threshold)}`);
  return finding(rule, 'ok', v, threshold, `early window: ${w.what} is ${w.format(v)}, within ${w.format(threshold)}`);
}
