// Where the `critical-alert` rule learns what is firing: one GET per cycle
// for every service (active, unsilenced, uninhibited, critical), matched to
// services by label afterwards. Alertmanager keeps no history: this is always
// "now".
import { alertmanagerRequest, type AlertmanagerHttpOptions } from './alertmanager-http.js';

export interface FiringAlert {
  alertname: string;
  /** The alert's namespace and service labels (names configurable), when it has them. */
  namespace: string | undefined;
  service: string | undefined;
  labels: Record<string, string>;
  startsAt: string;
  fingerprint: string;
}

export type CriticalAlerts = { status: 'ok'; alerts: FiringAlert[] } | { status: 'error'; error: string };

export interface FiringAlertSource {
  /** Never rejects: an unreachable Alertmanager is an `error` outcome. */
  criticalAlerts(): Promise<CriticalAlerts>;
}

export interface AlertmanagerFiringAlertSourceOptions extends AlertmanagerHttpOptions {
  severityLabel: string;
  criticalSeverity: string;
  serviceLabel: string;
  namespaceLabel: string;
  /** Alert names that never count (our own alerts must not cause a rollback). */
  ignoreAlertnameRegex: string;
  /** Told each time Alertmanager answers with a list of alerts (it is up: the alert sink may flush now). */
  onAnswered?: () => void;
}

interface GettableAlert {
  labels: Record<string, string>;
  startsAt: string;
  fingerprint: string;
  status?: { state?: string; silencedBy?: string[]; inhibitedBy?: string[] };
}

export class AlertmanagerFiringAlertSource implements FiringAlertSource {
  private readonly path: string;

  constructor(private readonly options: AlertmanagerFiringAlertSourceOptions) {
    const query = new URLSearchParams({ active: 'true', silenced: 'false', inhibited: 'false' });
    query.append('filter', `${options.severityLabel}=${quote(options.criticalSeverity)}`);
    query.append('filter', `alertname!~${quote(options.ignoreAlertnameRegex)}`);
    this.path = `/api/v2/alerts?${query.toString()}`;
  }

  async criticalAlerts(): Promise<CriticalAlerts> {
    let body: unknown;
    try {
      body = await alertmanagerRequest(this.options, 'GET', this.path);
    } catch (err) {
      return { status: 'error', error: err instanceof Error ? err.message : String(err) };
    }
    if (!Array.isArray(body)) {
      return { status: 'error', error: `Alertmanager at ${this.options.url} answered GET /api/v2/alerts with ${typeof body}, not a list of alerts. Fix: point alertmanagerUrl at Alertmanager (v0.16 or later).` };
    }
    this.options.onAnswered?.();
    const ignore = new RegExp(`^(?:${this.options.ignoreAlertnameRegex})$`);
    const alerts: FiringAlert[] = [];
    for (const a of body as GettableAlert[]) {
      const labels = a.labels ?? {};
      // The server filtered already; checking again keeps this honest against
      // an Alertmanager or proxy that ignores the filters.
      if (labels[this.options.severityLabel] !== this.options.criticalSeverity) continue;
      if (ignore.test(labels.alertname ?? '')) continue;
      if (a.status && (a.status.state === 'suppressed' || (a.status.silencedBy?.length ?? 0) > 0 || (a.status.inhibitedBy?.length ?? 0) > 0)) continue;
      alerts.push({
        alertname: labels.alertname ?? '',
        namespace: labels[this.options.namespaceLabel],
        service: labels[this.options.serviceLabel],
        labels,
        startsAt: a.startsAt,
        fingerprint: a.fingerprint,
      });
    }
    return { status: 'ok', alerts };
  }
}

/** The critical alerts that name this service (namespace and service labels both match). */
export function alertsForService(alerts: readonly FiringAlert[], namespace: string, service: string): FiringAlert[] {
  return alerts.filter((a) => a.namespace === namespace && a.service === service);
}

function quote(value: string): string {
  return JSON.stringify(value);
}
