// What a VirtualService change does to traffic: which subsets it routes to,
// which are the stable one and the candidates, whose reachable traffic may
// grow (src/istio/traffic.ts: a share rising, a match removed or widened, a
// route in front removed, moved or changed, a destination without subset),
// and so whether the change is a cutover, a rollback, or neither.
// A change of the recorded stable subset is a cutover to the subset it names:
// traffic moved back to the stable subset is a rollback, never blocked, so
// naming a subset stable must meet what raising its share would.
import { STABLE_SUBSET } from '../../istio/annotations.js';
import { stableSubsetOf } from '../../istio/roles.js';
import { serviceOfHost, resolveHost } from '../../istio/hosts.js';
import { destinationKey, formatPercent, type Route } from '../../istio/routes.js';
import { trafficChange, type DestinationChange, type GrowthPath } from '../../istio/traffic.js';
import type { VirtualService } from '../../istio/types.js';

export interface Placement {
  route: Route;
  oldShare: number;
  newShare: number;
  /** The subset was not a destination of this route before (or the route, or the object, is new). */
  added: boolean;
  /** The route is reachable and its traffic to the subset may grow (share rose, or the route may catch more). */
  grows: boolean;
  /** How the route may catch more requests than before, when it may. */
  path: GrowthPath | undefined;
}

/** How a message names where the traffic goes, when it is not (only) a share that rose. */
export interface TrafficPathPhrase {
  /** `removing the match of http[0] "canary" sends every request to subset blue of H (100% of http[0] "canary")`. */
  phrase: string;
  /** The phrase names the change itself (a delete, a DestinationRule relabel): messages start with it. */
  standalone: boolean;
  /** How to get the same result safely, appended to the rules' fixes. */
  otherwise: string;
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
  /**
   * Not a subset: every version behind the host's Service (a destination
   * without subset, a deleted VirtualService), except the pods of the stable
   * subset named here, which already carry traffic. `subset` is then `*`.
   */
  allVersions?: { exceptStable: string };
  /** Set when traffic grows by a path other than a share rising in place. */
  path?: TrafficPathPhrase;
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
  const traffic = trafficChange(old, vs, options.clusterDomain);
  const routes = traffic.routes.map((r) => r.route);
  const oldRoutes = new Map(traffic.oldRoutes.map((r) => [r.key, r]));
  const byKey = new Map<string, RoutedSubset>();
  // By route object, then destination key: no key string is built per destination.
  const growth = new Map<Route, Map<string, DestinationChange>>();
  for (const d of traffic.destinations) {
    let byKey = growth.get(d.route);
    if (!byKey) growth.set(d.route, (byKey = new Map<string, DestinationChange>()));
    byKey.set(d.key, d);
  }
  traffic.routes.forEach(({ route, old: oldRoute }) => {
    const done = new Set<string>();
    for (const d of route.destinations) {
      const key = d.key;
      if (done.has(key)) continue;
      done.add(key);
      const allVersions = d.subset === undefined;
      let rs = byKey.get(key);
      if (!rs) {
        rs = allVersions
          ? { host: d.host, writtenHost: d.writtenHost, subset: '*', role: 'candidate', placements: [], raised: false, maxShare: 0, allVersions: { exceptStable: stableSubset } }
          : { host: d.host, writtenHost: d.writtenHost, subset: d.subset as string, role: d.subset === stableSubset ? 'stable' : 'candidate', placements: [], raised: false, maxShare: 0 };
        byKey.set(key, rs);
      }
      // Unreachable routes (behind a catch-all) have no entry: nothing they name can grow.
      const g = growth.get(route)?.get(key);
      const newShare = g?.newShare ?? 0;
      const oldShare = g?.oldShare ?? 0;
      const added = !oldRoute?.destinations.some((od) => od.key === key);
      rs.placements.push({ route, oldShare, newShare, added, grows: g?.grows ?? false, path: g?.path });
      if (g?.grows) rs.raised = true;
      rs.maxShare = Math.max(rs.maxShare, newShare);
    }
  });
  for (const rs of byKey.values()) rs.path = pathPhrase(rs, options.clusterDomain);
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
  // A destination without subset that carries nothing more than before is no subset of the object's.
  const subsets = [...byKey.values()].filter((s) => !s.allVersions || s.raised);
  const cutover = subsets.some((s) => (s.role === 'candidate' && s.raised) || s.promotion);
  // A rollback moves traffic back among the hosts the object already routed to: it may
  // bring back a host's stable subset, but pointing a route at a new host's `green` is
  // not a return to the stable subset.
  const oldDestinations = [...oldRoutes.values()].flatMap((r) => r.destinations);
  const known = new Set(oldDestinations.map((d) => d.key));
  const knownHosts = new Set(oldDestinations.map((d) => d.host));
  const onlyKnown = routes.every((r) => r.destinations.every((d) => known.has(d.key) || (d.subset === stableSubset && knownHosts.has(d.host))));

  const rollback = old !== undefined && !cutover && onlyKnown && subsets.some((s) => s.role === 'stable' && s.raised);
  return { stableSubset, routes, subsets, cutover, rollback };
}

/**
 * Deleting a VirtualService hands each of its hosts back to the Service's own
 * load balancing: every ready pod of every version gets traffic. Judged as a
 * cutover to every version behind each host except the stable subset's pods,
 * which carry traffic already.
 */
