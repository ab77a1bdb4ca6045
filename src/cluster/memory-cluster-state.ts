import type { ClusterObject, Deployment, DestinationRule, Job, Labels, Pod, ReplicaSet, Service, VirtualService } from '../istio/types.js';
import type { ClusterState, Namespace } from './cluster-state.js';
import { PodLabelIndex } from './pod-label-index.js';

type Kind = (ClusterObject | Namespace)['kind'];
type ByName<T> = Map<string, T>;

/**
 * ClusterState held in memory, indexed by kind and namespace, pods also by
 * label. The webhook's watch caches write into one; `preflight` fills one from
 * files.
 */
export class MemoryClusterState implements ClusterState {
  private readonly byKind = new Map<Kind, Map<string, ByName<ClusterObject | Namespace>>>();
  /** Pods live here only, not in `byKind`. */
  private readonly podsByNamespace = new Map<string, PodLabelIndex>();
  private vsList: VirtualService[] | undefined;
  private readonly vsAnnotated = new Map<string, VirtualService[]>();
  /** `list()`'s arrays, kept until their kind and namespace change: rules read them on every review. */
  private readonly lists = new Map<Kind, Map<string, readonly unknown[]>>();

  upsert(obj: ClusterObject | Namespace): void {
    const ns = obj.metadata.namespace ?? '';
    if (obj.kind === 'Pod') {
      let index = this.podsByNamespace.get(ns);
      if (!index) this.podsByNamespace.set(ns, (index = new PodLabelIndex()));
      index.upsert(obj);
      return;
    }
    this.bucket(obj.kind, ns).set(obj.metadata.name, obj);
    this.lists.get(obj.kind)?.delete(ns);
    if (obj.kind === 'VirtualService') this.virtualServicesChanged();
  }

  remove(kind: Kind, namespace: string, name: string): void {
    if (kind === 'Pod') {
      const index = this.podsByNamespace.get(namespace);
      index?.remove(name);
      if (index?.size === 0) this.podsByNamespace.delete(namespace);
      return;
    }
    this.byKind.get(kind)?.get(namespace)?.delete(name);
    this.lists.get(kind)?.delete(namespace);
    if (kind === 'VirtualService') this.virtualServicesChanged();
  }

  /** Drop every object of a kind, before a relist replaces them. */
  clear(kind: Kind): void {
    if (kind === 'Pod') this.podsByNamespace.clear();
    this.byKind.delete(kind);
    this.lists.delete(kind);
    if (kind === 'VirtualService') this.virtualServicesChanged();
  }

  count(kind: Kind): number {
    let n = 0;
    if (kind === 'Pod') {
      for (const index of this.podsByNamespace.values()) n += index.size;
      return n;
    }
    for (const m of this.byKind.get(kind)?.values() ?? []) n += m.size;
    return n;
  }

  namespace(name: string): Namespace | undefined {
    return this.get<Namespace>('Namespace', '', name);
  }

  destinationRules(namespace: string): readonly DestinationRule[] {
    return this.list<DestinationRule>('DestinationRule', namespace);
  }

  virtualServices(): readonly VirtualService[] {
    if (!this.vsList) {
      this.vsList = [];
      for (const m of this.byKind.get('VirtualService')?.values() ?? []) {
        for (const vs of m.values()) this.vsList.push(vs as VirtualService);
      }
    }
    return this.vsList;
  }

  virtualServicesAnnotated(key: string): readonly VirtualService[] {
    let found = this.vsAnnotated.get(key);
    if (!found) this.vsAnnotated.set(key, (found = this.virtualServices().filter((vs) => vs.metadata.annotations?.[key] !== undefined)));
    return found;
  }

  service(namespace: string, name: string): Service | undefined {
    return this.get<Service>('Service', namespace, name);
  }

  pods(namespace: string): readonly Pod[] {
    return this.podsByNamespace.get(namespace)?.all() ?? [];
  }

  podsMatching(namespace: string, selector: Labels): readonly Pod[] {
    return this.podsByNamespace.get(namespace)?.matching(selector) ?? [];
  }

  replicaSet(namespace: string, name: string): ReplicaSet | undefined {
    return this.get<ReplicaSet>('ReplicaSet', namespace, name);
  }

  deployment(namespace: string, name: string): Deployment | undefined {
    return this.get<Deployment>('Deployment', namespace, name);
  }

  jobs(namespace: string): readonly Job[] {
    return this.list<Job>('Job', namespace);
  }

  private virtualServicesChanged(): void {
    this.vsList = undefined;
    this.vsAnnotated.clear();
  }

  private bucket(kind: Kind, namespace: string): ByName<ClusterObject | Namespace> {
    let nsMap = this.byKind.get(kind);
    if (!nsMap) this.byKind.set(kind, (nsMap = new Map<string, ByName<ClusterObject | Namespace>>()));
    let names = nsMap.get(namespace);
    if (!names) nsMap.set(namespace, (names = new Map<string, ClusterObject | Namespace>()));
    return names;
  }

  private get<T>(kind: Kind, namespace: string, name: string): T | undefined {
    return this.byKind.get(kind)?.get(namespace)?.get(name) as T | undefined;
  }

  private list<T>(kind: Kind, namespace: string): readonly T[] {
    const names = this.byKind.get(kind)?.get(namespace);
    if (!names) return NONE; // nothing is kept for a namespace the cache does not hold
    let lists = this.lists.get(kind);
    if (!lists) this.lists.set(kind, (lists = new Map<string, readonly unknown[]>()));
    let found = lists.get(namespace);
    if (!found) lists.set(namespace, (found = [...names.values()]));
    return found as readonly T[];
  }
}

const NONE: readonly never[] = Object.freeze([]);
