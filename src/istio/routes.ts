// The routes of a VirtualService as traffic sees them: every http, tcp and tls
// route with its destinations' hosts resolved and their weights turned into
// shares of the route's traffic, plus http mirrors.
import { resolveHost } from './hosts.js';
import type { Destination, RouteDestination, VirtualService } from './types.js';

export type RouteKind = 'http' | 'tcp' | 'tls';

export interface RoutedDestination {
  /** Fully qualified host. */
  host: string;
  /** The host as the VirtualService writes it. */
  writtenHost: string;
  subset: string | undefined;
  /** `destination.port.number`, when written. */
  port: number | undefined;
  /** The weight as written (may be absent or invalid; see the `weights` rule). */
  weight: unknown;
  /** `weight` when it is a number: what a JSON Patch `test`/`replace` sees; undefined when absent or not a number. */
  writtenWeight: number | undefined;
  /** Position in the route's `route` list: `/spec/<kind>/<route index>/route/<index>/weight`. */
  index: number;
  /** Share of the route's traffic, 0..100. */
  sharePercent: number;
  /** destinationKey of host and subset, computed once: reviews compare destinations by it many times. */
  key: string;
}

export interface MirrorDestination {
  host: string;
  writtenHost: string;
  subset: string | undefined;
  port: number | undefined;
  /** `mirror` or `mirrors[i]`. */
  field: string;
}

export interface Route {
  kind: RouteKind;
  index: number;
  /**
   * Identity of the route across an update: its name, else its match
   * conditions, so inserting a route above it does not make it "new".
   */
  key: string;
  /** The route's `name`, if it has one. */
  name: string | undefined;
  /**
   * How every message, Event, annotation, alert and log names the route:
   * `http[0]` or `http[0] "primary"` (see routeLabel).
   */
  label: string;
  destinations: RoutedDestination[];
  mirrors: MirrorDestination[];
}

/** Key of a destination within a route: host and subset. */
export function destinationKey(d: { host: string; subset: string | undefined }): string {
  return `${d.host}|${d.subset ?? ''}`;
}

/**
 * Istio's weight semantics: a lone destination takes all the traffic whatever
 * its weight; otherwise weights are relative (weight / total).
 */
export function sharesPercent(weights: readonly unknown[]): number[] {
  if (weights.length === 1) return [100];
  const usable = weights.map((w) => (typeof w === 'number' && Number.isFinite(w) && w > 0 ? w : 0));
  const total = usable.reduce((a, b) => a + b, 0);
  return usable.map((w) => (total > 0 ? (w / total) * 100 : 0));
}

export function routesOf(vs: VirtualService, clusterDomain: string): Route[] {
  const namespace = vs.metadata.namespace;
  const resolve = (d: Destination | undefined) => {
    const writtenHost = typeof d?.host === 'string' ? d.host : '';
    const subset = typeof d?.subset === 'string' && d.subset !== '' ? d.subset : undefined;
    const port = typeof d?.port?.number === 'number' ? d.port.number : undefined;
    return { host: resolveHost(writtenHost, namespace, clusterDomain), writtenHost, subset, port };
  };
  const routes: Route[] = [];
  const seen = new Map<string, number>();
  for (const kind of ['http', 'tcp', 'tls'] as const) {
    const list = asArray(vs.spec[kind]);
    list.forEach((raw, index) => {
      const r = asRecord(raw);
      const name = typeof r.name === 'string' && r.name !== '' ? r.name : undefined;
      let key = `${kind}:${name !== undefined ? `name=${name}` : `match=${stableJson(r.match ?? null)}`}`;
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      if (n > 0) key += `#${n}`;
      const routeDestinations = asArray(r.route) as RouteDestination[];
      const shares = sharesPercent(routeDestinations.map((rd) => asRecord(rd).weight));
      const destinations = routeDestinations.map((rd, i) => {
        const weight = asRecord(rd).weight;
        const resolved = resolve(asRecord(rd).destination as Destination | undefined);
        return {
          ...resolved,
          key: destinationKey(resolved),
          weight,
          writtenWeight: typeof weight === 'number' ? weight : undefined,
          index: i,
          sharePercent: shares[i] ?? 0,
        };
      });
      const mirrors: MirrorDestination[] = [];
      if (kind === 'http') {
        if (r.mirror != null) mirrors.push({ ...resolve(r.mirror as Destination), field: 'mirror' });
        asArray(r.mirrors).forEach((m, i) => {
          mirrors.push({ ...resolve(asRecord(m).destination as Destination | undefined), field: `mirrors[${i}]` });
        });
      }
      routes.push({ kind, index, key, name, label: routeLabel({ kind, index, name }), destinations, mirrors });
    });
  }
  return routes;
}

/** `http[0]` or `http[0] "primary"`: the one spelling of a route's name, for the webhook and the watcher alike. */
export function routeLabel(route: { kind: RouteKind; index: number; name?: string | undefined }): string {
  return `${route.kind}[${route.index}]${route.name !== undefined && route.name !== '' ? ` "${route.name}"` : ''}`;
}

/** Share of a route's traffic that goes to destinations with this subset, whatever their host. */
export function subsetShare(route: Route, subset: string): number {
  return route.destinations.filter((d) => d.subset === subset).reduce((a, d) => a + d.sharePercent, 0);
}

/** Whether any destination of the route names this subset, at any weight. */
export function namesSubset(route: Route, subset: string): boolean {
  return route.destinations.some((d) => d.subset === subset);
}

/** Share a subset of a host gets in a route (0 when absent). */
export function shareIn(route: Route | undefined, key: string): number {
  if (!route) return 0;
  let share = 0;
  for (const d of route.destinations) if (d.key === key) share += d.sharePercent;
  return share;
}

/** `40%`, `33.3%`: how messages print a share. */
export function formatPercent(share: number): string {
  return `${Number.isInteger(share) ? share : Math.round(share * 10) / 10}%`;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** JSON with object keys sorted, so equal values compare equal as text (route keys, match comparison). */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
