import { describe, expect, it } from '@jest/globals';
import { defaultWatcherConfig } from '../../../src/config/watcher-config.js';
import type { CriticalAlerts, FiringAlert } from '../../../src/alertmanager/firing-alert-source.js';
import { evaluateService, inEarlyWindow, verdictOf } from '../../../src/watcher/evaluate.js';
import { keyOf, type History, type MetricsSnapshot } from '../../../src/watcher/metrics-snapshot.js';
import type { SmokeTestResult } from '../../../src/watcher/smoke-test.js';
import type { FindingStatus, ServiceKey, WatchFinding } from '../../../src/watcher/verdict.js';

const config = defaultWatcherConfig();
const AT = 1_700_000_000;
const reviews: ServiceKey = { namespace: 'shop', service: 'reviews', version: 'v2' };

function snapshot(parts: { ratio?: History; p99?: History; logs?: number; breakers?: number; error?: string } = {}): MetricsSnapshot {
  const key = keyOf(reviews);
  const outcome = <T>(value: T | undefined) =>
    parts.error !== undefined
      ? ({ status: 'error', error: parts.error } as const)
      : ({ status: 'ok', byService: new Map(value === undefined ? [] : [[key, value]]) } as const);
  const s: MetricsSnapshot = { atSeconds: AT, errorRatio: outcome(parts.ratio), latencyP99Ms: outcome(parts.p99) };
  s.errorLogsPerSecond = outcome(parts.logs);
  s.circuitBreakerOpen = outcome(parts.breakers);
  return s;
}

/** 9 steps: every 15 s from AT-120 to AT. */
const steps = (value: number | null): History => new Array<number | null>(9).fill(value);
const quiet = steps(0);
const fast: History = [100, 100, 100];

function rule(findings: WatchFinding[], id: string): WatchFinding {
  const f = findings.find((x) => x.rule === id);
  if (!f) throw new Error(`no finding for ${id} in ${JSON.stringify(findings)}`);
  return f;
}

describe('error-rate: 5xx ratio ≥ 5 % at every step of the last 2 minutes', () => {
  it.each<[string, History, FindingStatus, number | null]>([
    ['exactly at the limit throughout', steps(0.05), 'breached', 0.05],
    ['just above the limit throughout', steps(0.0501), 'breached', 0.0501],
    ['just below the limit throughout', steps(0.0499), 'ok', 0.0499],
    ['above throughout but one step just below', [0.2, 0.2, 0.2, 0.2, 0.0499, 0.2, 0.2, 0.2, 0.2], 'ok', 0.0499],
    ['sustained high with the lowest step at the limit', [0.3, 0.05, 0.9, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], 'breached', 0.05],
    ['breached earlier, recovered before the evaluation instant', [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.01], 'ok', 0.01],
    ['high only for the last 30 s (not yet sustained)', [0, 0, 0, 0, 0, 0, 0.5, 0.5, 0.5], 'ok', 0],
    ['a step without traffic breaks the run', [0.5, 0.5, 0.5, null, 0.5, 0.5, 0.5, 0.5, 0.5], 'ok', 0],
    ['no traffic now although errors before', [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, null], 'no-data', null],
    ['no traffic at all', steps(null), 'no-data', null],
    ['healthy', quiet, 'ok', 0],
  ])('%s', (_name, ratio, status, value) => {
    const f = rule(evaluateService(snapshot({ ratio, p99: fast }), reviews, {}, config).findings, 'error-rate');
    expect(f).toMatchObject({ status, value, threshold: 0.05 });
    expect(f.message).toContain('shop/reviews version v2');
  });

  it('is no-data when the service has no series at all', () => {
    const e = evaluateService(snapshot({ p99: fast }), reviews, {}, config);
    expect(rule(e.findings, 'error-rate')).toMatchObject({ status: 'no-data', value: null });
    expect(e.verdict).toBe('no-data');
  });

  it('is error when Prometheus failed, never a pass', () => {
    const e = evaluateService(snapshot({ error: 'Prometheus at http://p:9090 could not be reached (ECONNREFUSED)' }), reviews, {}, config);
    expect(rule(e.findings, 'error-rate')).toMatchObject({ status: 'error', value: null });
    expect(rule(e.findings, 'error-rate').message).toContain('ECONNREFUSED');
    expect(e.verdict).toBe('error');
  });

  it('follows a configured ratio', () => {
    const strict = { ...config, errorRate: { ...config.errorRate, ratio: 0.01 } };
    expect(rule(evaluateService(snapshot({ ratio: steps(0.02), p99: fast }), reviews, {}, strict).findings, 'error-rate').status).toBe('breached');
  });
});

