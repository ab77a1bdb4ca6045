// A list+watch cache of one kind (in one namespace or cluster-wide), written
// into a ClusterState as slim objects. It lists in pages, then watches from the
// list's resourceVersion; a watch the server closes is resumed from the last
// resourceVersion seen, a watch that fails, stalls or expires (410) is
// restarted after a backoff with a fresh list that replaces what the cache
// held. Readers never see a half-done relist: the swap is synchronous.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterObject } from '../istio/types.js';
import type { Namespace } from './cluster-state.js';
import type { SupportedKind } from './slim.js';

export type Json = Record<string, unknown>;

export interface ListPage {
  items: Json[];
  resourceVersion: string;
  continueToken?: string;
}

export interface WatchEvent {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  type: string;
  object: Json;
}

/** How a watch ended. `statusCode` is set when the server refused it (410: resourceVersion too old). */
export interface WatchEnd {
  error?: Error;
  statusCode?: number;
}

export interface WatchHandle {
  ended: Promise<WatchEnd>;
  abort(): void;
}

/** The two API calls a watch cache makes. */
export interface ListWatchClient {
  list(path: string, options: { limit: number; continueToken?: string; signal: AbortSignal }): Promise<ListPage>;
  watch(path: string, options: { resourceVersion: string; timeoutSeconds: number }, onEvent: (event: WatchEvent) => void): WatchHandle;
}

/** Where cached objects go; MemoryClusterState is one. */
export interface CacheSink {
  upsert(obj: ClusterObject | Namespace): void;
  remove(kind: SupportedKind, namespace: string, name: string): void;
}

export interface CacheLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface WatchCacheOptions {
  kind: SupportedKind;
  /** Collection path, e.g. `/api/v1/pods` or `/apis/apps/v1/namespaces/shop/deployments`. */
  path: string;
  slim: (raw: Json) => ClusterObject | Namespace;
  client: ListWatchClient;
  sink: CacheSink;
  log: CacheLog;
  /** Told after every change the cache applies (events and relists). */
  onChange?: (change: { type: 'upsert' | 'remove' | 'relist'; object?: ClusterObject | Namespace }) => void;
  /**
   * Objects per list page (default 100). Each page is read and parsed whole before
   * it is slimmed; at about 7 KB per pod, 100 keep that transient heap near 1 MB,
   * where 500 (client-go's choice) grew the webhook's resident memory by some 30 MiB.
   */
  pageSize?: number;
  /** Server-side watch duration; the server ends the watch and we resume from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  /** No event, not even a bookmark, for this long means the connection is dead. */
  stallMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export interface WatchCacheStats {
  synced: boolean;
  objects: number;
  relists: number;
  watchRestarts: number;
}

type WatchOutcome = 'closed' | 'expired' | 'failed' | 'stalled' | 'stopped';

export class WatchCache {
  readonly kind: SupportedKind;
  readonly path: string;
  /** Resolves once the first list has been applied. */
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  private isSynced = false;
  private readonly known = new Map<string, Set<string>>();
  private objects = 0;
  private relists = 0;
  private watchRestarts = 0;
  private resourceVersion = '';
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  private currentWatch: WatchHandle | undefined;

