// The alerts the watcher posts, built from what it decided. Labels:
// alertname, service, namespace, severity, reason (+ virtualservice, version
// and the configured extra labels); annotations: what was measured, against
// which threshold, and what the patch did.
import { GUARD_ALERT_NAMES, guardAlert, type PostableAlert } from '../alertmanager/alert-sink.js';
import type { AlertSeverity } from '../config/watcher-config.js';
import type { RollbackResult } from './virtual-service-patcher.js';
import type { RouteChange } from './plan-rollback.js';
import type { ServiceKey, WatchFinding } from './verdict.js';

export interface AlertContext {
  virtualService: { namespace: string; name: string };
  key: ServiceKey;
  at: Date;
  extraLabels: Record<string, string>;
  generatorUrl: string | null;
  /** When Alertmanager resolves the alert unless it is sent again. */
  endsAt: Date;
}

function base(ctx: AlertContext) {
  return {
    namespace: ctx.key.namespace,
    service: ctx.key.service,
    labels: { ...ctx.extraLabels, virtualservice: ctx.virtualService.name, version: ctx.key.version },
    startsAt: ctx.at,
    endsAt: ctx.endsAt,
    generatorUrl: ctx.generatorUrl,
  };
}

const vsName = (ctx: AlertContext): string => `VirtualService ${ctx.virtualService.namespace}/${ctx.virtualService.name}`;

export function describeChanges(changes: readonly RouteChange[]): string {
  return changes.map((c) => `${c.route}: ${weights(c.before)} → ${weights(c.after)}`).join('; ');
}

function weights(w: Record<string, number>): string {
  return Object.entries(w)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** One line for annotations, events and logs: `error-rate: 5xx ratio … ≥ 5 %…`. */
export function breachReason(findings: readonly WatchFinding[]): string {
  return findings
    .filter((f) => f.status === 'breached')
    .map((f) => `${f.rule}: ${f.message}`)
    .join('; ');
}

export function rolledBackAlert(ctx: AlertContext, breached: readonly WatchFinding[], stableSubset: string, result: Extract<RollbackResult, { outcome: 'rolled-back' }>): PostableAlert {
  const first = breached[0];
  return guardAlert({
    ...base(ctx),
    alertname: GUARD_ALERT_NAMES.rolledBack,
    severity: 'warning',
    reason: first?.rule ?? 'breach',
    summary: `${vsName(ctx)} rolled back to ${stableSubset}: ${breached.map((f) => f.rule).join(', ')} breached for version ${ctx.key.version}`,
    description: breachReason(breached),
    value: first?.value ?? null,
    threshold: first?.threshold ?? null,
    patchResult: `patched and verified (${result.conflicts} conflict retries): ${describeChanges(result.changes)}`,
  });
}

export function rollbackFailedAlert(ctx: AlertContext, breached: readonly WatchFinding[], result: Exclude<RollbackResult, { outcome: 'rolled-back' | 'already-rolled-back' }>): PostableAlert {
  const first = breached[0];
  const patchResult =
    result.outcome === 'failed'
      ? result.error
      : result.outcome === 'blocked'
        ? `nothing written: ${result.blocked.map((b) => b.message).join('; ')}`
        : `patched (${describeChanges(result.changes)}) but the object read back still sends traffic to the candidate: ${result.problems.join('; ')}`;
  return guardAlert({
    ...base(ctx),
    alertname: GUARD_ALERT_NAMES.rollbackFailed,
    severity: 'critical',
    reason: `rollback-${result.outcome}`,
    summary: `${vsName(ctx)} breached (${breached.map((f) => f.rule).join(', ')}) and the automatic rollback did not complete: roll back by hand now`,
    description: breachReason(breached),
    value: first?.value ?? null,
    threshold: first?.threshold ?? null,
    patchResult,
  });
}

export function dryRunAlert(ctx: AlertContext, breached: readonly WatchFinding[], stableSubset: string): PostableAlert {
  const first = breached[0];
  return guardAlert({
    ...base(ctx),
    alertname: GUARD_ALERT_NAMES.warning,
    severity: 'warning',
    reason: first?.rule ?? 'breach',
    summary: `dry run: ${vsName(ctx)} would be rolled back to ${stableSubset} (${breached.map((f) => f.rule).join(', ')} breached); nothing was patched`,
    description: breachReason(breached),
    value: first?.value ?? null,
    threshold: first?.threshold ?? null,
    patchResult: 'dry run: not patched',
  });
}

export function warningAlerts(ctx: AlertContext, findings: readonly WatchFinding[]): PostableAlert[] {
  return findings
    .filter((f) => f.status === 'warning')
    .map((f) =>
      guardAlert({
        ...base(ctx),
        alertname: GUARD_ALERT_NAMES.warning,
        severity: 'warning',
        reason: f.rule,
        summary: `${vsName(ctx)}: ${f.rule} warning for version ${ctx.key.version} (no rollback)`,
        description: f.message,
        value: f.value,
        threshold: f.threshold,
      }),
    );
}

export function noDataAlert(ctx: AlertContext, findings: readonly WatchFinding[], severity: AlertSeverity, sinceSeconds: number): PostableAlert {
  const rules = findings.filter((f) => f.status === 'no-data');
  return guardAlert({
    ...base(ctx),
    alertname: GUARD_ALERT_NAMES.noData,
    severity,
    reason: rules.map((f) => f.rule).join(',') || 'no-data',
    summary: `${vsName(ctx)}: no data to judge version ${ctx.key.version} for ${sinceSeconds} s (no traffic, or no such series); the guard cannot roll back what it cannot see`,
    description: rules.map((f) => `${f.rule}: ${f.message}`).join('; '),
    value: null,
  });
}

export function blindAlert(ctx: AlertContext, findings: readonly WatchFinding[], severity: AlertSeverity, sinceSeconds: number, error: string | undefined): PostableAlert {
  const rules = findings.filter((f) => f.status === 'error');
  const detail = rules.map((f) => `${f.rule}: ${f.message}`).join('; ') || error || 'evaluation failed';
  return guardAlert({
    ...base(ctx),
    alertname: GUARD_ALERT_NAMES.blind,
    severity,
    reason: rules.map((f) => f.rule).join(',') || 'evaluation-error',
    summary: `guard is blind for ${vsName(ctx)} since ${sinceSeconds} s: its metrics cannot be read, so a breach would not be rolled back`,
    description: detail,
    value: null,
  });
}

export function promotionFailedAlert(ctx: AlertContext, error: string): PostableAlert {
  return guardAlert({
    ...base(ctx),
    alertname: GUARD_ALERT_NAMES.warning,
    severity: 'warning',
    reason: 'promotion-failed',
    summary: `${vsName(ctx)}: cutover recorded stable, but the promotion label could not be set`,
    description: error,
  });
}