describe('latency-p99: p99 > 2 s in each of the last 3 minutes', () => {
  it.each<[string, History, FindingStatus, number | null]>([
    ['exactly 2 s each minute (not above)', [2000, 2000, 2000], 'ok', 2000],
    ['just above 2 s each minute', [2000.1, 2001, 2500], 'breached', 2000.1],
    ['just below 2 s in the oldest minute', [1999.9, 2500, 2500], 'ok', 1999.9],
    ['just below 2 s in the latest minute (recovered)', [2500, 2500, 1999.9], 'ok', 1999.9],
    ['above in two minutes only (4 of 5 bad but not the last 3)', [1500, 3000, 3000], 'ok', 1500],
    ['quantile in the +Inf bucket', [Infinity, Infinity, Infinity], 'breached', Infinity],
    ['a minute without requests breaks the run', [null, 3000, 3000], 'ok', 0],
    ['no requests in the latest minute', [3000, 3000, null], 'no-data', null],
  ])('%s', (_name, p99, status, value) => {
    const f = rule(evaluateService(snapshot({ ratio: quiet, p99 }), reviews, {}, config).findings, 'latency-p99');
    expect(f).toMatchObject({ status, value, threshold: 2000 });
  });

  it('breached names every minute in its message', () => {
    const f = rule(evaluateService(snapshot({ ratio: quiet, p99: [2100, 2200, 2300] }), reviews, {}, config).findings, 'latency-p99');
    expect(f.message).toContain('2100 ms, 2200 ms, 2300 ms');
  });
});

describe('smoke-test and critical-alert', () => {
  const smoke = (outcome: SmokeTestResult['outcome'], httpStatus: number | null): SmokeTestResult => ({
    outcome,
    url: 'http://reviews.shop/health-check',
    expectedStatus: 200,
    httpStatus,
    durationMs: 3,
    message: `smoke ${outcome}`,
  });

  it.each<[SmokeTestResult, FindingStatus]>([
    [smoke('passed', 200), 'ok'],
    [smoke('failed', 503), 'breached'],
    [smoke('failed', null), 'breached'],
    [smoke('error', null), 'error'],
  ])('smoke test %j gives %s', (result, status) => {
    const f = rule(evaluateService(snapshot({ ratio: quiet, p99: fast }), reviews, { smokeTest: result }, config).findings, 'smoke-test');
    expect(f).toMatchObject({ status, value: result.httpStatus, threshold: 200 });
  });

  it('is not evaluated when no smoke test or Alertmanager is configured', () => {
    const rules = evaluateService(snapshot({ ratio: quiet, p99: fast }), reviews, {}, config).findings.map((f) => f.rule);
    expect(rules).toEqual(['error-rate', 'latency-p99']);
  });

  const alert = (namespace: string | undefined, service: string | undefined, alertname = 'DBPoolExhausted'): FiringAlert => ({
    alertname,
    namespace,
    service,
    labels: {},
    startsAt: '2024-01-01T00:00:00Z',
    fingerprint: 'f',
  });

  it.each<[string, CriticalAlerts, FindingStatus, number | null]>([
    ['a critical alert for the service', { status: 'ok', alerts: [alert('shop', 'reviews')] }, 'breached', 1],
    ['a critical alert for the same name in another namespace', { status: 'ok', alerts: [alert('other', 'reviews')] }, 'ok', 0],
    ['a critical alert for another service', { status: 'ok', alerts: [alert('shop', 'ratings')] }, 'ok', 0],
    ['an alert without a service label', { status: 'ok', alerts: [alert('shop', undefined)] }, 'ok', 0],
    ['no alert', { status: 'ok', alerts: [] }, 'ok', 0],
    ['Alertmanager unreachable', { status: 'error', error: 'Alertmanager at http://am could not be reached' }, 'error', null],
  ])('%s', (_name, criticalAlerts, status, value) => {
    const e = evaluateService(snapshot({ ratio: quiet, p99: fast }), reviews, { criticalAlerts }, config);
    expect(rule(e.findings, 'critical-alert')).toMatchObject({ status, value });
  });

  it('a firing critical alert breaches even when there is no traffic', () => {
    const e = evaluateService(snapshot({}), reviews, { criticalAlerts: { status: 'ok', alerts: [alert('shop', 'reviews')] } }, config);
    expect(e.verdict).toBe('breached');
  });
});

