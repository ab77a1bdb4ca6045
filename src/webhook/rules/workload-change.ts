// What a workload change does to traffic that is already routed: a Deployment's
// pod template labels, a Pod's labels or a Service's selector decide which pods
// a subset selects, so they can put a workload behind a subset that guarded
// VirtualServices send traffic to, without any VirtualService or DestinationRule
// changing. The change is applied to a projection of the cluster state, and
// every routed subset whose backend gains a workload is reported. Pure: the
// state comes through the ClusterState port, nothing here calls out.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { findHostRules, type HostRules } from '../../istio/destination-rules.js';
import { serviceOfHost } from '../../istio/hosts.js';
import { formatPercent, routesOf, type Route } from '../../istio/routes.js';
import { selects } from '../../istio/labels.js';
import type { Deployment, Labels, Pod, ReplicaSet, Service, VirtualService } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import { findBackend, type Backend, type Workload } from './subset-backend.js';

/** The change under review, with the object as stored now (undefined on a CREATE). */
export type WorkloadChange =
  | { kind: 'Deployment'; next: Deployment; previous: Deployment | undefined }
  | { kind: 'Pod'; next: Pod; previous: Pod | undefined }
  | { kind: 'Service'; next: Service; previous: Service | undefined };

/** One place a VirtualService sends a share of traffic to a subset. */
export interface RoutedRef {
  vs: VirtualService;
  /** Fully qualified host. */
  host: string;
  subset: string;
  route: Route;
  sharePercent: number;
}

/** A routed subset that the change makes select a workload it did not select before. */
export interface Entry {
  host: string;
  subset: string;
  /** Namespace of the VirtualServices, from which Istio looks up the DestinationRule. */
  fromNamespace: string;
  hostRules: HostRules;
  /** Where traffic reaches the subset (share > 0), in guarded VirtualServices. */
  refs: RoutedRef[];
  /** The newly selected workload. */
  workload: Workload;
  /** The other workloads the subset selects after the change. */
  others: Workload[];
  /** The subset's pods after the change. */
  after: Extract<Backend, { kind: 'pods' }>;
}

/** The name the projection gives the pods a Deployment's next rollout creates. */
export const NEXT_ROLLOUT = 'next-rollout';

/** Routed subset references by the namespace of the host's Service, rebuilt only when the list of VirtualServices changes. */
const indexes = new WeakMap<readonly VirtualService[], { clusterDomain: string; byNamespace: Map<string, RoutedRef[]> }>();

function routedByServiceNamespace(all: readonly VirtualService[], clusterDomain: string): Map<string, RoutedRef[]> {
  const cached = indexes.get(all);
  if (cached && cached.clusterDomain === clusterDomain) return cached.byNamespace;
  const byNamespace = new Map<string, RoutedRef[]>();
  for (const vs of all) {
    for (const route of routesOf(vs, clusterDomain)) {
      for (const d of route.destinations) {
        // A share of 0 sends nothing: the subset's pods get no traffic from this route.
        if (d.subset === undefined || d.sharePercent <= 0) continue;
        const service = serviceOfHost(d.host, clusterDomain);
        if (!service) continue;
        let list = byNamespace.get(service.namespace);
        if (!list) byNamespace.set(service.namespace, (list = []));
        list.push({ vs, host: d.host, subset: d.subset, route, sharePercent: d.sharePercent });
      }
    }
  }
  indexes.set(all, { clusterDomain, byNamespace });
  return byNamespace;
}

/**
 * The cluster state as it will be once the change is stored and rolled out: a
 * Deployment's next pods carry its template labels (one prospective pod, not
 * Ready, owned through a prospective ReplicaSet), a Pod has its new labels, a
 * Service its new selector.
 */
export class ProjectedState implements ClusterState {
  private readonly prospective: { pod: Pod; replicaSet: ReplicaSet } | undefined;

  constructor(
    private readonly base: ClusterState,
    private readonly change: WorkloadChange,
  ) {
    if (change.kind === 'Deployment' && (change.next.spec.replicas ?? 1) > 0) {
      const { namespace, name } = change.next.metadata;
      const rsName = `${name}-${NEXT_ROLLOUT}`;
      this.prospective = {
        replicaSet: { kind: 'ReplicaSet', metadata: { namespace, name: rsName, ownerReferences: [{ kind: 'Deployment', name, controller: true }] } },
        pod: {
          kind: 'Pod',
          metadata: { namespace, name: rsName, ...(change.next.spec.templateLabels ? { labels: change.next.spec.templateLabels } : {}), ownerReferences: [{ kind: 'ReplicaSet', name: rsName, controller: true }] },
          ready: false,
        },
      };
    }
  }

  namespace(name: string) {
    return this.base.namespace(name);
  }

  destinationRules(namespace: string) {
    return this.base.destinationRules(namespace);
  }

  virtualServices() {
    return this.base.virtualServices();
  }

  virtualServicesAnnotated(key: string) {
    return this.base.virtualServicesAnnotated(key);
  }

  jobs(namespace: string) {
    return this.base.jobs(namespace);
  }

  service(namespace: string, name: string): Service | undefined {
    const c = this.change;
    return c.kind === 'Service' && c.next.metadata.namespace === namespace && c.next.metadata.name === name ? c.next : this.base.service(namespace, name);
  }

