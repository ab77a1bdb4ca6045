// How the `metrics-scraped` cache learns which pods Prometheus scrapes: one
// query for every pod, turned into the change since the previous answer. The
// webhook runs the query and the parse of its reply (some 2 MB of JSON for
// 20,000 pods) in a worker thread, so the admission requests on the main
// thread never wait behind it; the main thread only applies the change, which
// between two refreshes is a handful of pods.
import { Worker } from 'node:worker_threads';
import type { MetricsSource } from '../prometheus/metrics-source.js';

/** One refresh, as the change from the reader's previous answer. */
export interface ScrapeDelta {
  /** The reader's first answer (or its first after a restart): the cache is replaced, not changed. */
  full: boolean;
  /** `namespace/pod` → `up` (the largest value over the pod's targets), for pods new or changed. */
  set: Array<[string, number]>;
  /** Pods that are no longer in the answer. */
  removed: string[];
  /** How many pods the answer holds. */
  pods: number;
}

export interface ScrapeReader {
  /** Asks Prometheus as of `atMs` (epoch ms). Rejects when it cannot answer; the previous answer then stands. */
  read(atMs: number): Promise<ScrapeDelta>;
  close(): Promise<void>;
}

export interface ScrapeQuery {
  /** Default `max by (namespace, pod) (up)`. */
  query?: string;
  /** Labels of the result that name the pod; defaults `namespace`, `pod` (Kubernetes pod discovery's usual relabelling). */
  namespaceLabel?: string;
  podLabel?: string;
}

/** Reads on the calling thread: what the worker runs, and what tests and `preflight` use directly. */
export class PrometheusScrapeReader implements ScrapeReader {
  private previous: Map<string, number> | undefined;

  constructor(
    private readonly source: MetricsSource,
    private readonly options: ScrapeQuery = {},
  ) {}

  async read(atMs: number): Promise<ScrapeDelta> {
    const namespaceLabel = this.options.namespaceLabel ?? 'namespace';
    const podLabel = this.options.podLabel ?? 'pod';
    const samples = await this.source.instantQuery(this.options.query ?? `max by (${namespaceLabel}, ${podLabel}) (up)`, atMs / 1000);
    const pods = new Map<string, number>();
    for (const s of samples) {
      const namespace = s.labels[namespaceLabel];
      const pod = s.labels[podLabel];
      if (namespace === undefined || pod === undefined) continue;
      const key = `${namespace}/${pod}`;
      pods.set(key, Math.max(pods.get(key) ?? 0, s.value));
    }
    const previous = this.previous;
    this.previous = pods;
    if (!previous) return { full: true, set: [...pods], removed: [], pods: pods.size };
    const set: Array<[string, number]> = [];
    for (const [key, up] of pods) if (previous.get(key) !== up) set.push([key, up]);
    const removed: string[] = [];
    for (const key of previous.keys()) if (!pods.has(key)) removed.push(key);
    return { full: false, set, removed, pods: pods.size };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What the worker is started with (workerData). */
export interface ScrapeWorkerData extends ScrapeQuery {
  url: string;
  timeoutMs: number;
}

/** The worker's heap: what one answer for 100,000 pods needs to parse, with room to spare; a larger one fails the refresh. */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 192 };

type WorkerReply = { id: number; ok: true; delta: ScrapeDelta } | { id: number; ok: false; error: string };

/**
 * Reads in a worker thread (the compiled `scrape-worker.js` beside this file).
 * A worker that exits is started again on the next read, and its first answer
 * is a full one.
 */
export class WorkerScrapeReader implements ScrapeReader {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (d: ScrapeDelta) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly data: ScrapeWorkerData,
    private readonly workerFile: URL = WorkerScrapeReader.workerFile(),
  ) {}

  /** The worker's entry point, compiled beside this module. */
  static workerFile(): URL {
    return new URL('./scrape-worker.js', import.meta.url);
  }

  read(atMs: number): Promise<ScrapeDelta> {
    const worker = this.started();
    const id = this.nextId++;
    return new Promise<ScrapeDelta>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, atMs });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.failAll(new Error('the scrape-status reader was closed'));
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // A small young generation: the worker's garbage is one parse every 15 s, and the
    // default semi-spaces would keep tens of MiB resident for it.
    const worker = new Worker(this.workerFile, { workerData: this.data, resourceLimits: WORKER_HEAP });
    worker.unref(); // like the refresh timer: it never keeps the process alive
    worker.on('message', (reply: WorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.delta);
      else waiting.reject(new Error(reply.error));
    });
    worker.on('error', (err: Error) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`the scrape-status worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failAll(err);
  }

  private failAll(err: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}
