// `preflight --prometheus URL` judges metrics-scraped against a real
// Prometheus: the seed's critical line "Prometheus metrics endpoints exposed
// and scraped for v2" before v2 gets traffic.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { PrometheusScrapeStatus } from '../../src/webhook/prometheus-scrape-status.js';
import { ensureCliBuilt, runCli } from '../support/built-cli.js';
import { freePort } from '../support/free-port.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { waitUntil } from '../support/wait-until.js';

const STATE = 'test/fixtures/shop/state.yaml';
const CURRENT = 'test/fixtures/shop/vs-current.yaml';
const CANARY = 'test/fixtures/shop/vs-canary.yaml';
const V2_PODS = ['web-v2-5d4c8b7f6-x7k2p', 'web-v2-5d4c8b7f6-m9q4d', 'web-v2-5d4c8b7f6-t3v8n'];

let exporter: Server | undefined;
let allUp: RunningPrometheus | undefined;
let oneDown: RunningPrometheus | undefined;

function scrapeConfig(targets: Array<{ address: string; pod: string }>) {
  return {
    global: { scrape_interval: '1s', scrape_timeout: '1s' },
    scrape_configs: targets.map((t, i) => ({ job_name: `pod-${i}`, static_configs: [{ targets: [t.address], labels: { namespace: 'shop', pod: t.pod } }] })),
  };
}

async function waitForUp(prom: RunningPrometheus, expected: Record<string, boolean>): Promise<void> {
  const status = new PrometheusScrapeStatus({ source: new PrometheusMetricsSource({ url: prom.url, timeoutMs: 5000 }) });
  await waitUntil(async () => {
    await status.refresh();
    return Object.entries(expected).every(([pod, up]) => status.podScraped('shop', pod) === up);
  }, { timeoutMs: 60_000, description: `Prometheus at ${prom.url} reports up for ${Object.keys(expected).join(', ')}` });
}

beforeAll(async () => {
  await ensureCliBuilt();
  exporter = createServer((_req, res) => res.end('web_requests_total 1\n'));
  await new Promise<void>((resolve) => exporter?.listen(0, '127.0.0.1', resolve));
  const live = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
  const dead = `127.0.0.1:${await freePort()}`;
  allUp = await startPrometheus({ config: scrapeConfig(V2_PODS.map((pod) => ({ address: live, pod }))) });
  oneDown = await startPrometheus({ config: scrapeConfig(V2_PODS.map((pod, i) => ({ address: i === 1 ? dead : live, pod }))) });
  await waitForUp(allUp, Object.fromEntries(V2_PODS.map((p) => [p, true])));
  await waitForUp(oneDown, Object.fromEntries(V2_PODS.map((p, i) => [p, i !== 1])));
}, 180_000);

afterAll(async () => {
  await Promise.all([allUp?.stop(), oneDown?.stop()]);
  exporter?.closeAllConnections();
  await new Promise((resolve) => (exporter ? exporter.close(resolve) : resolve(undefined)));
}, 30_000);

async function preflight(prometheusUrl: string | undefined) {
  const args = ['preflight', '--file', CANARY, '--old', CURRENT, '--state', STATE, '--output', 'json'];
  const result = await runCli(prometheusUrl === undefined ? args : [...args, '--prometheus', prometheusUrl]);
  const report = JSON.parse(result.stdout) as { allowed: boolean; findings: Array<{ rule: string; severity: string; message: string }> };
  return { code: result.code, report, scraped: report.findings.filter((f) => f.rule === 'metrics-scraped') };
}

describe('preflight --prometheus judges metrics-scraped for the candidate', () => {
  it('allows the canary when Prometheus scrapes every v2 pod', async () => {
    const { code, scraped } = await preflight(allUp?.url);
    expect(scraped).toEqual([]);
    expect(code).toBe(0);
  }, 60_000);

  it('denies the canary when one v2 pod is not scraped, naming the pod', async () => {
    const { code, report, scraped } = await preflight(oneDown?.url);
    expect(code).toBe(1);
    expect(report.allowed).toBe(false);
    expect(scraped).toHaveLength(1);
    expect(scraped[0]?.severity).toBe('deny');
    expect(scraped[0]?.message).toContain(V2_PODS[1]);
    expect(scraped[0]?.message).not.toContain(V2_PODS[0]);
  }, 60_000);

  it('reports the pods as unknown, at the rule mode, when Prometheus is unreachable', async () => {
    const { code, scraped } = await preflight(`http://127.0.0.1:${await freePort()}`);
    expect(code).toBe(1);
    expect(scraped.map((f) => f.severity)).toEqual(['deny']);
    expect(scraped[0]?.message).toMatch(/unknown/);
  }, 60_000);

  it('skips the rule with a warning without --prometheus', async () => {
    const { code, scraped } = await preflight(undefined);
    expect(code).toBe(0);
    expect(scraped.map((f) => f.severity)).toEqual(['warn']);
    expect(scraped[0]?.message).toMatch(/skipped/);
  }, 60_000);
});
