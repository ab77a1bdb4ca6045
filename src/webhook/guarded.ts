// Whether bluegreen-guard is responsible for an object: its namespace opts in
// with the label `bluegreen-guard.io/guard=enabled`, and the object's own
// annotation `bluegreen-guard.io/guard: enabled|disabled` overrides that.
// The transport layer asks this before it calls review().
import type { ClusterState } from '../cluster/cluster-state.js';
import { GUARD_ANNOTATION, GUARD_LABEL } from '../istio/annotations.js';
import type { ObjectMeta } from '../istio/types.js';
import type { RulesConfig } from './rules-config.js';

export function isGuarded(obj: { metadata: Pick<ObjectMeta, 'namespace' | 'annotations'> }, state: ClusterState, _config: RulesConfig): boolean {
  const own = obj.metadata.annotations?.[GUARD_ANNOTATION];
  if (own === 'enabled') return true;
  if (own === 'disabled') return false;
  return state.namespace(obj.metadata.namespace)?.metadata.labels?.[GUARD_LABEL] === 'enabled';
}
