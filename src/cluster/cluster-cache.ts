// The webhook's view of the cluster: one watch cache per kind the rules read,
// all feeding one MemoryClusterState. Either cluster-wide (one watch per kind,
// cluster-wide list/watch RBAC), or limited to guarded namespaces plus the mesh
// root namespace (namespaces are still watched cluster-wide to learn which are
// guarded; per-namespace caches start and stop as labels change).
import { isGuardedNamespace } from '../istio/guard.js';
import { DEFAULT_MESH } from '../istio/mesh.js';
import type { ClusterObject } from '../istio/types.js';
import type { Namespace } from './cluster-state.js';
import {
  slimDeployment,
  slimIstio,
  slimJob,
  slimNamespace,
  slimPod,
  slimReplicaSet,
  slimService,
  type SupportedKind,
} from './slim.js';
import { WatchCache, type CacheLog, type CacheSink, type Json, type ListWatchClient, type WatchCacheOptions } from './watch-cache.js';

export interface Resource {
  kind: SupportedKind;
  /** `''` for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  slim: (raw: Json) => ClusterObject | Namespace;
}

export type IstioApiVersion = 'v1' | 'v1beta1' | 'v1alpha3';

/** Every kind the rules read. */
export function resources(istioVersion: IstioApiVersion = 'v1'): Resource[] {
  // List items carry no kind; the slimmers need it.
  const withKind = (kind: string, f: (raw: Json) => ClusterObject | Namespace) => (raw: Json) => f(raw.kind ? raw : { ...raw, kind });
  return [
    { kind: 'DestinationRule', group: 'networking.istio.io', version: istioVersion, plural: 'destinationrules', namespaced: true, slim: withKind('DestinationRule', slimIstio) },
    { kind: 'VirtualService', group: 'networking.istio.io', version: istioVersion, plural: 'virtualservices', namespaced: true, slim: withKind('VirtualService', slimIstio) },
    { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true, slim: slimService },
    { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, slim: slimDeployment },
    { kind: 'ReplicaSet', group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true, slim: slimReplicaSet },
    { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true, slim: slimPod },
    { kind: 'Job', group: 'batch', version: 'v1', plural: 'jobs', namespaced: true, slim: slimJob },
    { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false, slim: slimNamespace },
  ];
}

export function collectionPath(r: Pick<Resource, 'group' | 'version' | 'plural'>, namespace?: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export type CacheScope = 'cluster' | 'guarded-namespaces';

export type WatchTuning = Pick<WatchCacheOptions, 'pageSize' | 'watchTimeoutSeconds' | 'stallMs' | 'backoffInitialMs' | 'backoffMaxMs'>;

export interface ClusterCacheOptions {
  client: ListWatchClient;
  sink: CacheSink;
  log: CacheLog;
  scope: CacheScope;
  /** Istio's root namespace: its DestinationRules apply mesh-wide, so they are always cached. */
  rootNamespace: string;
  istioApiVersion?: IstioApiVersion;
  /** Which namespaces to cache in `guarded-namespaces` scope; default: labelled `bluegreen-guard.io/guard=enabled`. */
  isGuardedNamespace?: (ns: Namespace) => boolean;
  tuning?: WatchTuning;
}

export interface KindStats {
  kind: string;
  synced: boolean;
  objects: number;
  relists: number;
  watchRestarts: number;
}

export class ClusterCache {
  private readonly resources: Resource[];
  private readonly namespaceResource: Resource;
  private readonly caches = new Map<string, WatchCache>();
  private readonly guarded = new Set<string>();
  private started = false;
  private stopping = false;

  constructor(private readonly options: ClusterCacheOptions) {
    const all = resources(options.istioApiVersion);
    this.resources = all.filter((r) => r.namespaced);
    this.namespaceResource = all.find((r) => !r.namespaced) as Resource;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.options.scope === 'cluster') {
      for (const r of [...this.resources, this.namespaceResource]) this.add(r, undefined, this.options.sink);
      return;
    }
    this.add(this.namespaceResource, undefined, this.namespaceSink());
    this.reconcileNamespaces();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.caches.values()].map((c) => c.stop()));
  }

  /** What is not synced yet, e.g. `Pod` or `Pod/shop`; empty when every cache has synced. */
  notReady(): string[] {
    const waiting: string[] = [];
    for (const [key, cache] of this.caches) if (!cache.stats.synced) waiting.push(key);
    return waiting;
  }

  get isSynced(): boolean {
    return this.started && this.notReady().length === 0;
  }

  /** Resolves once every cache running at that moment, and every one started meanwhile, has synced. */
  async synced(): Promise<void> {
    for (;;) {
      const pending = [...this.caches.values()].filter((c) => !c.stats.synced);
      if (pending.length === 0 && this.started) return;
      await Promise.all(pending.map((c) => c.synced));
    }
  }

  /** Per kind, summed over namespaces. */
  kinds(): KindStats[] {
    const byKind = new Map<string, KindStats>();
    for (const cache of this.caches.values()) {
      const s = cache.stats;
      const k = byKind.get(cache.kind) ?? { kind: cache.kind, synced: true, objects: 0, relists: 0, watchRestarts: 0 };
      k.synced &&= s.synced;
      k.objects += s.objects;
      k.relists += s.relists;
      k.watchRestarts += s.watchRestarts;
      byKind.set(cache.kind, k);
    }
    return [...byKind.values()];
  }

  /** Namespaces with their own caches (guarded-namespaces scope). */
  watchedNamespaces(): string[] {
    const namespaces = new Set<string>();
    for (const key of this.caches.keys()) {
      const ns = key.split('/')[1];
      if (ns) namespaces.add(ns);
    }
    return [...namespaces].sort();
  }

  private add(r: Resource, namespace: string | undefined, sink: CacheSink): void {
    const key = namespace ? `${r.kind}/${namespace}` : r.kind;
    if (this.caches.has(key)) return;
    const cache = new WatchCache({
      ...this.options.tuning,
      kind: r.kind,
      path: collectionPath(r, namespace),
      slim: r.slim,
      client: this.options.client,
      sink,
      log: this.options.log,
    });
    this.caches.set(key, cache);
    cache.start();
  }

  /** Writes namespaces through and keeps the set of guarded ones current. */
  private namespaceSink(): CacheSink {
    const { sink } = this.options;
    const isGuarded = this.options.isGuardedNamespace ?? ((ns: Namespace) => isGuardedNamespace(ns, DEFAULT_MESH));
    return {
      upsert: (obj) => {
        sink.upsert(obj);
        const name = obj.metadata.name;
        const was = this.guarded.has(name);
        const is = obj.kind === 'Namespace' && isGuarded(obj);
        if (is) this.guarded.add(name);
        else this.guarded.delete(name);
        if (was !== is) this.reconcileNamespaces();
      },
      remove: (kind, namespace, name) => {
        sink.remove(kind, namespace, name);
        if (this.guarded.delete(name)) this.reconcileNamespaces();
      },
    };
  }

  private reconcileNamespaces(): void {
    if (this.stopping || !this.started) return;
    const { rootNamespace, sink, log } = this.options;
    const wanted = new Set([...this.guarded, rootNamespace]);
    for (const ns of wanted) {
      // The root namespace matters for its DestinationRules only, unless it is guarded itself.
      const kinds = ns === rootNamespace && !this.guarded.has(ns) ? this.resources.filter((r) => r.kind === 'DestinationRule') : this.resources;
      const before = this.caches.size;
      for (const r of kinds) this.add(r, ns, sink);
      if (this.caches.size > before) log.info({ namespace: ns }, 'caching namespace');
    }
    for (const [key, cache] of this.caches) {
      const [kind, ns] = key.split('/');
      if (!ns) continue;
      const keep = wanted.has(ns) && (ns !== rootNamespace || this.guarded.has(ns) || kind === 'DestinationRule');
      if (keep) continue;
      this.caches.delete(key);
      log.info({ namespace: ns, kind }, 'no longer caching');
      // Once stop() is called the cache writes nothing more, so forgetting now is safe.
      void cache.stop();
      cache.forget();
    }
  }
}
