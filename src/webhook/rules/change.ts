// What a VirtualService change does to traffic: which subsets it routes to,
// which are the stable one and the candidates, whose share of which route
// rises, and so whether the change is a cutover, a rollback, or neither.
import { STABLE_SUBSET } from '../../istio/annotations.js';
import { destinationKey, formatPercent, routesOf, shareIn, type Route } from '../../istio/routes.js';
import type { VirtualService } from '../../istio/types.js';

export interface Placement {
  route: Route;
  oldShare: number;
  newShare: number;
  /** The subset was not a destination of this route before (or the route, or the object, is new). */
  added: boolean;
}

export interface RoutedSubset {
  host: string;
  writtenHost: string;
  subset: string;
  role: 'stable' | 'candidate';
  /** Every route of the new object that has the subset as a destination. */
  placements: Placement[];
  /** Its share of some route rises. */
  raised: boolean;
  /** Its largest share of any route after the change. */
  maxShare: number;
}

export interface VsChange {
  stableSubset: string;
  routes: Route[];
  subsets: RoutedSubset[];
  /** A candidate's share of some route rises. */
  cutover: boolean;
  /** An update that raises the stable subset's share and no candidate's, among destinations it already had. */
  rollback: boolean;
}

/**
 * The stable subset comes from the recorded state, i.e. the object as it is
 * now: an update cannot promote its own target to "stable" and so pass as a rollback.
 */
export function stableSubsetOf(vs: VirtualService, old: VirtualService | undefined, defaultStableSubset: string): string {
  const recorded = (old ?? vs).metadata.annotations?.[STABLE_SUBSET];
  return recorded !== undefined && recorded.trim() !== '' ? recorded.trim() : defaultStableSubset;
}

export function analyseChange(
  vs: VirtualService,
  old: VirtualService | undefined,
  options: { clusterDomain: string; defaultStableSubset: string },
): VsChange {
  const stableSubset = stableSubsetOf(vs, old, options.defaultStableSubset);
  const routes = routesOf(vs, options.clusterDomain);
  const oldRoutes = new Map(old ? routesOf(old, options.clusterDomain).map((r) => [r.key, r]) : []);
  const byKey = new Map<string, RoutedSubset>();
  for (const route of routes) {
    const oldRoute = oldRoutes.get(route.key);
    const done = new Set<string>();
    for (const d of route.destinations) {
      if (d.subset === undefined) continue;
      const key = destinationKey(d);
      if (done.has(key)) continue;
      done.add(key);
      let rs = byKey.get(key);
      if (!rs) {
        rs = { host: d.host, writtenHost: d.writtenHost, subset: d.subset, role: d.subset === stableSubset ? 'stable' : 'candidate', placements: [], raised: false, maxShare: 0 };
        byKey.set(key, rs);
      }
      const newShare = shareIn(route, key);
      const oldShare = shareIn(oldRoute, key);
      const added = !oldRoute?.destinations.some((od) => destinationKey(od) === key);
      rs.placements.push({ route, oldShare, newShare, added });
      if (newShare > oldShare) rs.raised = true;
      rs.maxShare = Math.max(rs.maxShare, newShare);
    }
  }
  const subsets = [...byKey.values()];
  const cutover = subsets.some((s) => s.role === 'candidate' && s.raised);
  // A rollback moves traffic back among the hosts the object already routed to: it may
  // bring back a host's stable subset, but pointing a route at a new host's `green` is
  // not a return to the stable subset.
  const oldDestinations = [...oldRoutes.values()].flatMap((r) => r.destinations);
  const known = new Set(oldDestinations.map(destinationKey));
  const knownHosts = new Set(oldDestinations.map((d) => d.host));
  const onlyKnown = routes.every((r) => r.destinations.every((d) => known.has(destinationKey(d)) || (d.subset === stableSubset && knownHosts.has(d.host))));
  const rollback = old !== undefined && !cutover && onlyKnown && subsets.some((s) => s.role === 'stable' && s.raised);
  return { stableSubset, routes, subsets, cutover, rollback };
}

/** `50% in http[0]` or `50% in http[0], 1% in tcp[0]`: where a subset gets its traffic. */
export function describeShares(rs: RoutedSubset, which: 'new' | 'old' = 'new'): string {
  return rs.placements.map((p) => `${formatPercent(which === 'new' ? p.newShare : p.oldShare)} in ${p.route.label}`).join(', ');
}

/** `subset blue of web.shop.svc.cluster.local` */
export function subsetName(s: { subset: string; host: string }): string {
  return `subset ${s.subset} of ${s.host}`;
}

/** `routes 50% (http[0]) to subset blue of H`, or with several routes `routes traffic to subset blue of H (50% in http[0], 1% in tcp[0])`. */
export function routingPhrase(rs: RoutedSubset): string {
  const placements = rs.placements.filter((p) => p.newShare > 0);
  const shown = placements.length > 0 ? placements : rs.placements;
  const only = shown.length === 1 ? shown[0] : undefined;
  if (only) return `routes ${formatPercent(only.newShare)} (${only.route.label}) to ${subsetName(rs)}`;
  return `routes traffic to ${subsetName(rs)} (${shown.map((p) => `${formatPercent(p.newShare)} in ${p.route.label}`).join(', ')})`;
}

/** Subsets the new object sends traffic to. */
export function routedSubsets(change: VsChange): RoutedSubset[] {
  return change.subsets.filter((s) => s.maxShare > 0);
}

/** Candidates whose share rises: what a cutover is about. */
export function raisedCandidates(change: VsChange): RoutedSubset[] {
  return change.subsets.filter((s) => s.role === 'candidate' && s.raised);
}
