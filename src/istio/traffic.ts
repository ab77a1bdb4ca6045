// Which traffic a VirtualService can deliver, in Istio's order, and where a
// change may make it grow. For each kind (http, tcp, tls) the first route
// whose match fits takes the request; a route without match (or with an
// empty entry) catches everything, so every later route of its kind is
// unreachable (Istio's analyzer: IST0130). Entries of `match` are ORed, the
// fields of one entry ANDed. Deciding whether one match is a superset of
// another is hard in general (regexes), so the model is conservative: only
// a provable narrowing is "less"; any other change of a match may widen it.
import { routesOf, shareIn, stableJson, type Route, type RouteKind } from './routes.js';
import type { VirtualService } from './types.js';

export interface RouteTraffic {
  route: Route;
  /** The route's `match` entries; `undefined` when it catches everything. */
  match: Record<string, unknown>[] | undefined;
  /** The catch-all route of the same kind in front of it, when there is one. */
  shadowedBy: Route | undefined;
}

/** How a change can make a route catch requests it did not catch before. */
export type GrowthPath =
  | { kind: 'new-route' }
  | { kind: 'match-removed' }
  | { kind: 'match-changed' }
  | { kind: 'front-deleted'; front: Route }
  | { kind: 'front-moved'; front: Route }
  | { kind: 'front-match-changed'; front: Route }
  | { kind: 'unshadowed'; by: Route };

export interface RouteChange {
  route: Route;
  /** The route in the old object it continues (same name, else same match, else same position); undefined for a new route. */
  old: Route | undefined;
  /** Why the route's reachable traffic may grow; undefined when it cannot (or it is unreachable now). */
  growth: GrowthPath | undefined;
}

export interface DestinationChange {
  route: Route;
  host: string;
  writtenHost: string;
  subset: string | undefined;
  /** destinationKey of host and subset. */
  key: string;
  oldShare: number;
  newShare: number;
  /** Its traffic may grow: its share rose, or its route may catch more with a share above 0. */
  grows: boolean;
  /** Set when the route may catch more (its share as written aside): the path the extra traffic takes. */
  path: GrowthPath | undefined;
}

export interface TrafficChange {
  routes: RouteChange[];
  /** One entry per (route, host, subset) of the new object; unreachable routes are left out. */
  destinations: DestinationChange[];
  /** Every route of the old object, in order (none for a new object). */
  oldRoutes: Route[];
}

/** A destination that receives traffic: a share above 0 in a route that some request can reach. */
export interface ReachableDestination {
  route: Route;
  host: string;
  subset: string | undefined;
  sharePercent: number;
}

/** Every route with its match and the catch-all in front of it, in Istio's order. */
export function trafficOf(vs: VirtualService, clusterDomain: string): RouteTraffic[] {
  const routes = routesOf(vs, clusterDomain);
  const catchAll = new Map<RouteKind, Route>();
  return routes.map((route) => {
    const match = matchOf(vs, route);
    const shadowedBy = catchAll.get(route.kind);
    if (!match && !shadowedBy) catchAll.set(route.kind, route);
    return { route, match, shadowedBy };
  });
}

/** Which (host, subset or all) get traffic above 0 from this VirtualService. */
export function reachableDestinations(vs: VirtualService, clusterDomain: string): ReachableDestination[] {
  const out: ReachableDestination[] = [];
  for (const t of trafficOf(vs, clusterDomain)) {
    if (t.shadowedBy) continue;
    const done = new Set<string>();
    for (const d of t.route.destinations) {
      const key = d.key;
      if (done.has(key)) continue;
      done.add(key);
      const sharePercent = shareIn(t.route, key);
      if (sharePercent > 0) out.push({ route: t.route, host: d.host, subset: d.subset, sharePercent });
    }
  }
  return out;
}

