// How traffic is split by a VirtualService's routes, the way Istio's proxy
// config reads them: a route with one destination sends it everything whatever
// its weight says; with several, a missing weight is 0 and each destination
// gets weight / total of the route.
import type { RouteDestination, VirtualService } from '../istio/types.js';

export const ROUTE_KINDS = ['http', 'tcp', 'tls'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

export interface DestinationShare {
  /** Position in the route's `route` list, for JSON Patch paths. */
  index: number;
  host: string;
  subset: string | undefined;
  /** The weight as written; `undefined` when the field is absent. */
  writtenWeight: number | undefined;
  /** Percentage of the route's traffic this destination receives (0–100). */
  sharePercent: number;
}

export interface RouteView {
  kind: RouteKind;
  index: number;
  name: string | undefined;
  destinations: DestinationShare[];
}

/** `http/0` or `http/1 (reviews-canary)`: how annotations, alerts and logs name a route. */
export function routeLabel(route: { kind: RouteKind; index: number; name?: string | undefined }): string {
  return `${route.kind}/${route.index}` + (route.name ? ` (${route.name})` : '');
}

export function routesOf(vs: VirtualService): RouteView[] {
  const views: RouteView[] = [];
  for (const kind of ROUTE_KINDS) {
    const routes = vs.spec[kind];
    if (!Array.isArray(routes)) continue;
    routes.forEach((route, index) => {
      const destinations = Array.isArray(route.route) ? route.route : [];
      views.push({
        kind,
        index,
        name: typeof route.name === 'string' ? route.name : undefined,
        destinations: shares(destinations),
      });
    });
  }
  return views;
}

function shares(destinations: readonly RouteDestination[]): DestinationShare[] {
  const single = destinations.length === 1;
  const weights = destinations.map((d) => (single ? 100 : validWeight(d.weight)));
  const total = weights.reduce((a, b) => a + b, 0);
  return destinations.map((d, index) => ({
    index,
    host: typeof d.destination?.host === 'string' ? d.destination.host : '',
    subset: typeof d.destination?.subset === 'string' && d.destination.subset !== '' ? d.destination.subset : undefined,
    writtenWeight: typeof d.weight === 'number' ? d.weight : undefined,
    sharePercent: total > 0 ? ((weights[index] ?? 0) * 100) / total : 0,
  }));
}

function validWeight(w: unknown): number {
  return typeof w === 'number' && Number.isFinite(w) && w > 0 ? w : 0;
}

/** Share of a route's traffic that goes to destinations with this subset. */
export function subsetShare(route: RouteView, subset: string): number {
  return route.destinations.filter((d) => d.subset === subset).reduce((a, d) => a + d.sharePercent, 0);
}

/** Whether any destination of the route names this subset, at any weight. */
export function namesSubset(route: RouteView, subset: string): boolean {
  return route.destinations.some((d) => d.subset === subset);
}

/** The subsets a VirtualService's routes name, in order of first appearance. */
export function subsetsNamed(routes: readonly RouteView[]): string[] {
  const seen = new Set<string>();
  for (const r of routes) for (const d of r.destinations) if (d.subset !== undefined) seen.add(d.subset);
  return [...seen];
}
