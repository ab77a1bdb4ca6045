// Where a VirtualService stands in the runbook, read from its routes and from
// the `bluegreen-guard.io/` annotations the watcher records on it, and what to
// record next. State lives on the object, not in the process, so a restart, a
// leader change or the next release (blue and green swapping roles) keeps it.
import {
  CANDIDATE_SUBSET,
  CUTOVER_STARTED_AT,
  DEFAULT_CANDIDATE_SUBSET,
  DEFAULT_STABLE_SUBSET,
  FULL_TRAFFIC_AT,
  FULL_TRAFFIC_REACHED_AT,
  ROLLED_BACK_AT,
  STABLE_SINCE,
  STABLE_SUBSET,
} from '../istio/annotations.js';
import { metricsServiceOf, type ServiceRef } from '../istio/hosts.js';
import type { Mesh } from '../istio/mesh.js';
import { stableSubsetOf } from '../istio/roles.js';
import { namesSubset, routesOf, subsetShare, type Route } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import type { Verdict } from './verdict.js';

/** What reading a VirtualService's cutover needs to know about the mesh. */
export type CutoverMesh = Pick<Mesh, 'clusterDomain' | 'defaultStableSubset'>;

export interface CutoverRoles {
  /** Rollback target: `bluegreen-guard.io/stable-subset`, `mesh.defaultStableSubset` when nothing is recorded. */
  stableSubset: string;
  /** Every other subset the service's routes name (and the recorded candidate). */
  candidateSubsets: string[];
}

export type CutoverPhase =
  /** No candidate gets traffic and no cutover is recorded. */
  | 'idle'
  /** The last cutover was rolled back and no candidate has had traffic since. */
  | 'rolled-back'
  /** A candidate gets traffic and the stable subset still gets some. */
  | 'cutover'
  /** The stable subset gets no traffic on any route of the service. */
  | 'full-traffic';

export interface ActiveCandidate {
  subset: string;
  /** Largest share of any route (0–100]. */
  maxSharePercent: number;
  /** The host its busiest destination names, as written. */
  host: string;
  /** That host's service, as Istio's metrics label it. */
  service: ServiceRef;
}

export interface CutoverState {
  roles: CutoverRoles;
  phase: CutoverPhase;
  /** Candidates that get traffic now, busiest first. */
  active: ActiveCandidate[];
  /** Whether the traffic seen now belongs to a cutover already recorded (false: it began since). */
  recorded: boolean;
  cutoverStartedAt: Date | undefined;
  fullTrafficAt: Date | undefined;
  /** When this cutover first reached full traffic (kept through hold restarts and after confirmation). */
  fullTrafficReachedAt: Date | undefined;
  rolledBackAt: Date | undefined;
  stableSince: Date | undefined;
}

type Annotations = Readonly<Record<string, string>>;

export function readCutoverState(vs: VirtualService, mesh: CutoverMesh): CutoverState {
  const a: Annotations = vs.metadata.annotations ?? {};
  const routes = routesOf(vs, mesh.clusterDomain);
  const roles = rolesOf(vs, routes, a, mesh);
  const active = activeCandidates(vs, routes, roles, mesh);
  const cutoverStartedAt = time(a[CUTOVER_STARTED_AT]);
  const rolledBackAt = time(a[ROLLED_BACK_AT]);
  const stableSince = time(a[STABLE_SINCE]);
  const rolledBack = rolledBackAt !== undefined && !isBefore(rolledBackAt, cutoverStartedAt) && !isBefore(rolledBackAt, stableSince);
  const recorded = cutoverStartedAt !== undefined && !rolledBack;
  let phase: CutoverPhase;
  if (active.length === 0) phase = rolledBack ? 'rolled-back' : 'idle';
  else phase = stableGetsNoTraffic(routes, roles) ? 'full-traffic' : 'cutover';
  // A time from before this cutover began belongs to an earlier one.
  const reached = time(a[FULL_TRAFFIC_REACHED_AT]);
  const fullTrafficReachedAt = reached !== undefined && recorded && !isBefore(reached, cutoverStartedAt) ? reached : undefined;
  return { roles, phase, active, recorded, cutoverStartedAt, fullTrafficAt: time(a[FULL_TRAFFIC_AT]), fullTrafficReachedAt, rolledBackAt, stableSince };
}

