// Which traffic a VirtualService can deliver, in Istio's order, and where a
// change may make it grow. For each kind (http, tcp, tls) the first route
// whose match fits takes the request; a route without match (or with an
// empty entry) catches everything, so every later route of its kind is
// unreachable (Istio's analyzer: IST0130); matchShadowing finds the entries
// and routes that overlapping matches in front take (IST0131, and IST0130
// short of a catch-all). Entries of `match` are ORed, the
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

/** A `match` entry that never takes a request: an entry in front of it (of an earlier route, or earlier in the same route) takes all of them first. */
export interface IneffectiveMatch {
  route: Route;
  /** Position of the entry in the route's `match`. */
  entry: number;
  /** The route of the entry in front that takes its requests (may be `route` itself). */
  by: Route;
  byEntry: number;
  /** The two entries have the same conditions (`name` aside); otherwise the one in front is wider. */
  duplicate: boolean;
}

export interface MatchShadowing {
  /** Every entry of these routes is taken by earlier routes, though none of them is a catch-all. */
  unreachable: Map<Route, IneffectiveMatch[]>;
  ineffective: IneffectiveMatch[];
}

/**
 * How many entries in front an entry is compared with, at most (duplicates
 * aside, found by their conditions): beyond that an overlap goes unreported,
 * never a false one, and 4,000 entries cost at most 64,000 comparisons.
 */
const MAX_COMPARISONS = 16;

interface IndexedEntry {
  route: Route;
  entry: number;
  /** Istio's order: route, then entry. */
  order: number;
  fields: Record<string, unknown>;
  json: string;
  /** Each condition, canonical, computed once: an entry is compared with up to MAX_COMPARISONS others. */
  conditions: Map<string, Condition>;
}

/** A field of an entry: its value as canonical JSON, and for a map of string matches (headers, queryParams, withoutHeaders) each key's. */
interface Condition {
  json: string;
  value: unknown;
  keys: Map<string, Condition> | undefined;
}

const MAP_FIELDS = new Set(['headers', 'queryParams', 'withoutHeaders']);

function conditionsOf(fields: Record<string, unknown>): Map<string, Condition> {
  const out = new Map<string, Condition>();
  for (const [field, value] of Object.entries(fields)) {
    let keys: Map<string, Condition> | undefined;
    if (MAP_FIELDS.has(field) && isRecord(value)) {
      keys = new Map();
      for (const [k, v] of Object.entries(value)) keys.set(k, { json: stableJson(v), value: v, keys: undefined });
    }
    out.set(field, { json: stableJson(value), value, keys });
  }
  return out;
}

/**
 * Istio's IST0131 (VirtualServiceIneffectiveMatch) and the IST0130 cases short
 * of a catch-all: an entry is ineffective when an entry in front of it of the
 * same kind takes every request it would match, that is, when every condition
 * of the wider entry holds for every request of the narrower one: the same
 * value, or a `prefix` string match that the narrower `exact` or `prefix`
 * starts with (uri, scheme, method, authority, each header and query
 * parameter; `withoutHeaders` the other way round); a narrower entry may add
 * conditions (AND). Regexes and other fields must be equal: the model never
 * claims an overlap it cannot prove. A route is unreachable when each of its
 * entries is taken by earlier routes. Routes behind a catch-all are left to
 * `shadowedBy`. Entries are indexed by their uri (prefixes in a trie), and
 * each is compared with at most MAX_COMPARISONS entries in front besides its
 * duplicates, so a review of a thousand routes stays linear in their size.
 */
export function matchShadowing(traffic: readonly RouteTraffic[]): MatchShadowing {
  const ineffective: IneffectiveMatch[] = [];
  const unreachable = new Map<Route, IneffectiveMatch[]>();
  const indexes = new Map<RouteKind, EntryIndex>();
  let order = 0;
  for (const t of traffic) {
    if (t.shadowedBy || !t.match) continue;
    let index = indexes.get(t.route.kind);
    if (!index) indexes.set(t.route.kind, (index = newIndex()));
    const found: IneffectiveMatch[] = [];
    const entries = t.match.map((fields, entry): IndexedEntry => ({ route: t.route, entry, order: order++, fields, json: stableJson(fields), conditions: conditionsOf(fields) }));
    for (const e of entries) {
      const wider = firstWider(e, index);
      // An entry taken by one in front takes nothing from the entries behind it that the one in front does not.
      // Its duplicates behind are taken by the same entry in front, found by their conditions.
      if (wider) {
        found.push({ route: t.route, entry: e.entry, by: wider.route, byEntry: wider.entry, duplicate: wider.json === e.json });
        if (!index.byJson.has(e.json)) index.byJson.set(e.json, wider);
      } else add(index, e);
    }
    ineffective.push(...found);
    if (found.length === entries.length && found.every((f) => f.by !== t.route)) unreachable.set(t.route, found);
  }
  return { unreachable, ineffective };
}

