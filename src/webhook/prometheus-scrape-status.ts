// The `metrics-scraped` rule's view of Prometheus: a cache of `up` per pod,
// refreshed in the background by one query for every pod at once (read by a
// ScrapeReader, in the webhook a worker thread). The admission request path
// only reads the cache, so a slow or unreachable Prometheus never slows a
// review; a cache that is too old answers "unknown", which the rule reports
// at its configured mode.
import type { MetricsSource } from '../prometheus/metrics-source.js';
import type { ScrapeStatus } from './rules/scrape-status.js';
import { PrometheusScrapeReader, type ScrapeQuery, type ScrapeReader } from './scrape-reader.js';

export interface PrometheusScrapeStatusOptions extends ScrapeQuery {
  /** Where the answers come from: a reader, or a source read on this thread. */
  source: MetricsSource | ScrapeReader;
  /** Default 15 s, Prometheus's usual scrape interval. */
  refreshIntervalMs?: number;
  /** Answers older than this are not trusted (every pod is unknown). Default 4 refresh intervals. */
  maxAgeMs?: number;
  /** Reports each refresh, for logs and the webhook's own metrics. */
  onRefresh?: (outcome: { ok: true; pods: number; durationMs: number } | { ok: false; error: string; durationMs: number }) => void;
  /** Injected in tests; defaults to Date.now. */
  now?: () => number;
}

export class PrometheusScrapeStatus implements ScrapeStatus {
  private pods = new Map<string, number>();
  private refreshedAtMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly refreshIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly reader: ScrapeReader;

  constructor(private readonly options: PrometheusScrapeStatusOptions) {
    this.reader = isReader(options.source) ? options.source : new PrometheusScrapeReader(options.source, options);
    this.refreshIntervalMs = options.refreshIntervalMs ?? 15_000;
    this.maxAgeMs = options.maxAgeMs ?? 4 * this.refreshIntervalMs;
    this.now = options.now ?? Date.now;
  }

  podScraped(namespace: string, podName: string): boolean | undefined {
    if (this.refreshedAtMs === undefined || this.now() - this.refreshedAtMs > this.maxAgeMs) return undefined;
    return this.pods.get(`${namespace}/${podName}`) === 1;
  }

  /** Whether the cache holds an answer young enough to be trusted. */
  get fresh(): boolean {
    return this.refreshedAtMs !== undefined && this.now() - this.refreshedAtMs <= this.maxAgeMs;
  }

  /** Refreshes now, then every refreshIntervalMs until stop(). The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      void this.refresh().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.refreshIntervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** Stops refreshing and closes the reader (its worker, if it has one). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.reader.close();
  }

  /** One refresh (concurrent calls share it). Never rejects: a failure keeps the previous answer until it is too old. */
  refresh(): Promise<void> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async load(): Promise<void> {
    const started = performance.now();
    const startedAtMs = this.now();
    try {
      const delta = await this.reader.read(startedAtMs);
      if (delta.full) this.pods = new Map(delta.set);
      else {
        for (const [key, up] of delta.set) this.pods.set(key, up);
        for (const key of delta.removed) this.pods.delete(key);
      }
      // The answer is as old as the question, not as the reply.
      this.refreshedAtMs = startedAtMs;
      this.options.onRefresh?.({ ok: true, pods: delta.pods, durationMs: performance.now() - started });
    } catch (err) {
      this.options.onRefresh?.({ ok: false, error: err instanceof Error ? err.message : String(err), durationMs: performance.now() - started });
    }
  }
}

function isReader(source: MetricsSource | ScrapeReader): source is ScrapeReader {
  return 'read' in source && typeof source.read === 'function';
}
