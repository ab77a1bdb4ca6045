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

  upsert(obj: ClusterObject | Namespace): void {
    const ns = obj.metadata.namespace ?? '';
    if (obj.kind === 'Pod') {
      let index = this.podsByNamespace.get(ns);
      if (!index) this.podsByNamespace.set(ns, (index = new PodLabelIndex()));
      index.upsert(obj);
      return;
    }
    this.bucket(obj.kind, ns).set(obj.metadata.name, obj);
    if (obj.kind === 'VirtualService') this.vsList = undefined;
  }

  remove(kind: Kind, namespace: string, name: string): void {
    if (kind === 'Pod') {
      const index = this.podsByNamespace.get(namespace);
      index?.remove(name);
      if (index?.size === 0) this.podsByNamespace.delete(namespace);
      return;
    }
    this.byKind.get(kind)?.get(namespace)?.delete(name);
    if (kind === 'VirtualService') this.vsList = undefined;
  }

  /** Drop every object of a kind, before a relist replaces them. */
  clear(kind: Kind): void {
    if (kind === 'Pod') this.podsByNamespace.clear();
    this.byKind.delete(kind);
    if (kind === 'VirtualService') this.vsList = undefined;
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
    return names ? ([...names.values()] as T[]) : [];
  }
}
