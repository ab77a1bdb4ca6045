// "Monitor recovery" against a real Prometheus with backfilled Istio history
// (promtool): the stable version after a rollback compared with its level
// before the cutover, and its callers (source_workload) the same way; and
// `bluegreen-guard evaluate --rolled-back-at`, spawned as users run it,
// printing the same verdict.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { measureRecovery } from '../../src/watcher/recovery-probe.js';
import { DEFAULT_RECOVERY_POLICY, judgeRecovery } from '../../src/watcher/recovery.js';
import { ensureCliBuilt, runCli } from '../support/built-cli.js';
import { istioHistory, type IntervalTraffic } from '../support/istio-history.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

const STEP = 15;
const START = Math.floor(Date.now() / 1000 / 3600) * 3600 - 4 * 3600;
const CUTOVER = START + 1800;
const ROLLBACK = CUTOVER + 300;
const NOW = ROLLBACK + 120;
const END = NOW + 60;

const healthy = (errors = 0, latencyMs = 50): IntervalTraffic => ({ requests: 100, errors, latency: [[latencyMs, 100]] });
/** v1 serves before the cutover and after the rollback; between, v2 has the traffic. */
const stable = (after: IntervalTraffic) => (t: number) => (t <= CUTOVER ? healthy() : t <= ROLLBACK ? null : after);
const candidate = (t: number) => (t > CUTOVER && t <= ROLLBACK ? healthy(20) : null);

/** One namespace per story; `productpage` (the caller of reviews) with its own traffic. */
function story(namespace: string, stableAfter: IntervalTraffic, callerAfter: IntervalTraffic) {
  return [
    { key: { namespace, service: 'reviews', version: 'v1' }, traffic: stable(stableAfter) },
    { key: { namespace, service: 'reviews', version: 'v2' }, traffic: candidate },
    { key: { namespace, service: 'productpage', version: 'v1' }, traffic: (t: number) => (t <= ROLLBACK ? healthy() : callerAfter) },
  ];
}

let prom: RunningPrometheus | undefined;
let source: PrometheusMetricsSource;

beforeAll(async () => {
  const built = ensureCliBuilt();
  prom = await startPrometheus({
    backfill: istioHistory({
      startSeconds: START,
      endSeconds: END,
      stepSeconds: STEP,
      services: [
        ...story('recovered', healthy(), healthy()),
        ...story('still-failing', healthy(20, 50), healthy()),
        ...story('slow', healthy(0, 1000), healthy()),
        ...story('caller-errors', healthy(), healthy(10)),
      ],
    }),
  });
  source = new PrometheusMetricsSource({ url: prom.url, timeoutMs: 30_000 });
  await built;
}, 480_000);

afterAll(async () => {
  await prom?.stop();
});

const times = { nowSeconds: NOW, cutoverStartedSeconds: CUTOVER, nowWindowSeconds: 60, baselineSeconds: 300 };
const judge = async (namespace: string) => {
  const m = await measureRecovery(source, { namespace, service: 'reviews', stableVersion: 'v1' }, times);
  return { m, verdict: judgeRecovery(m, DEFAULT_RECOVERY_POLICY, NOW - ROLLBACK) };
};

describe('recovery after a rollback, measured in Prometheus', () => {
  it('recovered: the stable version back at its pre-cutover 5xx and p99, its caller too', async () => {
    const { m, verdict } = await judge('recovered');
    expect(m.now.errorRatio).toBe(0);
    expect(m.baseline.errorRatio).toBe(0);
    expect(m.now.latencyP99Ms).toBeCloseTo(m.baseline.latencyP99Ms ?? NaN, 6);
    expect(m.callers).toEqual([{ workload: 'recovered/productpage-v1', errorRatio: 0, baselineErrorRatio: 0 }]);
    expect(verdict).toEqual({ kind: 'recovered', detail: expect.stringMatching(/^recovered in 120 s/) as unknown });
  });

  it('not recovered: the stable version answers 20 % 5xx after the rollback', async () => {
    const { m, verdict } = await judge('still-failing');
    expect(m.now.errorRatio).toBeCloseTo(0.2, 6);
    expect(verdict.kind).toBe('failed');
    expect(verdict.detail).toMatch(/stable 5xx 20.00 % > baseline 0.00 % \+ 1.00 %/);
  });

  it('not recovered: the stable version is slower than before the cutover', async () => {
    const { m, verdict } = await judge('slow');
    expect(m.now.latencyP99Ms).toBeGreaterThan((m.baseline.latencyP99Ms ?? 0) * 1.25);
    expect(verdict.detail).toMatch(/stable p99 \d+ ms > baseline \d+ ms/);
  });

  it('caller errors: the service calling this one shows rising 5xx (a cascading failure)', async () => {
    const { m, verdict } = await judge('caller-errors');
    expect(m.callers).toEqual([{ workload: 'caller-errors/productpage-v1', errorRatio: expect.closeTo(0.1, 6) as unknown, baselineErrorRatio: 0 }]);
    expect(verdict.kind).toBe('failed');
    expect(verdict.detail).toMatch(/caller caller-errors\/productpage-v1 5xx 10.00 % > its baseline 0.00 %/);
  });
});