export function analyseDelete(old: VirtualService, options: { clusterDomain: string; defaultStableSubset: string }): VsChange {
  const stableSubset = stableSubsetOf(old, undefined, options.defaultStableSubset);
  const name = `VirtualService ${old.metadata.namespace}/${old.metadata.name}`;
  const subsets: RoutedSubset[] = [];
  for (const written of [...new Set(Array.isArray(old.spec.hosts) ? old.spec.hosts : [])]) {
    if (typeof written !== 'string') continue;
    const host = resolveHost(written, old.metadata.namespace, options.clusterDomain);
    const svc = serviceOfHost(host, options.clusterDomain);
    if (!svc) continue; // not a Service of this cluster: nothing to check behind it
    subsets.push({
      host,
      writtenHost: written,
      subset: '*',
      role: 'candidate',
      placements: [],
      raised: true,
      maxShare: 100,
      allVersions: { exceptStable: stableSubset },
      path: {
        phrase: `deleting ${name} sends every request for ${host} to all versions behind Service ${svc.namespace}/${svc.name}, not only its stable subset ${stableSubset}`,
        standalone: true,
        otherwise: ` Or keep ${name} until every version behind Service ${svc.namespace}/${svc.name} passes, or scale the other versions to 0 first.`,
      },
    });
  }
  return { stableSubset, routes: [], subsets, cutover: subsets.length > 0, rollback: false };
}

/** `every request`, `every connection`: what a route of a kind carries. */
function unitOf(route: Route): string {
  return route.kind === 'http' ? 'request' : 'connection';
}

/** The message phrase for traffic that grows by a path other than a share rising in place. */
function pathPhrase(rs: RoutedSubset, clusterDomain: string): TrafficPathPhrase | undefined {
  const p = rs.placements.find((x) => x.grows && x.path && x.path.kind !== 'new-route') ?? (rs.allVersions ? rs.placements.find((x) => x.grows) : undefined);
  if (!p) return undefined;
  const svc = serviceOfHost(rs.host, clusterDomain);
  const target = rs.allVersions
    ? `every version behind Service ${svc ? `${svc.namespace}/${svc.name}` : rs.host} (a destination without subset), not only its stable subset ${rs.allVersions.exceptStable}`
    : subsetName(rs);
  const share = `${formatPercent(p.newShare)} of ${p.route.label}`;
  const label = p.route.label;
  const unit = unitOf(p.route);
  const lead = (path: GrowthPath | undefined): string | undefined => {
    switch (path?.kind) {
      case 'match-removed':
        return `removing the match of ${label} sends every ${unit}`;
      case 'match-changed':
        return `changing the match of ${label} (only dropping match entries or adding conditions to one is known to narrow it) may send more ${unit}s`;
      case 'front-deleted':
        return `deleting ${path.front.label} in front of ${label} sends the ${unit}s it took`;
      case 'front-moved':
        return `moving ${path.front.label} behind ${label} sends the ${unit}s it took first`;
      case 'front-match-changed':
        return `changing the match of ${path.front.label} in front of ${label} lets ${unit}s it took fall through`;
      case 'unshadowed':
        return `${label}, unreachable before behind the catch-all ${path.by.label}, now sends ${unit}s`;
      default:
        return undefined;
    }
  };
  const l = lead(p.path);
  const phrase = l ? `${l} to ${target} (${share})` : `a destination without subset in ${label} sends traffic to ${target} (${share})`;
  const otherwise = rs.allVersions
    ? ` Or name a subset in the destination (e.g. ${rs.allVersions.exceptStable}), so only that version gets the traffic.`
    : ` Or keep the route's match and the routes in front of it as they were until ${rs.subset} passes.`;
  return { phrase, standalone: false, otherwise };
}

/**
 * The start of a message about a routed subset: `VirtualService shop/web routes 1% (http[0]) to subset blue of H`,
 * or with a traffic path `VirtualService shop/web: removing the match of http[0] "canary" sends every request to …`.
 */
export function routingSentence(name: string, rs: RoutedSubset): string {
  if (!rs.path || rs.promotion) return `${name} ${routingPhrase(rs)}`;
  return rs.path.standalone ? rs.path.phrase.charAt(0).toUpperCase() + rs.path.phrase.slice(1) : `${name}: ${rs.path.phrase}`;
}

/** `50% in http[0]` or `50% in http[0], 1% in tcp[0]`: where a subset gets its traffic. */
export function describeShares(rs: RoutedSubset, which: 'new' | 'old' = 'new'): string {
  return rs.placements.map((p) => `${formatPercent(which === 'new' ? p.newShare : p.oldShare)} in ${p.route.label}`).join(', ');
}

/** `subset blue of web.shop.svc.cluster.local`; `every version of H` for a destination without subset. */
export function subsetName(s: { subset: string; host: string; allVersions?: unknown }): string {
  return s.allVersions ? `every version of ${s.host}` : `subset ${s.subset} of ${s.host}`;
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
  if (rs.promotion) return `name ${rs.subset} the stable subset`;
  return rs.path ? 'apply the change again' : 'raise the weight';
}

/** Appended to a finding about a subset the change names stable: why it is judged, and the other ways. */
export function promotionNote(rs: RoutedSubset): string {
  if (!rs.promotion) return rs.path?.otherwise ?? '';
  return (
    ' A change of the stable subset is judged as a cutover to the subset it names, because traffic moved back to the stable subset is a rollback, which is never blocked. ' +
    `Otherwise leave the annotation to the watcher, which records ${rs.subset} as stable once a cutover to it has held at full traffic, or have a member of a break-glass group make the change.`
  );
}
