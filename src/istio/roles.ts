// Which subset of a VirtualService is the stable one (the rollback target) and
// which are candidates. One answer for the webhook and the watcher, so they
// never disagree on what a rollback is.
import { STABLE_SUBSET } from './annotations.js';
import type { VirtualService } from './types.js';

/**
 * The stable subset comes from the recorded state, i.e. the object as it is
 * now (`old` on an update): an update cannot promote its own target to
 * "stable" and so pass as a rollback. Unrecorded, it is the configured default
 * (`mesh.defaultStableSubset`).
 */
export function stableSubsetOf(vs: VirtualService, old: VirtualService | undefined, defaultStableSubset: string): string {
  const recorded = (old ?? vs).metadata.annotations?.[STABLE_SUBSET];
  return recorded !== undefined && recorded.trim() !== '' ? recorded.trim() : defaultStableSubset;
}
