// The metrics-scraped rule's `up` refresh alone, pinned to the webhook's core:
// how long each way of reading Prometheus's answer holds the event loop. A
// timer fires every millisecond meanwhile; its worst lateness during a refresh
// is the stall a review arriving then would have waited. Compares the
// streaming reader (the default) with one parse of the whole answer.
import { performance } from 'node:perf_hooks';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { PrometheusScrapeReader, StreamingScrapeReader, type ScrapeReader } from '../../src/webhook/scrape-reader.js';
import { childInput, serveParent } from '../lib/bench-child.js';

export type RefreshMode = 'stream' | 'whole';

export interface RefreshMeasurement {
  mode: RefreshMode;
  refreshes: number;
  pods: number;
  /** Wall time of a refresh, median and max, ms. */
  durationMedianMs: number;
  durationMaxMs: number;
  /** The event loop's longest stall during a refresh, median and max over the refreshes, ms. */
  stallMedianMs: number;
  stallMaxMs: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function measure(url: string, mode: RefreshMode, refreshes: number): Promise<RefreshMeasurement> {
  const reader: ScrapeReader = mode === 'stream' ? new StreamingScrapeReader({ url, timeoutMs: 30_000 }) : new PrometheusScrapeReader(new PrometheusMetricsSource({ url, timeoutMs: 30_000 }));
  const durations: number[] = [];
  const stalls: number[] = [];
  let pods = 0;
  for (let i = 0; i < refreshes + 2; i++) {
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 1);
      last = now;
    }, 1);
    const started = performance.now();
    const delta = await reader.read(Date.now());
    const duration = performance.now() - started;
    // One more tick, so a stall at the very end is counted too.
    await new Promise((resolve) => setTimeout(resolve, 2));
    clearInterval(timer);
    pods = delta.pods;
    if (i >= 2) {
      // The first two warm the code up; the first answer is a full one.
      durations.push(duration);
      stalls.push(worst);
    }
  }
  await reader.close();
  return { mode, refreshes, pods, durationMedianMs: median(durations), durationMaxMs: Math.max(...durations), stallMedianMs: median(stalls), stallMaxMs: Math.max(...stalls) };
}

const { url } = childInput<{ url: string }>();
serveParent({}, {
  measure: (args: { mode: RefreshMode; refreshes: number }) => measure(url, args.mode, args.refreshes),
});
