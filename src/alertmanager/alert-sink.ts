// How the watcher tells people what it did: alerts POSTed to Alertmanager's
// v2 API, labelled so routes can match them (alertname, service, namespace,
// severity, reason) and annotated with the measured value, the threshold and
// the patch result.
import { alertmanagerRequest, type AlertmanagerHttpOptions } from './alertmanager-http.js';

/** Alertmanager's PostableAlert (v2 API). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertSink {
  /** Rejects with an AlertmanagerError when Alertmanager does not accept the alerts. */
  send(alerts: readonly PostableAlert[]): Promise<void>;
}

export class AlertmanagerAlertSink implements AlertSink {
  constructor(private readonly options: AlertmanagerHttpOptions) {}

  async send(alerts: readonly PostableAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    await alertmanagerRequest(this.options, 'POST', '/api/v2/alerts', alerts);
  }
}

/** Names of the alerts the watcher posts; all match the default `alerts.ignoreAlertnameRegex`. */
export const GUARD_ALERT_NAMES = {
  rolledBack: 'BlueGreenGuardRolledBack',
  rollbackFailed: 'BlueGreenGuardRollbackFailed',
  warning: 'BlueGreenGuardWarning',
  noData: 'BlueGreenGuardNoData',
  blind: 'BlueGreenGuardBlind',
  drillRollback: 'BlueGreenGuardDrillRollback',
  drillFailed: 'BlueGreenGuardDrillFailed',
} as const;

export interface GuardAlertInput {
  alertname: string;
  severity: 'critical' | 'warning' | 'info';
  namespace: string;
  service: string;
  /** The rule id that fired (`error-rate`), or what went wrong (`patch-conflict`). */
  reason: string;
  summary: string;
  description?: string;
  /** The measured value and the threshold it was compared with. */
  value?: number | null;
  threshold?: number | null;
  /** e.g. `patched and verified: green 100, blue 0` or the patch error. */
  patchResult?: string;
  /** Further labels (`version`, `virtualservice`, the configured extra labels). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: Date;
  /** When Alertmanager should resolve it on its own if not re-sent; omitted: Alertmanager's resolve_timeout. */
  endsAt?: Date;
  generatorUrl?: string | null;
}

/** Prometheus's spelling, so a p99 in the +Inf bucket reads `+Inf`, not `Infinity`. */
function promNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(n);
}

export function guardAlert(input: GuardAlertInput): PostableAlert {
  const annotations: Record<string, string> = { summary: input.summary, ...(input.annotations ?? {}) };
  if (input.description) annotations.description = input.description;
  if (input.value !== undefined) annotations.value = input.value === null ? 'no data' : promNumber(input.value);
  if (input.threshold !== undefined) annotations.threshold = input.threshold === null ? 'none' : String(input.threshold);
  if (input.patchResult !== undefined) annotations.patch_result = input.patchResult;
  const alert: PostableAlert = {
    labels: {
      ...(input.labels ?? {}),
      alertname: input.alertname,
      severity: input.severity,
      namespace: input.namespace,
      service: input.service,
      reason: input.reason,
    },
    annotations,
    startsAt: input.startsAt.toISOString(),
  };
  if (input.endsAt) alert.endsAt = input.endsAt.toISOString();
  if (input.generatorUrl) alert.generatorURL = input.generatorUrl;
  return alert;
}