interface RecoveryJson {
  state: string;
  stableVersion: string;
  rolledBackAt: string;
  secondsSinceRollback: number;
  alert?: string;
  detail: string;
  measured?: { now: { errorRatio: number | null; latencyP99Ms: number | null }; baseline: { errorRatio: number | null }; callers: Array<{ workload: string; errorRatio: number | null }> };
}

describe('bluegreen-guard evaluate --rolled-back-at: the recovery in its output', () => {
  const args = (namespace: string, at: number, extra: string[] = []) => [
    'evaluate', '--prometheus', prom?.url ?? '', '--namespace', namespace, '--service', 'reviews', '--version', 'v2',
    '--at', String(at), '--rolled-back-at', String(ROLLBACK), '--stable-version', 'v1', ...extra,
  ];
  const json = async (namespace: string, at = NOW, extra: string[] = ['--cutover-at', String(CUTOVER)]) => {
    const r = await runCli([...args(namespace, at, extra), '--output', 'json']);
    let out: { verdict: string; recovery?: RecoveryJson; notes: string[] };
    try {
      out = JSON.parse(r.stdout) as typeof out;
    } catch {
      throw new Error(`evaluate printed no JSON (exit ${String(r.code)}):\n${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, out };
  };

  it('recovered: "recovered in N s" with the measured values; the exit status stays the candidate\'s verdict', async () => {
    const { code, out } = await json('recovered');
    expect(out.recovery).toMatchObject({ state: 'recovered', stableVersion: 'v1', rolledBackAt: new Date(ROLLBACK * 1000).toISOString(), secondsSinceRollback: 120 });
    expect(out.recovery?.detail).toMatch(/^recovered in 120 s: stable 5xx 0.00 % \(baseline 0.00 %\)/);
    expect(out.recovery?.alert).toBeUndefined();
    expect(out.recovery?.measured).toMatchObject({ now: { errorRatio: 0 }, baseline: { errorRatio: 0 }, callers: [{ workload: 'recovered/productpage-v1', errorRatio: 0 }] });
    // v2 serves nothing after the rollback: no data, exit 3, as without --rolled-back-at.
    expect(out.verdict).toBe('no-data');
    expect(code).toBe(3);
  });

  it('not recovered: BlueGreenGuardRecoveryFailed with the values, the same as the watcher\'s alert', async () => {
    const { out } = await json('still-failing');
    expect(out.recovery).toMatchObject({ state: 'failed', alert: 'BlueGreenGuardRecoveryFailed' });
    expect(out.recovery?.detail).toMatch(/^not recovered 120 s after the rollback: stable 5xx 20.00 % > baseline 0.00 % \+ 1.00 %/);
    expect(out.recovery?.measured?.now.errorRatio).toBeCloseTo(0.2, 6);
  });

  it('within the window: pending, not failed yet', async () => {
    const { out } = await json('still-failing', ROLLBACK + 30);
    expect(out.recovery).toMatchObject({ state: 'pending', secondsSinceRollback: 30 });
    expect(out.recovery?.detail).toMatch(/^stable 5xx 20.00 % > baseline/);
  });

  it('prints it in text: the caller with rising 5xx, and a note when --cutover-at is missing', async () => {
    const r = await runCli(args('caller-errors', NOW, ['--cutover-at', String(CUTOVER)]));
    expect(r.stdout).toMatch(new RegExp(`^recovery of version v1 after the rollback at ${new Date(ROLLBACK * 1000).toISOString()} \\(120 s before\\): FAILED \\(BlueGreenGuardRecoveryFailed\\)$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}not recovered 120 s after the rollback: caller caller-errors\/productpage-v1 5xx 10.00 % > its baseline 0.00 %/m);
    const { out } = await json('recovered', NOW, []);
    expect(out.notes.join(' ')).toMatch(/the recovery baseline is the 300 s before --rolled-back-at; give --cutover-at/);
  });

  it.each<[string, string[], RegExp]>([
    ['--rolled-back-at without --stable-version', ['--rolled-back-at', String(ROLLBACK)], /--rolled-back-at and --stable-version go together/],
    ['--stable-version without --rolled-back-at', ['--stable-version', 'v1'], /--rolled-back-at and --stable-version go together/],
    ['a rollback after --at', ['--at', String(ROLLBACK - 10), '--rolled-back-at', String(ROLLBACK), '--stable-version', 'v1'], /--rolled-back-at \d+ is not before --at/],
    ['a malformed --rolled-back-at', ['--rolled-back-at', 'an hour ago', '--stable-version', 'v1'], /--rolled-back-at must be RFC 3339/],
  ])('unusable input (%s) exits 2 and says why', async (_name, extra, message) => {
    const r = await runCli(['evaluate', '--prometheus', 'http://127.0.0.1:9', '--namespace', 'shop', '--service', 's', '--version', 'v2', ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
