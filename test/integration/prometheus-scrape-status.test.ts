import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PrometheusScrapeStatus } from '../../src/webhook/prometheus-scrape-status.js';
import { PrometheusScrapeReader, StreamingScrapeReader, WorkerScrapeReader } from '../../src/webhook/scrape-reader.js';
import { ensureCliBuilt, REPO } from '../support/built-cli.js';
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

  it('reads up as the answer arrives (the default), with the same answers as one parse of the whole reply', async () => {
    const url = prom?.url ?? '';
    const status = new PrometheusScrapeStatus({ source: new StreamingScrapeReader({ url, timeoutMs: 5000 }), refreshIntervalMs: 200 });
    status.start();
    try {
      await waitUntil(() => status.podScraped('shop', 'reviews-v2-7d9f8') === true && status.podScraped('shop', 'ratings-v2-5c4b1') === false, {
        timeoutMs: 30_000,
        description: 'reviews-v2 scraped and up, ratings-v2 scraped and down, read as a stream',
      });
      expect(status.podScraped('shop', 'unknown-pod')).toBe(false);
    } finally {
      status.stop();
    }
    // Both readers asked about the same instant: the same pods, the same values.
    const atMs = Date.now();
    const streamed = await new StreamingScrapeReader({ url, timeoutMs: 5000 }).read(atMs);
    const whole = await new PrometheusScrapeReader(new PrometheusMetricsSource({ url, timeoutMs: 5000 })).read(atMs);
    expect(streamed).toEqual(whole);
    expect(streamed).toMatchObject({ full: true, pods: 2 });
    const failures: string[] = [];
    const blind = new PrometheusScrapeStatus({
      source: new StreamingScrapeReader({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }),
      onRefresh: (o) => (o.ok ? undefined : failures.push(o.error)),
    });
    await blind.refresh();
    expect(failures[0]).toMatch(/could not be reached/);
    expect(blind.podScraped('shop', 'reviews-v2-7d9f8')).toBeUndefined();
  }, 60_000);

  it('reads up in a worker thread (the compiled scrape-worker the webhook ships), and hands over only the change', async () => {
    await ensureCliBuilt();
    const reader = new WorkerScrapeReader({ url: prom?.url ?? '', timeoutMs: 5000 }, pathToFileURL(join(REPO, 'dist', 'webhook', 'scrape-worker.js')));
    const status = new PrometheusScrapeStatus({ source: reader, refreshIntervalMs: 200 });
    status.start();
    try {
      await waitUntil(() => status.podScraped('shop', 'reviews-v2-7d9f8') === true && status.podScraped('shop', 'ratings-v2-5c4b1') === false, {
        timeoutMs: 30_000,
        description: 'reviews-v2 scraped and up, ratings-v2 scraped and down, read by the worker',
      });
    } finally {
      status.stop();
    }
    // A reader of its own: the first answer is full, the next (nothing changed) empty.
    const direct = new WorkerScrapeReader({ url: prom?.url ?? '', timeoutMs: 5000 }, pathToFileURL(join(REPO, 'dist', 'webhook', 'scrape-worker.js')));
    try {
      // Applied as the cache does, until both targets are in `up` (the failing one shows up after its first scrape fails).
      const seen = new Map<string, number>();
      const deltas: Array<{ full: boolean }> = [];
      await waitUntil(async () => {
        const d = await direct.read(Date.now());
        deltas.push(d);
        for (const [key, up] of d.set) seen.set(key, up);
        for (const key of d.removed) seen.delete(key);
        return seen.size === 2;
      }, { timeoutMs: 30_000, description: 'both targets in the worker\'s answers' });
      expect(deltas.map((d) => d.full)).toEqual([true, ...Array<boolean>(deltas.length - 1).fill(false)]);
      expect(seen).toEqual(new Map([['shop/reviews-v2-7d9f8', 1], ['shop/ratings-v2-5c4b1', 0]]));
      const unchanged = await direct.read(Date.now());
      expect(unchanged).toEqual({ full: false, set: [], removed: [], pods: 2 });
    } finally {
      await direct.close();
    }
    await expect(direct.read(Date.now())).resolves.toMatchObject({ full: true, pods: 2 }); // a closed reader starts a new worker
    await direct.close();
  }, 360_000);

  it('a worker that cannot reach Prometheus fails the refresh with the reason, and the cache stays unknown', async () => {
    await ensureCliBuilt();
    const failures: string[] = [];
    const reader = new WorkerScrapeReader({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }, pathToFileURL(join(REPO, 'dist', 'webhook', 'scrape-worker.js')));
    const status = new PrometheusScrapeStatus({ source: reader, onRefresh: (o) => (o.ok ? undefined : failures.push(o.error)) });
    try {
      await status.refresh();
      expect(failures[0]).toMatch(/could not be reached/);
      expect(status.podScraped('shop', 'reviews-v2-7d9f8')).toBeUndefined();
    } finally {
      status.stop();
    }
  }, 360_000);
});