/** What a change does to each route and destination of the new object (`old` undefined: a new object). */
export function trafficChange(old: VirtualService | undefined, next: VirtualService, clusterDomain: string): TrafficChange {
  const before = old ? trafficOf(old, clusterDomain) : [];
  const after = trafficOf(next, clusterDomain);
  const pairs = pairRoutes(before, after);
  const fronts = frontsOf(before, after, pairs);
  const routes: RouteChange[] = after.map((t) => {
    const o = pairs.get(t);
    return { route: t.route, old: o?.route, growth: t.shadowedBy ? undefined : growthOf(t, o, fronts) };
  });
  const destinations: DestinationChange[] = [];
  routes.forEach((rc, i) => {
    if (after[i]?.shadowedBy) return;
    const done = new Set<string>();
    for (const d of rc.route.destinations) {
      const key = d.key;
      if (done.has(key)) continue;
      done.add(key);
      const newShare = shareIn(rc.route, key);
      const oldShare = shareIn(rc.old, key);
      const path = newShare > 0 ? rc.growth : undefined;
      destinations.push({ route: rc.route, host: d.host, writtenHost: d.writtenHost, subset: d.subset, key, oldShare, newShare, grows: newShare > oldShare || path !== undefined, path });
    }
  });
  return { routes, destinations, oldRoutes: before.map((t) => t.route) };
}

/**
 * `to` matches no request `from` does not: every entry of `to` carries every
 * field of some entry of `from` with the same value (it may add fields: AND),
 * and `to` may drop entries (OR). A catch-all `from` is narrowed by anything.
 */
export function narrows(from: Record<string, unknown>[] | undefined, to: Record<string, unknown>[] | undefined): boolean {
  if (!from) return true;
  if (!to) return false;
  return to.every((entry) => from.some((wider) => Object.keys(wider).every((field) => field in entry && stableJson(entry[field]) === stableJson(wider[field]))));
}

/**
 * What each old route does to the routes behind it, computed once per change so
 * that judging every route stays linear in the number of routes (a review may
 * carry a thousand): deleted, or now catching less than before ("static": the
 * same for every route behind it), and where it stands in the new object.
 */
interface Fronts {
  /** Old routes by kind, in order. */
  byKind: Map<string, RouteTraffic[]>;
  /** Position of an old route within its kind. */
  rank: Map<RouteTraffic, number>;
  /** Its new route's position in the new object; -1 when deleted. */
  newPosition: Map<RouteTraffic, number>;
  /** The first front in [0, k) of its kind that is deleted or catches less: by kind, for each k. */
  firstStatic: Map<string, (GrowthPath | undefined)[]>;
  firstStaticRank: Map<string, number[]>;
  /** The largest new position among the fronts in [0, k): by kind, for each k. */
  maxPosition: Map<string, number[]>;
  position: Map<RouteTraffic, number>;
}

function frontsOf(before: RouteTraffic[], after: RouteTraffic[], pairs: Map<RouteTraffic, RouteTraffic>): Fronts {
  const paired = new Map([...pairs].map(([a, b]) => [b, a]));
  const position = new Map(after.map((a, i) => [a, i]));
  const byKind = new Map<string, RouteTraffic[]>();
  for (const b of before) {
    let list = byKind.get(b.route.kind);
    if (!list) byKind.set(b.route.kind, (list = []));
    list.push(b);
  }
  const rank = new Map<RouteTraffic, number>();
  const newPosition = new Map<RouteTraffic, number>();
  const firstStatic = new Map<string, (GrowthPath | undefined)[]>();
  const firstStaticRank = new Map<string, number[]>();
  const maxPosition = new Map<string, number[]>();
  for (const [kind, list] of byKind) {
    list.sort((x, y) => x.route.index - y.route.index);
    const statics: (GrowthPath | undefined)[] = [undefined];
    const staticRanks: number[] = [Number.POSITIVE_INFINITY];
    const maxima: number[] = [-1];
    list.forEach((front, k) => {
      rank.set(front, k);
      const now = paired.get(front);
      const at = now ? (position.get(now) ?? -1) : -1;
      newPosition.set(front, at);
      let issue: GrowthPath | undefined;
      if (!now) issue = { kind: 'front-deleted', front: front.route };
      // A route in front that now catches no less than before takes no less from the routes behind it.
      else if (!narrows(now.match, front.match)) issue = { kind: 'front-match-changed', front: now.route };
      const previous = statics[k];
      statics.push(previous ?? issue);
      staticRanks.push(previous !== undefined ? staticRanks[k]! : issue !== undefined ? k : Number.POSITIVE_INFINITY);
      maxima.push(Math.max(maxima[k]!, at));
    });
    firstStatic.set(kind, statics);
    firstStaticRank.set(kind, staticRanks);
    maxPosition.set(kind, maxima);
  }
  return { byKind, rank, newPosition, firstStatic, firstStaticRank, maxPosition, position };
}

