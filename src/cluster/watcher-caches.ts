// The watcher's view of the cluster: cluster-wide watch caches of
// VirtualServices (what to guard and their recorded state), DestinationRules
// (the candidate's `version` label) and Namespaces (who opted in), written into
// one MemoryClusterState. The loop reads only these; it calls the API server
// only to write, and to read an object fresh before it patches it.
import { collectionPath, resources, type IstioApiVersion } from './cluster-cache.js';
import { MemoryClusterState } from './memory-cluster-state.js';
import { WatchCache, type CacheLog, type ListWatchClient, type WatchCacheOptions } from './watch-cache.js';

const KINDS = ['VirtualService', 'DestinationRule', 'Namespace'] as const;

export interface WatcherCachesOptions {
  client: ListWatchClient;
  log: CacheLog;
  istioApiVersion: IstioApiVersion;
  tuning?: Pick<WatchCacheOptions, 'watchTimeoutSeconds' | 'stallMs' | 'backoffInitialMs' | 'backoffMaxMs' | 'pageSize'>;
}

export class WatcherCaches {
  readonly state = new MemoryClusterState();
  private readonly caches: WatchCache[];

  constructor(options: WatcherCachesOptions) {
    this.caches = resources(options.istioApiVersion)
      .filter((r) => (KINDS as readonly string[]).includes(r.kind))
      .map(
        (r) =>
          new WatchCache({ ...options.tuning, kind: r.kind, path: collectionPath(r), slim: r.slim, client: options.client, sink: this.state, log: options.log }),
      );
  }

  start(): void {
    for (const c of this.caches) c.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.stop()));
  }

  synced(): boolean {
    return this.notReady().length === 0;
  }

  /** Kinds whose first list has not completed. */
  notReady(): string[] {
    return this.caches.filter((c) => !c.stats.synced).map((c) => c.kind);
  }

  whenSynced(): Promise<void> {
    return Promise.all(this.caches.map((c) => c.synced)).then(() => undefined);
  }

  /** The loop's WatchedObjects port. */
  objects() {
    const state = this.state;
    return {
      virtualServices: () => state.virtualServices(),
      destinationRules: (namespace: string) => state.destinationRules(namespace),
      namespace: (name: string) => state.namespace(name),
      synced: () => this.synced(),
    };
  }
}