/** When the cutover the traffic belongs to began: recorded, or now when it is new. */
export function cutoverStart(state: CutoverState, now: Date): Date | undefined {
  if (state.active.length === 0) return undefined;
  return state.recorded ? state.cutoverStartedAt : now;
}

/** Annotation writes: a string sets, null removes. */
export type AnnotationChanges = Record<string, string | null>;

export type CutoverTransition =
  | { kind: 'none' }
  /** A candidate's weight rose above 0 outside any recorded cutover. */
  | { kind: 'cutover-began'; candidate: string; annotations: AnnotationChanges }
  | { kind: 'full-traffic-reached'; annotations: AnnotationChanges }
  /** The stable subset got traffic back (a human stepped back): the hold starts over next time. */
  | { kind: 'full-traffic-left'; annotations: AnnotationChanges }
  /** Candidate traffic went back to 0 without a rollback by the watcher. */
  | { kind: 'cutover-ended'; annotations: AnnotationChanges }
  /** A breach at full traffic that was not rolled back (dry run, blocked route): the hold starts over. */
  | { kind: 'hold-restarted'; annotations: AnnotationChanges }
  /** No data or an error at full traffic: the hold is forgotten and starts over at the next judged cycle. */
  | { kind: 'hold-interrupted'; annotations: AnnotationChanges }
  /** The seed's 10-minute hold passed: the candidate becomes the stable subset, roles swap. */
  | { kind: 'confirmed-stable'; stable: string; previousStable: string; annotations: AnnotationChanges };

export interface CutoverPolicy {
  /** Time at full candidate traffic without a breach before the cutover is recorded stable. */
  holdSeconds: number;
}

/**
 * What to record after this cycle. `verdict` is the cycle's combined verdict for
 * the service, `undefined` when it was not evaluated. Only healthy or warning
 * counts towards the hold: no data is never a silent pass.
 */
export function decideCutover(state: CutoverState, now: Date, verdict: Verdict | undefined, policy: CutoverPolicy): CutoverTransition {
  const stamp = now.toISOString();
  const top = state.active[0];
  if (!top) {
    if (!state.recorded || state.cutoverStartedAt === undefined) return { kind: 'none' };
    return { kind: 'cutover-ended', annotations: { [CUTOVER_STARTED_AT]: null, [FULL_TRAFFIC_AT]: null, [FULL_TRAFFIC_REACHED_AT]: null } };
  }
  if (!state.recorded) {
    return {
      kind: 'cutover-began',
      candidate: top.subset,
      annotations: {
        [CUTOVER_STARTED_AT]: stamp,
        [CANDIDATE_SUBSET]: top.subset,
        [FULL_TRAFFIC_AT]: state.phase === 'full-traffic' ? stamp : null,
        [FULL_TRAFFIC_REACHED_AT]: state.phase === 'full-traffic' ? stamp : null,
      },
    };
  }
  if (state.phase !== 'full-traffic') {
    return state.fullTrafficAt || state.fullTrafficReachedAt
      ? { kind: 'full-traffic-left', annotations: { [FULL_TRAFFIC_AT]: null, [FULL_TRAFFIC_REACHED_AT]: null } }
      : { kind: 'none' };
  }
  // Time without a judgement is not time without a breach: the hold counts judged cycles only,
  // and restarts at the first one after a stretch of no data or errors.
  const unjudged = verdict === 'no-data' || verdict === 'error';
  // The first time this cutover is at full traffic is kept; a hold that starts over after no data does not move it.
  const reached: AnnotationChanges = state.fullTrafficReachedAt ? {} : { [FULL_TRAFFIC_REACHED_AT]: stamp };
  if (!state.fullTrafficAt) return unjudged ? { kind: 'none' } : { kind: 'full-traffic-reached', annotations: { [FULL_TRAFFIC_AT]: stamp, ...reached } };
  if (verdict === 'breached') return { kind: 'hold-restarted', annotations: { [FULL_TRAFFIC_AT]: stamp } };
  if (unjudged) return { kind: 'hold-interrupted', annotations: { [FULL_TRAFFIC_AT]: null } };
  const heldMs = now.getTime() - state.fullTrafficAt.getTime();
  if ((verdict === 'healthy' || verdict === 'warning') && heldMs >= policy.holdSeconds * 1000) {
    const previousStable = state.roles.stableSubset;
    return {
      kind: 'confirmed-stable',
      stable: top.subset,
      previousStable,
      annotations: {
        [STABLE_SUBSET]: top.subset,
        [CANDIDATE_SUBSET]: previousStable,
        [STABLE_SINCE]: stamp,
        [CUTOVER_STARTED_AT]: null,
        [FULL_TRAFFIC_AT]: null,
        // Recorded by a watcher that did not write it yet: the hold's start is the best known time.
        ...(state.fullTrafficReachedAt ? {} : { [FULL_TRAFFIC_REACHED_AT]: state.fullTrafficAt.toISOString() }),
      },
    };
  }
  return { kind: 'none' };
}