  pods(namespace: string): readonly Pod[] {
    const pods = this.base.pods(namespace);
    const c = this.change;
    if (c.kind === 'Pod' && c.next.metadata.namespace === namespace) {
      const name = c.next.metadata.name;
      return pods.some((p) => p.metadata.name === name) ? pods.map((p) => (p.metadata.name === name ? c.next : p)) : [...pods, c.next];
    }
    if (this.prospective && this.prospective.pod.metadata.namespace === namespace) return [...pods, this.prospective.pod];
    return pods;
  }

  podsMatching(namespace: string, selector: Labels): readonly Pod[] {
    const pods = this.base.podsMatching(namespace, selector);
    const c = this.change;
    if (c.kind === 'Pod' && c.next.metadata.namespace === namespace) {
      const name = c.next.metadata.name;
      const others = pods.filter((p) => p.metadata.name !== name);
      return selects(selector, c.next.metadata.labels) ? [...others, c.next] : others;
    }
    const pod = this.prospective?.pod;
    if (pod && pod.metadata.namespace === namespace && selects(selector, pod.metadata.labels)) return [...pods, pod];
    return pods;
  }

  replicaSet(namespace: string, name: string): ReplicaSet | undefined {
    const rs = this.prospective?.replicaSet;
    return rs && rs.metadata.namespace === namespace && rs.metadata.name === name ? rs : this.base.replicaSet(namespace, name);
  }

  deployment(namespace: string, name: string): Deployment | undefined {
    const c = this.change;
    return c.kind === 'Deployment' && c.next.metadata.namespace === namespace && c.next.metadata.name === name ? c.next : this.base.deployment(namespace, name);
  }
}

const workloadKey = (w: Pick<Workload, 'kind' | 'name'>) => `${w.kind}/${w.name}`;

/** A routed subset that selected pods before the change and selects none after it (a Service's selector changed). */
export interface EmptiedSubset {
  host: string;
  subset: string;
  refs: RoutedRef[];
  after: Extract<Backend, { kind: 'pods' }>;
}

export interface WorkloadAnalysis {
  /** Routed subsets the change makes select a workload they did not select before. */
  entries: Entry[];
  /** Routed subsets a Service's new selector leaves without any pod. */
  emptied: EmptiedSubset[];
}

/**
 * Every routed subset (share > 0 in a VirtualService that `guarded` accepts)
 * that selects, after the change, a workload it did not select before:
 * for a Deployment, itself; for a Pod, its workload (judged whenever the pod
 * itself joins the subset); for a Service, any workload. For a Service, also
 * the routed subsets its new selector leaves without any pod.
 */
export function analyseWorkloadChange(change: WorkloadChange, state: ClusterState, config: RulesConfig, guarded: (vs: VirtualService) => boolean): WorkloadAnalysis {
  const { namespace } = change.next.metadata;
  const projected = new ProjectedState(state, change);
  const refs = (routedByServiceNamespace(state.virtualServices(), config.clusterDomain).get(namespace) ?? []).filter((r) => {
    if (change.kind !== 'Service') return true;
    return serviceOfHost(r.host, config.clusterDomain)?.name === change.next.metadata.name;
  });
  const groups = new Map<string, RoutedRef[]>();
  for (const ref of refs) {
    if (!guarded(ref.vs)) continue;
    const key = `${ref.vs.metadata.namespace}|${ref.host}|${ref.subset}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(ref);
  }
  const entries: Entry[] = [];
  const emptied: EmptiedSubset[] = [];
  const rulesIn = (ns: string) => state.destinationRules(ns);
  for (const group of groups.values()) {
    const { host, subset, vs } = group[0] as RoutedRef;
    const fromNamespace = vs.metadata.namespace;
    const hostRules = findHostRules(host, fromNamespace, rulesIn, config);
    const after = findBackend(projected, host, subset, hostRules, config.clusterDomain);
    if (after.kind !== 'pods') continue;
    const before = findBackend(state, host, subset, hostRules, config.clusterDomain);
    if (after.pods.length === 0) {
      if (change.kind === 'Service' && before.kind === 'pods' && before.pods.length > 0) emptied.push({ host, subset, refs: group, after });
      continue;
    }
    const beforePods = before.kind === 'pods' ? before.pods : [];
    const beforeWorkloads = new Set(before.kind === 'pods' ? before.workloads.map(workloadKey) : []);
    const joined = after.workloads.filter((w) => {
      if (change.kind === 'Deployment') return w.kind === 'Deployment' && w.name === change.next.metadata.name && !beforeWorkloads.has(workloadKey(w));
      if (change.kind === 'Pod') {
        const name = change.next.metadata.name;
        return w.pods.some((p) => p.metadata.name === name) && !beforePods.some((p) => p.metadata.name === name);
      }
      return !beforeWorkloads.has(workloadKey(w));
    });
    for (const workload of joined) {
      entries.push({ host, subset, fromNamespace, hostRules, refs: group, workload, others: after.workloads.filter((w) => w !== workload), after });
    }
  }
  return { entries, emptied };
}

/** `100% in http[0] "primary", 100% in tcp[0] of VirtualService shop/reviews`: where the subset gets its traffic. */
export function describeRefs(refs: readonly RoutedRef[]): string {
  const byVs = new Map<string, string[]>();
  for (const r of refs) {
    const key = `${r.vs.metadata.namespace}/${r.vs.metadata.name}`;
    byVs.set(key, [...(byVs.get(key) ?? []), `${formatPercent(r.sharePercent)} in ${r.route.label}`]);
  }
  return [...byVs].map(([vs, places]) => `${places.join(', ')} of VirtualService ${vs}`).join('; ');
}
