// Whether bluegreen-guard is responsible for an object: its namespace opts in
// with the label `<mesh.guardLabel>=enabled` (default
// `bluegreen-guard.io/guard=enabled`), and the object's own annotation
// `bluegreen-guard.io/guard: enabled|disabled` overrides that. One answer for
// the webhook's admission filter and the watcher's choice of what to watch.
import { GUARD_ANNOTATION } from './annotations.js';
import type { Mesh } from './mesh.js';
import type { Labels } from './types.js';

/** Where the namespace's labels come from: the webhook's ClusterState, the watcher's caches. */
export interface NamespaceLookup {
  namespace(name: string): { metadata: { labels?: Labels } } | undefined;
}

export interface GuardableObject {
  metadata: { namespace?: string; annotations?: Readonly<Record<string, string>> };
}

export function isGuarded(obj: GuardableObject, namespaces: NamespaceLookup, mesh: Pick<Mesh, 'guardLabel'>): boolean {
  const own = obj.metadata.annotations?.[GUARD_ANNOTATION];
  if (own === 'enabled') return true;
  if (own === 'disabled') return false;
  const ns = obj.metadata.namespace;
  return ns !== undefined && isGuardedNamespace(namespaces.namespace(ns), mesh);
}

/**
 * What the watcher evaluates: the same opt-in, but a stored `disabled` never
 * blinds it (docs/security.md). The webhook honours an opt-out only from the
 * break-glass groups, yet one written while the webhook was down, or before it
 * checked, carries no proof of who set it; so the watcher keeps evaluating and
 * rolling back, and only admission review is off for the object.
 */
export function isWatched(obj: GuardableObject, namespaces: NamespaceLookup, mesh: Pick<Mesh, 'guardLabel'>): boolean {
  if (obj.metadata.annotations?.[GUARD_ANNOTATION] === 'enabled') return true;
  const ns = obj.metadata.namespace;
  return ns !== undefined && isGuardedNamespace(namespaces.namespace(ns), mesh);
}

/** The namespace opt-in alone, for caches that keep only guarded namespaces. */
export function isGuardedNamespace(ns: { metadata: { labels?: Labels } } | undefined, mesh: Pick<Mesh, 'guardLabel'>): boolean {
  return ns?.metadata.labels?.[mesh.guardLabel] === 'enabled';
}
