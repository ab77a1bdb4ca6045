// What a VirtualService change does to traffic: which subsets it routes to,
// which are the stable one and the candidates, whose share of which route
// rises, and so whether the change is a cutover, a rollback, or neither.
// A change of the recorded stable subset is a cutover to the subset it names:
// traffic moved back to the stable subset is a rollback, never blocked, so
// naming a subset stable must meet what raising its share would.
import { STABLE_SUBSET } from '../../istio/annotations.js';
import { stableSubsetOf } from '../../istio/roles.js';
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
  /** This change makes it the stable subset: it is judged as if its share were raised. */
  promotion?: Promotion;
}

export interface Promotion {
  /** The stable subset recorded on the object as it is now. */
  from: string;
  /** The stable subset the new object records. */
  to: string;
  /** False when the annotation was removed and `to` is the default. */
  annotated: boolean;
}

export interface VsChange {
  stableSubset: string;
  routes: Route[];
  subsets: RoutedSubset[];
  /** A candidate's share of some route rises, or the change names another subset stable. */
  cutover: boolean;
  /** An update that raises the stable subset's share and no candidate's, among destinations it already had. */
  rollback: boolean;
}

export function analyseChange(
  vs: VirtualService,
  old: VirtualService | undefined,
  options: { clusterDomain: string; defaultStableSubset: string },
): VsChange {
  const stableSubset = stableSubsetOf(vs, old, options.defaultStableSubset);
  const nextStable = stableSubsetOf(vs, undefined, options.defaultStableSubset);
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
  if (old && nextStable !== stableSubset) {
    const promotion: Promotion = { from: stableSubset, to: nextStable, annotated: vs.metadata.annotations?.[STABLE_SUBSET]?.trim() === nextStable };
    // Judged on every host a route sends to that subset; a subset no route names yet,
    // on every host a later rollback could bring it into.
    const routed = routes.flatMap((r) => r.destinations).filter((d) => d.subset !== undefined);
    const named = routed.filter((d) => d.subset === nextStable);
    for (const d of named.length > 0 ? named : routed) {
      const key = destinationKey({ host: d.host, subset: nextStable });
      let rs = byKey.get(key);
      if (!rs) byKey.set(key, (rs = { host: d.host, writtenHost: d.writtenHost, subset: nextStable, role: 'candidate', placements: [], raised: false, maxShare: 0 }));
      rs.promotion = promotion;
    }
  }
  const subsets = [...byKey.values()];
  const cutover = subsets.some((s) => (s.role === 'candidate' && s.raised) || s.promotion);
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

/**
 * `routes 50% (http[0]) to subset blue of H`, or with several routes `routes traffic to subset blue of H (50% in http[0], 1% in tcp[0])`;
 * for a subset the change names stable, `changes its stable subset (…) from green to subset blue of H`.
 */
export function routingPhrase(rs: RoutedSubset): string {
  const p = rs.promotion;
  if (p) {
    return p.annotated
      ? `changes its stable subset (annotation ${STABLE_SUBSET}) from ${p.from} to ${subsetName(rs)}`
      : `removes its annotation ${STABLE_SUBSET}, so its stable subset changes from ${p.from} to the default, ${subsetName(rs)}`;
  }
  const placements = rs.placements.filter((p) => p.newShare > 0);
  const shown = placements.length > 0 ? placements : rs.placements;
  const only = shown.length === 1 ? shown[0] : undefined;
  if (only) return `routes ${formatPercent(only.newShare)} (${only.route.label}) to ${subsetName(rs)}`;
  return `routes traffic to ${subsetName(rs)} (${shown.map((p) => `${formatPercent(p.newShare)} in ${p.route.label}`).join(', ')})`;
}

/** Subsets the new object sends traffic to, and a subset it names stable. */
export function routedSubsets(change: VsChange): RoutedSubset[] {
  return change.subsets.filter((s) => s.maxShare > 0 || s.promotion);
}

/** Candidates whose share rises, and a subset the change names stable: what a cutover is about. */
export function raisedCandidates(change: VsChange): RoutedSubset[] {
  return change.subsets.filter((s) => (s.role === 'candidate' && s.raised) || s.promotion);
}

/** What to do once a rule's fix is done: `raise the weight`, or `name blue the stable subset`. */
export function nextStep(rs: RoutedSubset): string {
  return rs.promotion ? `name ${rs.subset} the stable subset` : 'raise the weight';
}

/** Appended to a finding about a subset the change names stable: why it is judged, and the other ways. */
export function promotionNote(rs: RoutedSubset): string {
  if (!rs.promotion) return '';
  return (
    ' A change of the stable subset is judged as a cutover to the subset it names, because traffic moved back to the stable subset is a rollback, which is never blocked. ' +
    `Otherwise leave the annotation to the watcher, which records ${rs.subset} as stable once a cutover to it has held at full traffic, or have a member of a break-glass group make the change.`
  );
}
