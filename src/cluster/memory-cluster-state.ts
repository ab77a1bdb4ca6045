import type { ClusterObject, Deployment, DestinationRule, Job, Pod, ReplicaSet, Service, VirtualService } from '../istio/types.js';
import type { ClusterState, Namespace } from './cluster-state.js';

type Kind = (ClusterObject | Namespace)['kind'];
type ByName<T> = Map<string, T>;

/**
 * ClusterState held in memory, indexed by kind and namespace. The webhook's
 * watch caches write into one; `preflight` fills one from files.
 */
export class MemoryClusterState implements ClusterState {
  private readonly byKind = new Map<Kind, Map<string, ByName<ClusterObject | Namespace>>>();
  private vsList: VirtualService[] | undefined;

  upsert(obj: ClusterObject | Namespace): void {
    const ns = obj.metadata.namespace ?? '';
    this.bucket(obj.kind, ns).set(obj.metadata.name, obj);
    if (obj.kind === 'VirtualService') this.vsList = undefined;
  }

  remove(kind: Kind, namespace: string, name: string): void {
    this.byKind.get(kind)?.get(namespace)?.delete(name);
    if (kind === 'VirtualService') this.vsList = undefined;
  }

  /** Drop every object of a kind, before a relist replaces them. */
  clear(kind: Kind): void {
    this.byKind.delete(kind);
    if (kind === 'VirtualService') this.vsList = undefined;
  }

  count(kind: Kind): number {
    let n = 0;
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
    return this.list<Pod>('Pod', namespace);
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