function rolesOf(vs: VirtualService, routes: readonly Route[], a: Annotations, mesh: CutoverMesh): CutoverRoles {
  const recordedStable = nonEmpty(a[STABLE_SUBSET]);
  const recordedCandidate = nonEmpty(a[CANDIDATE_SUBSET]);
  const stableSubset = stableSubsetOf(vs, undefined, mesh.defaultStableSubset);
  const anchor = [stableSubset, recordedCandidate ?? (recordedStable ? undefined : defaultCandidate(stableSubset))].filter(
    (s): s is string => s !== undefined && s !== stableSubset,
  );
  // The service is whatever the stable (or recorded candidate) subset routes to;
  // other subsets of that same service are candidates, whatever their names.
  const services = new Set<string>();
  for (const r of routes) {
    for (const d of r.destinations) {
      if (d.subset === stableSubset || anchor.includes(d.subset ?? '')) services.add(serviceKeyOf(d.host, vs, mesh));
    }
  }
  const candidates = new Set<string>(anchor);
  for (const r of routes) {
    for (const d of r.destinations) {
      if (d.subset !== undefined && d.subset !== stableSubset && services.has(serviceKeyOf(d.host, vs, mesh))) candidates.add(d.subset);
    }
  }
  return { stableSubset, candidateSubsets: [...candidates] };
}

function activeCandidates(vs: VirtualService, routes: readonly Route[], roles: CutoverRoles, mesh: CutoverMesh): ActiveCandidate[] {
  const best = new Map<string, { share: number; host: string }>();
  for (const r of routes) {
    for (const d of r.destinations) {
      if (d.subset === undefined || !roles.candidateSubsets.includes(d.subset) || d.sharePercent <= 0) continue;
      const prev = best.get(d.subset);
      if (!prev || d.sharePercent > prev.share) best.set(d.subset, { share: d.sharePercent, host: d.writtenHost });
    }
  }
  return [...best.entries()]
    .map(([subset, b]) => ({ subset, maxSharePercent: b.share, host: b.host, service: metricsServiceOf(b.host, vs.metadata.namespace, mesh.clusterDomain) }))
    .sort((x, y) => y.maxSharePercent - x.maxSharePercent);
}

/** Full traffic: no route that names the stable subset or a candidate gives the stable subset any share. */
function stableGetsNoTraffic(routes: readonly Route[], roles: CutoverRoles): boolean {
  return routes
    .filter((r) => namesSubset(r, roles.stableSubset) || roles.candidateSubsets.some((c) => namesSubset(r, c)))
    .every((r) => subsetShare(r, roles.stableSubset) === 0);
}

function serviceKeyOf(host: string, vs: VirtualService, mesh: CutoverMesh): string {
  const s = metricsServiceOf(host, vs.metadata.namespace, mesh.clusterDomain);
  return `${s.namespace}/${s.name}`;
}

/** The runbook's pair: the other of blue and green; any other stable subset has no default partner. */
function defaultCandidate(stableSubset: string): string | undefined {
  if (stableSubset === DEFAULT_STABLE_SUBSET) return DEFAULT_CANDIDATE_SUBSET;
  if (stableSubset === DEFAULT_CANDIDATE_SUBSET) return DEFAULT_STABLE_SUBSET;
  return undefined;
}

/** An annotation's value trimmed, or undefined when absent or blank. */
export function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/** An annotation's ISO time, or undefined when absent or not a time. */
export function time(v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function isBefore(a: Date, b: Date | undefined): boolean {
  return b !== undefined && a.getTime() < b.getTime();
}