describe('early window: warnings during the first 5 minutes after the cutover', () => {
  it.each<[string, number | null, boolean]>([
    ['at the cutover instant', AT, true],
    ['1 s before the window ends', AT - 299, true],
    ['exactly 5 minutes after', AT - 300, false],
    ['before the cutover began', AT + 1, false],
    ['no cutover recorded', null, false],
  ])('%s', (_name, cutover, inside) => {
    expect(inEarlyWindow(AT, cutover, config)).toBe(inside);
    const rules = evaluateService(snapshot({ ratio: quiet, p99: fast, logs: 0, breakers: 0 }), reviews, { cutoverStartedAtSeconds: cutover }, config).findings.map((f) => f.rule);
    expect(rules.includes('early-error-rate')).toBe(inside);
  });

  const early = (parts: Parameters<typeof snapshot>[0]) => evaluateService(snapshot(parts), reviews, { cutoverStartedAtSeconds: AT - 60 }, config);

  it.each<[string, Parameters<typeof snapshot>[0], string, FindingStatus]>([
    ['5xx at 0.5 %', { ratio: [...steps(0).slice(1), 0.005], p99: fast, logs: 0, breakers: 0 }, 'early-error-rate', 'warning'],
    ['5xx just below 0.5 %', { ratio: [...steps(0).slice(1), 0.0049], p99: fast, logs: 0, breakers: 0 }, 'early-error-rate', 'ok'],
    ['p99 at 800 ms', { ratio: quiet, p99: [100, 100, 800], logs: 0, breakers: 0 }, 'early-latency-p99', 'warning'],
    ['p99 just below 800 ms', { ratio: quiet, p99: [900, 900, 799.9], logs: 0, breakers: 0 }, 'early-latency-p99', 'ok'],
    ['error logs at 2/s', { ratio: quiet, p99: fast, logs: 2, breakers: 0 }, 'error-logs', 'warning'],
    ['error logs just below 2/s', { ratio: quiet, p99: fast, logs: 1.99, breakers: 0 }, 'error-logs', 'ok'],
    ['error logs without a series', { ratio: quiet, p99: fast, breakers: 0 }, 'error-logs', 'no-data'],
    ['one circuit breaker open', { ratio: quiet, p99: fast, logs: 0, breakers: 1 }, 'circuit-breaker', 'warning'],
    ['no circuit breaker open', { ratio: quiet, p99: fast, logs: 0, breakers: 0 }, 'circuit-breaker', 'ok'],
  ])('%s', (_name, parts, id, status) => {
    expect(rule(early(parts).findings, id).status).toBe(status);
  });

  it('warns without rolling back', () => {
    const e = early({ ratio: [...steps(0).slice(1), 0.01], p99: [100, 100, 900], logs: 3, breakers: 2 });
    expect(e.verdict).toBe('warning');
    expect(e.findings.filter((f) => f.status === 'warning').map((f) => f.rule)).toEqual(['early-error-rate', 'early-latency-p99', 'error-logs', 'circuit-breaker']);
  });

  it('does not evaluate error-logs and circuit-breaker when their queries are not configured', () => {
    const s = snapshot({ ratio: quiet, p99: fast });
    delete s.errorLogsPerSecond;
    delete s.circuitBreakerOpen;
    const rules = evaluateService(s, reviews, { cutoverStartedAtSeconds: AT }, config).findings.map((f) => f.rule);
    expect(rules).toEqual(['error-rate', 'latency-p99', 'early-error-rate', 'early-latency-p99']);
  });
});

describe('verdict', () => {
  const f = (status: FindingStatus): WatchFinding => ({ rule: 'error-rate', status, value: null, threshold: null, message: '' });
  it.each<[FindingStatus[], string]>([
    [['ok', 'ok'], 'healthy'],
    [['ok', 'warning'], 'warning'],
    [['warning', 'no-data'], 'no-data'],
    [['no-data', 'error'], 'error'],
    [['error', 'breached', 'no-data'], 'breached'],
    [['ok', 'breached'], 'breached'],
    [[], 'healthy'],
  ])('%j → %s', (statuses, verdict) => {
    expect(verdictOf(statuses.map(f))).toBe(verdict);
  });

  it('any breached rule makes the verdict breached whatever the others say', () => {
    const e = evaluateService(snapshot({ ratio: steps(0.5), p99: [3000, 3000, null] }), reviews, { criticalAlerts: { status: 'error', error: 'down' } }, config);
    expect(e.findings.map((x) => x.status)).toEqual(['breached', 'no-data', 'error']);
    expect(e.verdict).toBe('breached');
  });
});

describe('samples from before the current cutover began belong to an earlier one', () => {
  const sustained = steps(0.3);
  const slow: History = [5000, 5000, 5000];
  it.each<[string, number | null, FindingStatus, FindingStatus]>([
    ['no cutover recorded: every sample counts', null, 'breached', 'breached'],
    ['cutover began before the whole window: every sample counts', AT - 600, 'breached', 'breached'],
    ['cutover began exactly at the window start: every sample counts', AT - 120, 'breached', 'breached'],
    ['re-cutover 30 s ago: the errors that caused the last rollback do not count', AT - 30, 'ok', 'ok'],
    ['re-cutover 90 s ago: two of three minutes are an earlier cutover', AT - 90, 'ok', 'ok'],
  ])('%s', (_name, cutover, errorStatus, latencyStatus) => {
    const e = evaluateService(snapshot({ ratio: sustained, p99: slow }), reviews, { cutoverStartedAtSeconds: cutover }, config);
    expect(rule(e.findings, 'error-rate').status).toBe(errorStatus);
    expect(rule(e.findings, 'latency-p99').status).toBe(latencyStatus);
  });
});