  constructor(private readonly options: WatchCacheOptions) {
    this.kind = options.kind;
    this.path = options.path;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  get stats(): WatchCacheStats {
    return { synced: this.isSynced, objects: this.objects, relists: this.relists, watchRestarts: this.watchRestarts };
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops watching and waits for the loop to end. Objects stay in the sink. */
  async stop(): Promise<void> {
    this.stopper.abort();
    this.currentWatch?.abort();
    await this.running;
  }

  /** Removes every object this cache put into the sink (a namespace no longer watched). Call after `stop()`. */
  forget(): void {
    for (const [namespace, names] of this.known) for (const name of names) this.options.sink.remove(this.kind, namespace, name);
    this.known.clear();
    this.objects = 0;
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { backoffInitialMs = 500, backoffMaxMs = 30_000, log } = this.options;
    let backoffMs = 0;
    let mustList = true;
    while (!this.stopped) {
      if (backoffMs > 0) {
        try {
          await sleep(backoffMs * (0.75 + Math.random() * 0.5), undefined, { signal: this.stopper.signal });
        } catch {
          return; // stopped
        }
      }
      if (mustList) {
        try {
          await this.relist();
          mustList = false;
        } catch (e) {
          if (this.stopped) return;
          backoffMs = nextBackoff(backoffMs, backoffInitialMs, backoffMaxMs);
          log.warn({ kind: this.kind, path: this.path, err: (e as Error).message, retryInMs: backoffMs }, 'listing failed; retrying');
          continue;
        }
      }
      const { outcome, events } = await this.watchOnce();
      if (outcome === 'stopped') return;
      // A watch that delivered something was healthy: start backing off afresh.
      if (events > 0) backoffMs = 0;
      if (outcome === 'closed') {
        // A normal end of a watch (its timeout): resume from the last resourceVersion.
        if (events === 0) backoffMs = nextBackoff(backoffMs, backoffInitialMs, backoffMaxMs);
        continue;
      }
      this.watchRestarts++;
      mustList = true;
      backoffMs = outcome === 'expired' ? 0 : nextBackoff(backoffMs, backoffInitialMs, backoffMaxMs);
      log.warn({ kind: this.kind, path: this.path, reason: outcome, retryInMs: backoffMs }, 'watch ended abnormally; relisting');
    }
  }

  /** Lists every page, then replaces the cache's contents in one synchronous step. */
  private async relist(): Promise<void> {
    const { client, pageSize = 100, slim } = this.options;
    const fresh: (ClusterObject | Namespace)[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await client.list(this.path, {
        limit: pageSize,
        signal: this.stopper.signal,
        ...(continueToken ? { continueToken } : {}),
      });
      for (const item of page.items) fresh.push(slim(item));
      // The first page's resourceVersion is the snapshot every page belongs to.
      if (!continueToken) resourceVersion = page.resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken);
    if (this.stopped) return;

    const { sink } = this.options;
    const keep = new Map<string, Set<string>>();
    for (const o of fresh) namesIn(keep, o.metadata.namespace ?? '').add(o.metadata.name);
    for (const [namespace, names] of this.known) {
      const still = keep.get(namespace);
      for (const name of names) if (!still?.has(name)) sink.remove(this.kind, namespace, name);
    }
    for (const o of fresh) sink.upsert(o);
    this.known.clear();
    for (const [ns, names] of keep) this.known.set(ns, names);
    this.objects = fresh.length;
    this.resourceVersion = resourceVersion;
    this.relists++;
    this.options.onChange?.({ type: 'relist' });
    if (!this.isSynced) {
      this.isSynced = true;
      this.options.log.info({ kind: this.kind, path: this.path, objects: this.objects }, 'watch cache synced');
      this.markSynced();
    }
  }

  private watchOnce(): Promise<{ outcome: WatchOutcome; events: number }> {
    const { client, watchTimeoutSeconds = 300, stallMs = 90_000 } = this.options;
    return new Promise((resolve) => {
      let verdict: WatchOutcome | undefined;
      let events = 0;
      // A holder, because an event may end the watch before client.watch() returns.
      const current: { handle?: WatchHandle } = {};
      const finish = (outcome: WatchOutcome): void => {
        verdict ??= outcome;
        current.handle?.abort();
      };
      let stallTimer: NodeJS.Timeout | undefined;
      const armStallTimer = (): void => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => finish('stalled'), stallMs);
        stallTimer.unref();
      };
      const end = (outcome: WatchOutcome): void => resolve({ outcome, events });
      // Spread the server-side timeouts so caches do not all reconnect at once.
      const timeoutSeconds = Math.max(1, Math.round(watchTimeoutSeconds * (0.9 + Math.random() * 0.2)));
      const handle = client.watch(this.path, { resourceVersion: this.resourceVersion, timeoutSeconds }, (event) => {
        if (verdict || this.stopped) return;
        events++;
        armStallTimer();
        this.apply(event, finish);
      });
      current.handle = handle;
      this.currentWatch = handle;
      if (verdict || this.stopped) handle.abort();
      armStallTimer();
      void handle.ended.then((result) => {
        clearTimeout(stallTimer);
        this.currentWatch = undefined;
        if (this.stopped) return end('stopped');
        if (verdict) return end(verdict);
        if (result.statusCode === 410) return end('expired');
        if (result.error || result.statusCode !== undefined) {
          this.options.log.warn({ kind: this.kind, path: this.path, statusCode: result.statusCode, err: result.error?.message }, 'watch failed');
          return end('failed');
        }
        end('closed');
      });
    });
  }

  private apply(event: WatchEvent, finish: (outcome: WatchOutcome) => void): void {
    const raw = event.object;
    if (event.type === 'ERROR') {
      // A Status object: 410 Gone when our resourceVersion is too old to resume from.
      finish(raw.code === 410 ? 'expired' : 'failed');
      if (raw.code !== 410) this.options.log.warn({ kind: this.kind, path: this.path, status: raw }, 'watch sent an error');
      return;
    }
    const rv = (raw.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const obj = this.options.slim(raw);
      const names = namesIn(this.known, obj.metadata.namespace ?? '');
      if (!names.has(obj.metadata.name)) {
        names.add(obj.metadata.name);
        this.objects++;
      }
      this.options.sink.upsert(obj);
      this.options.onChange?.({ type: 'upsert', object: obj });
    } else if (event.type === 'DELETED') {
      const obj = this.options.slim(raw);
      const namespace = obj.metadata.namespace ?? '';
      if (this.known.get(namespace)?.delete(obj.metadata.name)) this.objects--;
      this.options.sink.remove(this.kind, namespace, obj.metadata.name);
      this.options.onChange?.({ type: 'remove', object: obj });
    }
    if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
  }
}

function namesIn(map: Map<string, Set<string>>, namespace: string): Set<string> {
  let names = map.get(namespace);
  if (!names) map.set(namespace, (names = new Set()));
  return names;
}

function nextBackoff(currentMs: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, currentMs > 0 ? currentMs * 2 : initialMs);
}
