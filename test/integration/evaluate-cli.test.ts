import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertmanagerAlertSink } from '../../src/alertmanager/alert-sink.js';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { ensureCliBuilt, runCli } from '../support/built-cli.js';
import { freePort } from '../support/free-port.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { AT, NAMESPACE, SCENARIOS, scenarioHistory } from './evaluate-scenarios.js';

let prom: RunningPrometheus | undefined;
let am: RunningAlertmanager | undefined;
let smoke: Server | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bgg-evaluate-cli-'));
  [prom, am] = await Promise.all([startPrometheus({ backfill: scenarioHistory() }), startAlertmanager(), ensureCliBuilt()]);
  smoke = createServer((req, res) => {
    res.statusCode = req.url === '/health-check/broken' ? 503 : 200;
    res.end();
  });
  await new Promise<void>((resolve) => smoke?.listen(0, '127.0.0.1', resolve));
}, 300_000);

afterAll(async () => {
  await Promise.all([prom?.stop(), am?.stop(), new Promise((resolve) => (smoke ? smoke.close(resolve) : resolve(undefined)))]);
  rmSync(dir, { recursive: true, force: true });
});

interface Output {
  verdict: string;
  findings: Array<{ rule: string; status: string; value: number | null; threshold: number | null; message: string }>;
  notes: string[];
}

async function evaluate(service: string, extra: string[] = [], prometheus = prom?.url ?? ''): Promise<{ code: number | null; out: Output; stderr: string }> {
  const r = await runCli(['evaluate', '--prometheus', prometheus, '--namespace', NAMESPACE, '--service', service, '--version', 'v2', '--output', 'json', ...extra]);
  let out: Output;
  try {
    out = JSON.parse(r.stdout) as Output;
  } catch {
    throw new Error(`evaluate printed no JSON (exit ${String(r.code)}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, out, stderr: r.stderr };
}

const rfc3339 = new Date(AT * 1000).toISOString();

describe('bluegreen-guard evaluate, spawned as users run it', () => {
  it.each<[string, number]>([
    ['healthy', 0],
    ['errors-sustained', 1],
    ['errors-recovered', 0],
    ['latency-3-minutes', 1],
    ['latency-4-of-5', 0],
    ['no-traffic', 3],
  ])('%s gives exit %i and the expected verdict', async (service, code) => {
    const r = await evaluate(service, ['--at', String(AT)]);
    expect(r.out.verdict).toBe(SCENARIOS[service]?.verdict);
    expect(r.code).toBe(code);
    expect(r.out.findings.map((f) => f.rule)).toEqual(['error-rate', 'latency-p99']);
    for (const f of r.out.findings) expect(Object.keys(f).sort()).toEqual(['message', 'rule', 'status', 'threshold', 'value']);
  });

  it('accepts --at as RFC 3339 and reads the same instant', async () => {
    const r = await evaluate('errors-at-limit', ['--at', rfc3339]);
    expect(r.code).toBe(1);
    expect(r.out.findings[0]).toMatchObject({ rule: 'error-rate', status: 'breached', value: 0.05, threshold: 0.05 });
  });

  it('an unreachable Prometheus gives error and exit 3', async () => {
    const r = await evaluate('healthy', [], `http://127.0.0.1:${await freePort()}`);
    expect(r.code).toBe(3);
    expect(r.out.verdict).toBe('error');
    expect(r.out.findings.every((f) => f.status === 'error' && /could not be reached/.test(f.message))).toBe(true);
  });

  it('a critical alert in Alertmanager breaches, read as of now with a note when --at is in the past', async () => {
    await new AlertmanagerAlertSink({ url: am?.url ?? '', timeoutMs: 5000 }).send([
      { labels: { alertname: 'DBConnectionPoolExhausted', severity: 'critical', namespace: NAMESPACE, service: 'healthy' }, annotations: {}, startsAt: new Date().toISOString() },
    ]);
    const r = await evaluate('healthy', ['--at', String(AT), '--alertmanager', am?.url ?? '']);
    expect(r.code).toBe(1);
    expect(r.out.findings.find((f) => f.rule === 'critical-alert')).toMatchObject({ status: 'breached', value: 1 });
    expect(r.out.notes.join(' ')).toMatch(/Alertmanager was read as it is now/);
  });

  it('--cutover-at enables the early-window warnings (exit 0)', async () => {
    const r = await evaluate('early-trouble', ['--at', String(AT), '--cutover-at', String(AT - 60)]);
    expect(r.code).toBe(0);
    expect(r.out.verdict).toBe('warning');
    expect(r.out.findings.filter((f) => f.status === 'warning').map((f) => f.rule)).toEqual(['early-error-rate', 'early-latency-p99']);
  });

  it('--config sets thresholds and a smoke test; a failing smoke test breaches', async () => {
    const port = (smoke?.address() as AddressInfo).port;
    const file = join(dir, 'watcher.yaml');
    writeFileSync(file, [`errorRate:`, `  ratio: 0.3`, `smokeTest:`, `  url: http://127.0.0.1:${port}/health-check/{{service}}`, `  expectedStatus: 200`].join('\n'));
    const passing = await evaluate('errors-sustained', ['--at', String(AT), '--config', file]);
    expect(passing.out.findings.map((f) => [f.rule, f.status])).toEqual([['error-rate', 'ok'], ['latency-p99', 'ok'], ['smoke-test', 'ok']]);
    expect(passing.code).toBe(0);
    const failing = await runCli(['evaluate', '--prometheus', prom?.url ?? '', '--namespace', NAMESPACE, '--service', 'broken', '--version', 'v2', '--at', String(AT), '--config', file]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^shop\/broken version v2 at 2023-11-14T\S+: BREACHED$/m);
    expect(failing.stdout).toMatch(/breached\s+smoke-test\s+GET http:\/\/127\.0\.0\.1:\d+\/health-check\/broken answered 503, expected 200/);
  });

  it.each<[string, string[], RegExp]>([
    ['a missing flag', ['--namespace', 'shop', '--service', 's', '--version', 'v2'], /missing --prometheus/],
    ['a malformed --at', ['--prometheus', 'http://127.0.0.1:9', '--namespace', 'shop', '--service', 's', '--version', 'v2', '--at', 'yesterday'], /--at must be RFC 3339/],
    ['an unknown --output', ['--prometheus', 'http://127.0.0.1:9', '--namespace', 'shop', '--service', 's', '--version', 'v2', '--output', 'xml'], /--output must be json or text/],
    ['an unknown flag', ['--prometheus', 'http://127.0.0.1:9', '--namespace', 'shop', '--service', 's', '--version', 'v2', '--verbose'], /Unknown option '--verbose'/],
  ])('unusable input (%s) exits 2 and says why', async (_name, args, message) => {
    const r = await runCli(['evaluate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('a config file with a wrong field exits 2 naming the field and the fix', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'errorRate:\n  ratio: 5\nlatencyP99:\n  thresholdMS: 2000\n');
    const r = await runCli(['evaluate', '--prometheus', 'http://127.0.0.1:9', '--namespace', 'shop', '--service', 's', '--version', 'v2', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('errorRate.ratio: must be ≤ 1, got 5');
    expect(r.stderr).toContain('latencyP99.thresholdMS: unknown field');
  });
});
