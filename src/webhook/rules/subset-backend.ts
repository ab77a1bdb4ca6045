// What stands behind a subset of a host: the pods selected by the host's
// Service selector together with the subset's labels, and the workloads that
// own them. A workload is found through ownerReferences (Pod → ReplicaSet →
// Deployment), never by guessing from selectors or names.
import { serviceOfHost } from '../../istio/hosts.js';
import { selects } from '../../istio/labels.js';
import { findSubset, type HostRules } from '../../istio/destination-rules.js';
import type { Deployment, DestinationRule, Labels, OwnerReference, Pod, Service } from '../../istio/types.js';
import type { ClusterState } from '../../cluster/cluster-state.js';

export interface Workload {
  kind: string;
  namespace: string;
  name: string;
  /** The Deployment, when the workload is one and the cluster state holds it. */
  deployment: Deployment | undefined;
  /** The owner chain stops at an object the state does not hold (e.g. a ReplicaSet that is not listed). */
  ownerUnknown: boolean;
  pods: Pod[];
}

export type Backend =
  /** The host is not `name.ns.svc.<clusterDomain>`: pods cannot be checked. */
  | { kind: 'external'; host: string }
  | { kind: 'no-service'; namespace: string; name: string }
  /** The Service has no selector: its endpoints are managed by hand and cannot be checked. */
  | { kind: 'no-selector'; service: Service }
  /** No DestinationRule defines the subset (reported by `subset-exists`). */
  | { kind: 'no-subset'; hostRules: HostRules }
  | {
      kind: 'pods';
      service: Service;
      /** Service selector merged with the subset's labels. */
      selector: Labels;
      /** The rule defining the subset; for every version behind the Service, the one defining the stable subset left out, if any. */
      rule: DestinationRule | undefined;
      pods: Pod[];
      workloads: Workload[];
    };

export function workloadName(w: Pick<Workload, 'kind' | 'namespace' | 'name'>): string {
  return `${w.kind} ${w.namespace}/${w.name}`;
}

/** A pod that serves (or will serve) traffic: not terminating, not finished. */
export function isActive(pod: Pod): boolean {
  return !pod.deleting && pod.phase !== 'Succeeded' && pod.phase !== 'Failed';
}

export function controllerOf(owners: readonly OwnerReference[] | undefined): OwnerReference | undefined {
  return owners?.find((o) => o.controller) ?? owners?.[0];
}

export function findBackend(
  state: ClusterState,
  host: string,
  subset: string,
  hostRules: HostRules,
  clusterDomain: string,
): Backend {
  const svcRef = serviceOfHost(host, clusterDomain);
  if (!svcRef) return { kind: 'external', host };
  const found = findSubset(hostRules.rules, subset);
  if (!found) return { kind: 'no-subset', hostRules };
  const service = state.service(svcRef.namespace, svcRef.name);
  if (!service) return { kind: 'no-service', ...svcRef };
  const serviceSelector = service.spec.selector;
  if (!serviceSelector || Object.keys(serviceSelector).length === 0) return { kind: 'no-selector', service };
  const selector = { ...serviceSelector, ...(found.subset.labels ?? {}) };
  const pods = state.podsMatching(svcRef.namespace, selector).filter(isActive);
  return { kind: 'pods', service, selector, rule: found.rule, pods, workloads: groupByWorkload(state, pods) };
}

/**
 * Every version behind a host's Service, as a destination without subset (or
 * a deleted VirtualService) reaches it, less the pods of the stable subset,
 * which carry traffic already.
 */
export function findAllVersions(state: ClusterState, host: string, exceptStable: string, hostRules: HostRules, clusterDomain: string): Backend {
  const svcRef = serviceOfHost(host, clusterDomain);
  if (!svcRef) return { kind: 'external', host };
  const service = state.service(svcRef.namespace, svcRef.name);
  if (!service) return { kind: 'no-service', ...svcRef };
  const selector = service.spec.selector;
  if (!selector || Object.keys(selector).length === 0) return { kind: 'no-selector', service };
  const stable = findSubset(hostRules.rules, exceptStable);
  const stableSelector = stable ? { ...selector, ...(stable.subset.labels ?? {}) } : undefined;
  const pods = state.podsMatching(svcRef.namespace, selector).filter((p) => isActive(p) && !(stableSelector && selects(stableSelector, p.metadata.labels)));
  return { kind: 'pods', service, selector, rule: stable?.rule, pods, workloads: groupByWorkload(state, pods) };
}

/** The pods (all of one namespace) grouped by the workload that owns them, in the order first seen. */
export function groupByWorkload(state: ClusterState, pods: readonly Pod[]): Workload[] {
  // Pods of one ReplicaSet share their owner chain: it is read once per owner,
  // not once per pod. The maps are keyed by the names as the objects spell
  // them: a key string built per pod costs more than the rest of the grouping.
  const byOwner = new Map<string, Map<string, Workload>>(); // owner kind → owner name → its workload
  const byWorkload = new Map<string, Map<string, Workload>>(); // workload kind → name → workload
  const workloads: Workload[] = [];
  for (const pod of pods) {
    const owner = controllerOf(pod.metadata.ownerReferences);
    let entry = owner ? byOwner.get(owner.kind)?.get(owner.name) : undefined;
    if (!entry) {
      const w = workloadOf(state, pod);
      entry = inner(byWorkload, w.kind).get(w.name);
      if (!entry) {
        workloads.push((entry = { ...w, pods: [] }));
        inner(byWorkload, w.kind).set(w.name, entry);
      }
      if (owner) inner(byOwner, owner.kind).set(owner.name, entry);
    }
    entry.pods.push(pod);
  }
  return workloads;
}

function inner<T>(outer: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let found = outer.get(key);
  if (!found) outer.set(key, (found = new Map<string, T>()));
  return found;
}

function workloadOf(state: ClusterState, pod: Pod): Omit<Workload, 'pods'> {
  const namespace = pod.metadata.namespace;
  const owner = controllerOf(pod.metadata.ownerReferences);
  if (!owner) return { kind: 'Pod', namespace, name: pod.metadata.name, deployment: undefined, ownerUnknown: false };
  if (owner.kind !== 'ReplicaSet') return { kind: owner.kind, namespace, name: owner.name, deployment: undefined, ownerUnknown: false };
  const rs = state.replicaSet(namespace, owner.name);
  if (!rs) return { kind: 'ReplicaSet', namespace, name: owner.name, deployment: undefined, ownerUnknown: true };
  const rsOwner = controllerOf(rs.metadata.ownerReferences);
  if (rsOwner?.kind !== 'Deployment') return { kind: 'ReplicaSet', namespace, name: owner.name, deployment: undefined, ownerUnknown: false };
  const deployment = state.deployment(namespace, rsOwner.name);
  return { kind: 'Deployment', namespace, name: rsOwner.name, deployment, ownerUnknown: deployment === undefined };
}
