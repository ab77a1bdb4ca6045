// How this mesh is set up: the facts both processes must agree on to read a
// VirtualService the same way. One `mesh` section of configuration
// (src/config/mesh-config.ts) fills it for the webhook, the watcher,
// `preflight` and `evaluate`.
import { DEFAULT_STABLE_SUBSET, GUARD_LABEL } from './annotations.js';

export interface Mesh {
  /** Stable subset of a VirtualService without the `bluegreen-guard.io/stable-subset` annotation. */
  defaultStableSubset: string;
  /** Kubernetes cluster domain: `name.ns.svc.<clusterDomain>`. */
  clusterDomain: string;
  /** Istio's mesh root namespace, searched last for DestinationRules. */
  rootNamespace: string;
  /** Namespace label that opts a namespace in when its value is `enabled`. */
  guardLabel: string;
  /** The pod label Istio reports as `destination_version` (the watcher's metric queries). */
  versionLabel: string;
}

export const DEFAULT_MESH: Readonly<Mesh> = Object.freeze({
  defaultStableSubset: DEFAULT_STABLE_SUBSET,
  clusterDomain: 'cluster.local',
  rootNamespace: 'istio-system',
  guardLabel: GUARD_LABEL,
  versionLabel: 'version',
});
