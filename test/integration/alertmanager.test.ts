import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AlertmanagerAlertSink, GUARD_ALERT_NAMES, guardAlert } from '../../src/alertmanager/alert-sink.js';
import { AlertmanagerFiringAlertSource, type FiringAlert } from '../../src/alertmanager/firing-alert-source.js';
import { defaultWatcherConfig } from '../../src/config/watcher-config.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import type { MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { freePort } from '../support/free-port.js';
import { waitUntil } from '../support/wait-until.js';

const config = defaultWatcherConfig();
let am: RunningAlertmanager | undefined;
let url: string;

beforeAll(async () => {
  am = await startAlertmanager();
  url = am.url;
}, 120_000);

afterAll(async () => {
  await am?.stop();
});

interface ListedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  generatorURL: string;
  status: { state: string };
}

async function listed(filter: string): Promise<ListedAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts?${new URLSearchParams({ filter }).toString()}`);
  return (await res.json()) as ListedAlert[];
}

function source() {
  return new AlertmanagerFiringAlertSource({ url, timeoutMs: 5000, ...config.alerts });
}

const quiet: MetricsSnapshot = {
  atSeconds: Date.now() / 1000,
  errorRatio: { status: 'ok', byService: new Map([['payments/checkout/v2', new Array(9).fill(0)]]) },
  latencyP99Ms: { status: 'ok', byService: new Map([['payments/checkout/v2', [50, 50, 50]]]) },
};

describe('Alertmanager sink and firing-alert source against a real Alertmanager', () => {
  it('a rollback alert posted through the sink is listed with its labels and annotations', async () => {
    const startsAt = new Date();
    await new AlertmanagerAlertSink({ url, timeoutMs: 5000 }).send([
      guardAlert({
        alertname: GUARD_ALERT_NAMES.rolledBack,
        severity: 'critical',
        namespace: 'shop',
        service: 'reviews',
        reason: 'error-rate',
        summary: 'shop/reviews rolled back to green: 5xx ratio 7.5% ≥ 5% for 2 minutes',
        value: 0.075,
        threshold: 0.05,
        patchResult: 'patched and verified: green 100, blue 0',
        labels: { version: 'v2', virtualservice: 'reviews' },
        startsAt,
        endsAt: new Date(startsAt.getTime() + 3_600_000),
        generatorUrl: 'http://prometheus.monitoring:9090/graph',
      }),
    ]);
    const [alert] = await waitUntil(async () => {
      const found = await listed(`alertname="${GUARD_ALERT_NAMES.rolledBack}"`);
      return found.length > 0 ? found : undefined;
    }, { timeoutMs: 10_000, description: 'the rollback alert listed by Alertmanager' });
    expect(alert?.labels).toEqual({
      alertname: 'BlueGreenGuardRolledBack',
      severity: 'critical',
      namespace: 'shop',
      service: 'reviews',
      reason: 'error-rate',
      version: 'v2',
      virtualservice: 'reviews',
    });
    expect(alert?.annotations).toMatchObject({ value: '0.075', threshold: '0.05', patch_result: 'patched and verified: green 100, blue 0' });
    expect(alert?.status.state).toBe('active');
    expect(alert?.generatorURL).toBe('http://prometheus.monitoring:9090/graph');
  });

  it('a rejected alert fails loudly with Alertmanager’s reason', async () => {
    const sink = new AlertmanagerAlertSink({ url, timeoutMs: 5000 });
    await expect(sink.send([{ labels: {}, annotations: {}, startsAt: new Date().toISOString() }])).rejects.toThrow(/refused POST \/api\/v2\/alerts: HTTP 400/);
  });

  it('a critical alert for the service makes critical-alert breach; others do not count', async () => {
    const now = new Date();
    const post = (labels: Record<string, string>) => ({ labels, annotations: {}, startsAt: now.toISOString() });
    await new AlertmanagerAlertSink({ url, timeoutMs: 5000 }).send([
      post({ alertname: 'DBConnectionPoolExhausted', severity: 'critical', namespace: 'payments', service: 'checkout' }),
      post({ alertname: 'HighMemory', severity: 'warning', namespace: 'payments', service: 'checkout' }),
      post({ alertname: 'DiskFull', severity: 'critical', namespace: 'payments', service: 'ledger' }),
      post({ alertname: 'SilencedThing', severity: 'critical', namespace: 'payments', service: 'checkout' }),
      // Our own alerts never trigger a rollback.
      post({ alertname: GUARD_ALERT_NAMES.rollbackFailed, severity: 'critical', namespace: 'payments', service: 'checkout', reason: 'verify' }),
    ]);
    const silence = await fetch(`${url}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'alertname', value: 'SilencedThing', isRegex: false, isEqual: true }],
        startsAt: new Date(now.getTime() - 1000).toISOString(),
        endsAt: new Date(now.getTime() + 3_600_000).toISOString(),
        createdBy: 'test',
        comment: 'maintenance',
      }),
    });
    expect(silence.status).toBe(200);

    const alerts = await waitUntil(async () => {
      const result = await source().criticalAlerts();
      if (result.status !== 'ok') throw new Error(result.error);
      const names = result.alerts.map((a) => a.alertname);
      return names.includes('DBConnectionPoolExhausted') && names.includes('DiskFull') && !names.includes('SilencedThing') ? result.alerts : undefined;
    }, { timeoutMs: 10_000, description: 'the critical alerts listed, the silenced one not' });
    expect(alerts.map((a: FiringAlert) => a.alertname).sort()).toEqual(['DBConnectionPoolExhausted', 'DiskFull']);

    const checkout = evaluateService(quiet, { namespace: 'payments', service: 'checkout', version: 'v2' }, { criticalAlerts: { status: 'ok', alerts } }, config);
    expect(checkout.verdict).toBe('breached');
    expect(checkout.findings.find((f) => f.rule === 'critical-alert')).toMatchObject({ status: 'breached', value: 1 });
    expect(checkout.findings.find((f) => f.rule === 'critical-alert')?.message).toContain('DBConnectionPoolExhausted');
  });

  it('tells the alert sink each time Alertmanager answers, so undelivered alerts go at once', async () => {
    let answered = 0;
    const result = await new AlertmanagerFiringAlertSource({ url, timeoutMs: 5000, ...config.alerts, onAnswered: () => answered++ }).criticalAlerts();
    expect(result.status).toBe('ok');
    expect(answered).toBe(1);
  });

  it('an unreachable Alertmanager is an error outcome, not an exception', async () => {
    let answered = 0;
    const nowhere = new AlertmanagerFiringAlertSource({ ...config.alerts, url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000, onAnswered: () => answered++ });
    const result = await nowhere.criticalAlerts();
    expect(result.status).toBe('error');
    expect(answered).toBe(0);
    const e = evaluateService(quiet, { namespace: 'payments', service: 'checkout', version: 'v2' }, { criticalAlerts: result }, config);
    expect(e.verdict).toBe('error');
  });
});
