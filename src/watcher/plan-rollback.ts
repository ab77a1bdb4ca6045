// The seed's "Revert Traffic to Green", computed in memory: every route that
// sends traffic to a candidate gets the stable subset at 100 and everything
// else at 0. Only `weight` fields are written; matches, retries, timeouts,
// mirrors, headers and fields we do not model stay exactly as they are.
import type { Mesh } from '../istio/mesh.js';
import { routesOf, type Route, type RoutedDestination } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import { pointer, type JsonPatchOp } from './json-patch.js';

/** Reading routes resolves their hosts: the plan needs the cluster domain. */
export type RollbackMesh = Pick<Mesh, 'clusterDomain'>;

export interface RollbackRoles {
  /** The rollback target. */
  stableSubset: string;
  /** Subsets to drain. Absent: every subset other than the stable one. */
  candidateSubsets?: readonly string[];
}

/** Weights of one route, by subset (or host when a destination names no subset). */
export type RouteWeights = Record<string, number>;

export interface RouteChange {
  /** The route's label, `http[0] "primary"`. */
  route: string;
  before: RouteWeights;
  after: RouteWeights;
}

export interface BlockedRoute {
  route: string;
  message: string;
}

export type RollbackPlan =
  /** No route sends traffic to a candidate: already rolled back, nothing to write. */
  | { outcome: 'unchanged' }
  /**
   * Weight ops to apply. `blocked` lists routes that carry candidate traffic but
   * name no stable destination: weights alone cannot move them, a human must.
   */
  | { outcome: 'patch'; ops: JsonPatchOp[]; changes: RouteChange[]; blocked: BlockedRoute[] }
  /** Candidate traffic flows only on routes that weights alone cannot move. */
  | { outcome: 'blocked'; blocked: BlockedRoute[] };

export function planRollback(vs: VirtualService, roles: RollbackRoles, mesh: RollbackMesh): RollbackPlan {
  const ops: JsonPatchOp[] = [];
  const changes: RouteChange[] = [];
  const blocked: BlockedRoute[] = [];
  for (const route of routesOf(vs, mesh.clusterDomain)) {
    if (!carriesCandidate(route, roles)) continue;
    const stable = route.destinations.filter((d) => d.subset === roles.stableSubset);
    const first = stable[0];
    if (!first) {
      blocked.push({ route: route.label, message: blockedMessage(vs, route, roles) });
      continue;
    }
    const target = (d: RoutedDestination): number => (d === first ? 100 : 0);
    for (const d of route.destinations) {
      const want = target(d);
      if (d.writtenWeight === want) continue;
      // A missing weight beside other destinations already counts as 0.
      if (d.writtenWeight === undefined && want === 0) continue;
      const path = pointer('spec', route.kind, route.index, 'route', d.index, 'weight');
      ops.push(d.writtenWeight === undefined ? { op: 'add', path, value: want } : { op: 'replace', path, value: want });
    }
    changes.push({ route: route.label, before: weightsOf(route, (d) => effectiveWeight(route, d)), after: weightsOf(route, target) });
  }
  if (ops.length > 0) return { outcome: 'patch', ops, changes, blocked };
  if (blocked.length > 0) return { outcome: 'blocked', blocked };
  return { outcome: 'unchanged' };
}

export type RollbackCheck = { ok: true } | { ok: false; problems: string[] };

/** The seed's "Verify Rollback Success": no route sends any traffic to a candidate. */
export function checkRolledBack(vs: VirtualService, roles: RollbackRoles, mesh: RollbackMesh): RollbackCheck {
  const problems: string[] = [];
  for (const route of routesOf(vs, mesh.clusterDomain)) {
    for (const d of route.destinations) {
      if (isCandidate(d, roles) && d.sharePercent > 0) {
        problems.push(`${route.label} still sends ${round(d.sharePercent)}% to subset '${d.subset ?? ''}'`);
      }
    }
  }
  return problems.length === 0 ? { ok: true } : { ok: false, problems };
}

/** Weights of every route that carries candidate traffic, for the previous-weights annotation. */
export function candidateRouteWeights(vs: VirtualService, roles: RollbackRoles, mesh: RollbackMesh): Record<string, RouteWeights> {
  const out: Record<string, RouteWeights> = {};
  for (const route of routesOf(vs, mesh.clusterDomain)) {
    if (carriesCandidate(route, roles)) out[route.label] = weightsOf(route, (d) => effectiveWeight(route, d));
  }
  return out;
}

function isCandidate(d: RoutedDestination, roles: RollbackRoles): boolean {
  if (d.subset === undefined || d.subset === roles.stableSubset) return false;
  return roles.candidateSubsets === undefined || roles.candidateSubsets.includes(d.subset);
}

function carriesCandidate(route: Route, roles: RollbackRoles): boolean {
  return route.destinations.some((d) => isCandidate(d, roles) && d.sharePercent > 0);
}

function effectiveWeight(route: Route, d: RoutedDestination): number {
  if (route.destinations.length === 1) return d.writtenWeight ?? 100;
  return d.writtenWeight ?? 0;
}

function weightsOf(route: Route, weight: (d: RoutedDestination) => number): RouteWeights {
  const out: RouteWeights = {};
  for (const d of route.destinations) {
    let key = d.subset ?? d.writtenHost;
    if (key in out) key = `${key}#${d.index}`;
    out[key] = weight(d);
  }
  return out;
}

function blockedMessage(vs: VirtualService, route: Route, roles: RollbackRoles): string {
  const hosts = [...new Set(route.destinations.filter((d) => isCandidate(d, roles)).map((d) => d.writtenHost))];
  const host = hosts[0] ?? '<host>';
  return (
    `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} ${route.label} sends traffic to a candidate ` +
    `but has no destination with the stable subset '${roles.stableSubset}', so weights alone cannot roll it back; ` +
    `fix: add {destination: {host: ${host}, subset: ${roles.stableSubset}}, weight: 0} to that route`
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
