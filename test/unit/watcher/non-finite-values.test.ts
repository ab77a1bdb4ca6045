// A p99 in Prometheus's +Inf bucket (or any non-finite value a custom query
// returns) is spelled the way Prometheus spells it wherever a human reads it,
// and is `null` in JSON, which has no Infinity: never a made-up finite number.
import { describe, expect, it } from '@jest/globals';
import { guardAlert } from '../../../src/alertmanager/alert-sink.js';
import { toJson, toText } from '../../../src/cli/evaluate.js';
import { defaultWatcherConfig } from '../../../src/config/watcher-config.js';
import { evaluateService } from '../../../src/watcher/evaluate.js';
import type { MetricsSnapshot } from '../../../src/watcher/metrics-snapshot.js';
import { formatMs } from '../../../src/watcher/thresholds.js';
import type { ServiceKey } from '../../../src/watcher/verdict.js';

const service: ServiceKey = { namespace: 'shop', service: 'reviews', version: 'v2' };
const AT = 1_700_000_000;

function p99(history: Array<number | null>) {
  const key = 'shop/reviews/v2';
  const snapshot: MetricsSnapshot = {
    atSeconds: AT,
    errorRatio: { status: 'ok', byService: new Map([[key, new Array<number | null>(9).fill(0)]]) },
    latencyP99Ms: { status: 'ok', byService: new Map([[key, history]]) },
  };
  return evaluateService(snapshot, service, {}, defaultWatcherConfig());
}

describe('non-finite measured values', () => {
  it.each<[string, number, string]>([
    ['+Inf', Infinity, '+Inf ms'],
    ['-Inf', -Infinity, '-Inf ms'],
    ['NaN', NaN, 'NaN ms'],
    ['a finite value', 2100.04, '2100 ms'],
  ])('formatMs spells %s as Prometheus does', (_what, ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  it('a p99 in the +Inf bucket breaches, says +Inf, and is null in evaluate --output json', () => {
    const evaluation = p99([Infinity, Infinity, Infinity]);
    expect(evaluation.verdict).toBe('breached');
    const json = toJson(evaluation, service, AT, []);
    const latency = json.findings.find((f) => f.rule === 'latency-p99');
    expect(latency).toMatchObject({ status: 'breached', value: null, threshold: 2000 });
    expect(latency?.message).toContain('+Inf ms, +Inf ms, +Inf ms');
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(toText(evaluation, service, AT, [])).toContain('(value +Inf, threshold 2000)');
  });

  it.each<[number | null, string]>([
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
    [0.25, '0.25'],
    [null, 'no data'],
  ])('an alert annotates the value %p as %s', (value, text) => {
    const alert = guardAlert({ alertname: 'BlueGreenGuardRolledBack', severity: 'warning', namespace: 'shop', service: 'reviews', reason: 'latency-p99', summary: 's', value, threshold: 2000, startsAt: new Date(AT * 1000) });
    expect(alert.annotations.value).toBe(text);
  });
});
