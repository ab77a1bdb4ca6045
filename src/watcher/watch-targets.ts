// Which services the watcher evaluates this cycle: guarded VirtualServices
// (src/istio/guard.ts, the webhook's own test) whose candidate gets traffic, each named the way Istio's metrics name it
// (`destination_version` is the candidate subset's `version` label in its
// DestinationRule, found the way Istio finds that rule).
import { findHostRules, findSubset } from '../istio/destination-rules.js';
import { resolveHost } from '../istio/hosts.js';
import type { NamespaceLookup } from '../istio/guard.js';
import type { Mesh } from '../istio/mesh.js';
import type { DestinationRule, Labels, VirtualService } from '../istio/types.js';
import type { ActiveCandidate } from './cutover-state.js';
import type { ServiceKey } from './verdict.js';

/** What the watcher reads from its watch caches. MemoryClusterState satisfies it. */
export interface WatchedObjects extends NamespaceLookup {
  virtualServices(): readonly VirtualService[];
  destinationRules(namespace: string): readonly DestinationRule[];
}

/** What finding a subset's identity needs to know about the mesh. */
export type MeshOptions = Pick<Mesh, 'rootNamespace' | 'clusterDomain' | 'versionLabel'>;

export interface SubsetIdentity {
  /** `destination_version` in Istio's metrics. */
  version: string;
  /** The subset's labels, for finding its Deployment at promotion; empty when no rule defines it. */
  labels: Labels;
}

/** The candidate's `version` label from its DestinationRule; the subset's name when no rule says. */
export function subsetIdentity(vs: VirtualService, candidate: ActiveCandidate, objects: WatchedObjects, mesh: MeshOptions): SubsetIdentity {
  const host = resolveHost(candidate.host, vs.metadata.namespace, mesh.clusterDomain);
  const { rules } = findHostRules(host, vs.metadata.namespace, (ns) => objects.destinationRules(ns), mesh);
  const labels = findSubset(rules, candidate.subset)?.subset.labels ?? {};
  return { version: labels[mesh.versionLabel] ?? candidate.subset, labels };
}

export function serviceKey(candidate: ActiveCandidate, identity: SubsetIdentity): ServiceKey {
  return { namespace: candidate.service.namespace, service: candidate.service.name, version: identity.version };
}