/**
 * The entries of one kind that take requests, indexed by what an entry behind
 * them must share to be taken: entries without uri (any uri), by uri as
 * written (exact, regex), and uri prefixes in a trie, so that the prefixes a
 * uri starts with are found in one walk along it.
 */
interface EntryIndex {
  anyUri: IndexedEntry[];
  byUri: Map<string, IndexedEntry[]>;
  prefixes: PrefixNode;
  /** By conditions: the first entry with them, or the one in front that took it; a duplicate is found however many entries share its uri. */
  byJson: Map<string, IndexedEntry>;
}

interface PrefixNode {
  children: Map<string, PrefixNode>;
  /** Entries whose uri prefix ends here. */
  entries: IndexedEntry[];
}

function newIndex(): EntryIndex {
  return { anyUri: [], byUri: new Map(), prefixes: { children: new Map(), entries: [] }, byJson: new Map() };
}

function add(index: EntryIndex, e: IndexedEntry): void {
  if (!index.byJson.has(e.json)) index.byJson.set(e.json, e);
  const uri = e.conditions.get('uri');
  if (!uri) {
    index.anyUri.push(e);
    return;
  }
  const prefix = prefixOf(uri.value);
  if (prefix === undefined) {
    let list = index.byUri.get(uri.json);
    if (!list) index.byUri.set(uri.json, (list = []));
    list.push(e);
    return;
  }
  let node = index.prefixes;
  for (const c of prefix) {
    let next = node.children.get(c);
    if (!next) node.children.set(c, (next = { children: new Map(), entries: [] }));
    node = next;
  }
  node.entries.push(e);
}

/** The first entry in front, in Istio's order, that takes every request `e` fits, if one is found within MAX_COMPARISONS. */
function firstWider(e: IndexedEntry, index: EntryIndex): IndexedEntry | undefined {
  let best = index.byJson.get(e.json);
  let budget = MAX_COMPARISONS;
  const scan = (list: readonly IndexedEntry[]) => {
    for (const w of list) {
      if ((best && w.order >= best.order) || budget <= 0) return;
      budget--;
      if (covers(w, e)) {
        best = w;
        return;
      }
    }
  };
  scan(index.anyUri);
  const uri = e.conditions.get('uri');
  if (!uri) return best;
  scan(index.byUri.get(uri.json) ?? []);
  const text = prefixOf(uri.value) ?? exactOf(uri.value);
  if (text === undefined) return best;
  let node: PrefixNode | undefined = index.prefixes;
  scan(node.entries);
  for (const c of text) {
    node = node.children.get(c);
    if (!node || budget <= 0) break;
    scan(node.entries);
  }
  return best;
}

/** Every request `narrow` matches, `wide` matches too (see matchShadowing). */
function covers(wide: IndexedEntry, narrow: IndexedEntry): boolean {
  // ignoreUriCase widens the uri condition of the entry that has it.
  if (narrow.fields.ignoreUriCase === true && wide.fields.ignoreUriCase !== true) return false;
  for (const [field, w] of wide.conditions) {
    if (field === 'ignoreUriCase') continue;
    const n = narrow.conditions.get(field);
    if (!n) return false;
    if (n.json === w.json) continue;
    switch (field) {
      case 'uri':
      case 'scheme':
      case 'method':
      case 'authority':
        if (!stringMatchCovers(w, n)) return false;
        break;
      case 'headers':
      case 'queryParams':
        if (!eachCovers(w, n, stringMatchCovers)) return false;
        break;
      case 'withoutHeaders':
        // "not A" takes every request of "not B" when B takes every request of A.
        if (!eachCovers(w, n, (a, b) => stringMatchCovers(b, a))) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function eachCovers(wide: Condition, narrow: Condition, cover: (w: Condition, n: Condition) => boolean): boolean {
  if (!wide.keys || !narrow.keys) return false;
  for (const [key, w] of wide.keys) {
    const n = narrow.keys.get(key);
    if (!n || (n.json !== w.json && !cover(w, n))) return false;
  }
  return true;
}

/** A StringMatch `wide` matches every string `narrow` does: equal, or a prefix that the narrower exact or prefix starts with. */
function stringMatchCovers(wide: Condition, narrow: Condition): boolean {
  if (wide.json === narrow.json) return true;
  const prefix = prefixOf(wide.value);
  const text = prefixOf(narrow.value) ?? exactOf(narrow.value);
  return prefix !== undefined && text !== undefined && text.startsWith(prefix);
}

function prefixOf(m: unknown): string | undefined {
  return isRecord(m) && Object.keys(m).length === 1 && typeof m.prefix === 'string' ? m.prefix : undefined;
}

function exactOf(m: unknown): string | undefined {
  return isRecord(m) && Object.keys(m).length === 1 && typeof m.exact === 'string' ? m.exact : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
