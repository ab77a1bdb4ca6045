// How the `metrics-scraped` cache learns which pods Prometheus scrapes: one
// query for every pod, turned into the change since the previous answer. The
// reply is some 2 MB of JSON for 20,000 pods; parsed in one piece it stalls
// the admission thread for tens of milliseconds. By default the webhook reads
// it as it arrives (StreamingScrapeReader: one small parse per sample, the
// event loop served between chunks); a worker thread (WorkerScrapeReader) is
// the other way to keep it off the reviews, at some 45 MiB more resident.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { streamInstantVector, type InstantVectorStreamOptions } from '../prometheus/instant-vector-stream.js';
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

interface PodUp {
  up: number;
  /** What the previous answer said; undefined for a pod new in this one. */
  previous: number | undefined;
  /** The read that last saw this pod. */
  read: number;
}

/**
 * Reads on the calling thread as the answer arrives, keeping one entry per
 * pod that each answer updates in place: a refresh allocates one sample at a
 * time, not a second map of every pod.
 */
export class StreamingScrapeReader implements ScrapeReader {
  private readonly pods = new Map<string, Map<string, PodUp>>();
  private reads = 0;
  private answered = false;

  constructor(private readonly options: InstantVectorStreamOptions & ScrapeQuery) {}

  async read(atMs: number): Promise<ScrapeDelta> {
    const namespaceLabel = this.options.namespaceLabel ?? 'namespace';
    const podLabel = this.options.podLabel ?? 'pod';
    const read = ++this.reads;
    const onSample = (labels: Record<string, string>, up: number): void => {
      const namespace = labels[namespaceLabel];
      const pod = labels[podLabel];
      if (namespace === undefined || pod === undefined) return;
      let inNamespace = this.pods.get(namespace);
      if (!inNamespace) this.pods.set(namespace, (inNamespace = new Map<string, PodUp>()));
      const entry = inNamespace.get(pod);
      if (!entry) inNamespace.set(pod, { up, previous: undefined, read });
      else if (entry.read !== read) {
        entry.previous = entry.up;
        entry.up = up;
        entry.read = read;
      } else entry.up = Math.max(entry.up, up);
    };
    try {
      await streamInstantVector(this.options, this.options.query ?? `max by (${namespaceLabel}, ${podLabel}) (up)`, atMs / 1000, onSample);
    } catch (err) {
      // Entries were updated in place up to the failure: the next answer replaces the cache whole.
      this.pods.clear();
      this.answered = false;
      throw err;
    }
    const full = !this.answered;
    this.answered = true;
    const set: Array<[string, number]> = [];
    const removed: string[] = [];
    let pods = 0;
    let sinceYield = 0;
    for (const [namespace, inNamespace] of this.pods) {
      // The walk over every pod, too, leaves room for reviews.
      if ((sinceYield += inNamespace.size) >= 2000) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
      for (const [pod, entry] of inNamespace) {
        if (entry.read !== read) {
          removed.push(`${namespace}/${pod}`);
          inNamespace.delete(pod);
          continue;
        }
        pods += 1;
        if (full || entry.previous !== entry.up) set.push([`${namespace}/${pod}`, entry.up]);
      }
      if (inNamespace.size === 0) this.pods.delete(namespace);
    }
    return { full, set, removed: full ? [] : removed, pods };
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
