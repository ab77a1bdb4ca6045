import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { PrometheusScrapeStatus } from '../../src/webhook/prometheus-scrape-status.js';
import { freePort } from '../support/free-port.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { waitUntil } from '../support/wait-until.js';

let prom: RunningPrometheus | undefined;
let exporter: Server | undefined;

beforeAll(async () => {
  exporter = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end('demo_requests_total 1\n');
  });
  await new Promise<void>((resolve) => exporter?.listen(0, '127.0.0.1', resolve));
  const up = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
  const down = `127.0.0.1:${await freePort()}`;
  prom = await startPrometheus({
    config: {
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [
        { job_name: 'reviews-v2', static_configs: [{ targets: [up], labels: { namespace: 'shop', pod: 'reviews-v2-7d9f8' } }] },
        { job_name: 'ratings-v2', static_configs: [{ targets: [down], labels: { namespace: 'shop', pod: 'ratings-v2-5c4b1' } }] },
      ],
    },
  });
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  exporter?.closeAllConnections();
  await new Promise((resolve) => (exporter ? exporter.close(resolve) : resolve(undefined)));
}, 30_000);

describe('PrometheusScrapeStatus against a real Prometheus scraping real targets', () => {
  it('knows which pods are scraped and up, from a background refresh', async () => {
    let refreshes = 0;
    const status = new PrometheusScrapeStatus({
      source: new PrometheusMetricsSource({ url: prom?.url ?? '', timeoutMs: 5000 }),
      refreshIntervalMs: 200,
      onRefresh: () => (refreshes += 1),
    });
    expect(status.podScraped('shop', 'reviews-v2-7d9f8')).toBeUndefined();
    status.start();
    try {
      // Prometheus needs a scrape or two before `up` exists for both targets.
      await waitUntil(() => status.podScraped('shop', 'reviews-v2-7d9f8') === true && status.podScraped('shop', 'ratings-v2-5c4b1') === false, {
        timeoutMs: 30_000,
        description: 'reviews-v2 scraped and up, ratings-v2 scraped and down',
      });
      expect(status.podScraped('shop', 'unknown-pod')).toBe(false);
      expect(status.podScraped('other', 'reviews-v2-7d9f8')).toBe(false);
      expect(refreshes).toBeGreaterThan(0);
    } finally {
      status.stop();
    }
  }, 60_000);

  it('answers unknown once its last answer is too old (Prometheus gone)', async () => {
    let nowMs = Date.now();
    const status = new PrometheusScrapeStatus({ source: new PrometheusMetricsSource({ url: prom?.url ?? '', timeoutMs: 5000 }), maxAgeMs: 30_000, now: () => nowMs });
    await waitUntil(async () => {
      await status.refresh();
      return status.podScraped('shop', 'reviews-v2-7d9f8');
    }, { timeoutMs: 30_000, description: 'reviews-v2 reported up' });

    const failures: string[] = [];
    const blind = new PrometheusScrapeStatus({
      source: new PrometheusMetricsSource({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }),
      onRefresh: (o) => {
        if (!o.ok) failures.push(o.error);
      },
    });
    await blind.refresh();
    expect(blind.podScraped('shop', 'reviews-v2-7d9f8')).toBeUndefined();
    expect(failures[0]).toMatch(/could not be reached/);

    nowMs += 30_001;
    expect(status.fresh).toBe(false);
    expect(status.podScraped('shop', 'reviews-v2-7d9f8')).toBeUndefined();
  }, 60_000);
});
