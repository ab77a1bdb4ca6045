// Which services the watcher evaluates this cycle: guarded VirtualServices
// whose candidate gets traffic, each named the way Istio's metrics name it
// (`destination_version` is the candidate subset's `version` label in its
// DestinationRule, found the way Istio finds that rule).
import { GUARD_ANNOTATION, GUARD_LABEL } from '../istio/annotations.js';
import { findHostRules, findSubset } from '../istio/destination-rules.js';
import { resolveHost } from '../istio/hosts.js';
import type { DestinationRule, Labels, VirtualService } from '../istio/types.js';
import type { ActiveCandidate } from './cutover-state.js';
import type { ServiceKey } from './verdict.js';

/** What the watcher reads from its watch caches. MemoryClusterState satisfies it. */
export interface WatchedObjects {
  virtualServices(): readonly VirtualService[];
  destinationRules(namespace: string): readonly DestinationRule[];
  namespace(name: string): { metadata: { labels?: Labels } } | undefined;
}

export interface MeshOptions {
  rootNamespace: string;
  clusterDomain: string;
  /** The pod label Istio reports as `destination_version`. */
  versionLabel: string;
}

export const DEFAULT_MESH: MeshOptions = { rootNamespace: 'istio-system', clusterDomain: 'cluster.local', versionLabel: 'version' };

/**
 * The namespace label `bluegreen-guard.io/guard=enabled`, or the
 * VirtualService's own `bluegreen-guard.io/guard: enabled`. A stored
 * `disabled` never blinds the watcher (docs/security.md): the webhook honours
 * it only from the break-glass groups, but an opt-out written while the
 * webhook was down, or before it checked, carries no proof of who set it. So
 * the watcher keeps evaluating and rolling back; only admission review is off.
 */
export function isGuarded(vs: VirtualService, objects: WatchedObjects): boolean {
  if (vs.metadata.annotations?.[GUARD_ANNOTATION] === 'enabled') return true;
  return objects.namespace(vs.metadata.namespace)?.metadata.labels?.[GUARD_LABEL] === 'enabled';
}

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