function growthOf(t: RouteTraffic, o: RouteTraffic | undefined, fronts: Fronts): GrowthPath | undefined {
  if (!o) return { kind: 'new-route' };
  if (o.shadowedBy) return { kind: 'unshadowed', by: o.shadowedBy };
  if (!narrows(o.match, t.match)) return t.match ? { kind: 'match-changed' } : { kind: 'match-removed' };
  const kind = o.route.kind;
  const list = fronts.byKind.get(kind) ?? [];
  const k = fronts.rank.get(o) ?? 0; // the old routes in front of this one are list[0..k)
  const here = fronts.position.get(t) ?? -1;
  const staticRank = fronts.firstStaticRank.get(kind)?.[k] ?? Number.POSITIVE_INFINITY;
  // The first front, in order, that was deleted, catches less, or moved behind this route.
  if ((fronts.maxPosition.get(kind)?.[k] ?? -1) > here) {
    const stop = Math.min(k, staticRank + 1); // a front both moved and changed is named as moved
    for (let i = 0; i < stop; i++) {
      const front = list[i]!;
      if ((fronts.newPosition.get(front) ?? -1) > here) return { kind: 'front-moved', front: front.route };
    }
  }
  return fronts.firstStatic.get(kind)?.[k];
}

/** Old route → new route continuity: the same key (name, else match), else the same kind and position among the rest. */
function pairRoutes(before: RouteTraffic[], after: RouteTraffic[]): Map<RouteTraffic, RouteTraffic> {
  const pairs = new Map<RouteTraffic, RouteTraffic>();
  const used = new Set<RouteTraffic>();
  const byKey = new Map(before.map((b) => [b.route.key, b]));
  for (const a of after) {
    const b = byKey.get(a.route.key);
    if (b && !used.has(b)) {
      pairs.set(a, b);
      used.add(b);
    }
  }
  for (const a of after) {
    if (pairs.has(a)) continue;
    const b = before.find((x) => !used.has(x) && x.route.kind === a.route.kind && x.route.index === a.route.index && !hasName(x.route) && !hasName(a.route));
    if (b) {
      pairs.set(a, b);
      used.add(b);
    }
  }
  return pairs;
}

function hasName(r: Route): boolean {
  return r.key.startsWith(`${r.kind}:name=`);
}

function matchOf(vs: VirtualService, route: Route): Record<string, unknown>[] | undefined {
  const list = vs.spec[route.kind];
  const raw = Array.isArray(list) ? (list[route.index] as { match?: unknown } | undefined)?.match : undefined;
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const entries = raw.map((e) => {
    const fields: Record<string, unknown> = {};
    if (e !== null && typeof e === 'object' && !Array.isArray(e)) {
      // An entry's `name` only labels it (HTTPMatchRequest.name); it matches nothing.
      for (const [k, v] of Object.entries(e as Record<string, unknown>)) if (k !== 'name' && v !== undefined && v !== null) fields[k] = v;
    }
    return fields;
  });
  // An entry without conditions matches every request, and so does the whole list.
  return entries.some((e) => Object.keys(e).length === 0) ? undefined : entries;
}
