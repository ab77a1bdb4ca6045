// What the watcher records for the cutover report (cutover-report.ts) beside
// the cutover's state: when a candidate is first seen at 0 % while idle, when
// its pods were created and Ready (read once, as its first traffic is
// recorded), and the finished cutover's steps at confirmation or rollback.
// The watcher keeps no pod cache: the pods are read from the API server at
// that one moment, like the latch reads them at a rollback.
import { CANDIDATE_DEPLOYED_AT, CANDIDATE_READY_AT, ZERO_PERCENT_AT } from '../istio/annotations.js';
import { routesOf } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import { cutoverStart, type AnnotationChanges, type CutoverState } from './cutover-state.js';
import { currentSteps, cutoverReport, lastCutoverAnnotation, reportSummary, type CutoverOutcome, type CutoverSteps } from './cutover-report.js';
import type { LatchTarget } from './latch.js';
import { logKeys, type LoopIO } from './loop-io.js';

/** When the pods behind a subset were created and became Ready. */
export interface PodTimes {
  /** The earliest creationTimestamp of the subset's pods. */
  deployedAt: Date | undefined;
  /** The latest Ready transition, only when every one of the pods is Ready. */
  readyAt: Date | undefined;
}

export interface PodTimesSource {
  podTimes(target: LatchTarget): Promise<PodTimes>;
}

/**
 * The 0 % step, while no candidate has traffic: recorded the first time a route names a candidate subset,
 * again when the recorded time belongs to a cutover that has ended since, removed when no route names one.
 */
export function zeroPercentChanges(vs: VirtualService, state: CutoverState, now: Date, clusterDomain: string): AnnotationChanges | undefined {
  if (state.active.length > 0) return undefined;
  const recorded = vs.metadata.annotations?.[ZERO_PERCENT_AT];
  const routed = routesOf(vs, clusterDomain).some((r) => r.destinations.some((d) => d.subset !== undefined && state.roles.candidateSubsets.includes(d.subset)));
  if (!routed) return recorded === undefined ? undefined : { [ZERO_PERCENT_AT]: null };
  const at = recorded === undefined ? NaN : Date.parse(recorded);
  const endedMs = Math.max(state.stableSince?.getTime() ?? -Infinity, state.rolledBackAt?.getTime() ?? -Infinity);
  if (Number.isFinite(at) && at >= endedMs) return undefined;
  return { [ZERO_PERCENT_AT]: now.toISOString() };
}

/** The loop's step for a VirtualService without candidate traffic: record the 0 % step. */
export async function recordZeroPercent(vs: VirtualService, state: CutoverState, now: Date, io: LoopIO): Promise<void> {
  const changes = zeroPercentChanges(vs, state, now, io.deps.mesh.clusterDomain);
  if (changes) await io.record(vs, changes);
}

/**
 * The deploy and ready steps, for the patch that records a cutover's first traffic. Always both keys: a time
 * not read now removes one left by an earlier cutover. A failed read costs the report two steps, never the cutover.
 */
export async function podTimesChanges(vs: VirtualService, target: LatchTarget | undefined, io: LoopIO, timeoutMs: number): Promise<AnnotationChanges> {
  const none = { [CANDIDATE_DEPLOYED_AT]: null, [CANDIDATE_READY_AT]: null };
  const source = io.deps.podTimes;
  if (!source || !target) return none;
  let timer: NodeJS.Timeout | undefined;
  try {
    const times = await Promise.race([
      source.podTimes(target),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`reading the pods took over ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { [CANDIDATE_DEPLOYED_AT]: times.deployedAt?.toISOString() ?? null, [CANDIDATE_READY_AT]: times.readyAt?.toISOString() ?? null };
  } catch (err) {
    io.deps.log.warn({ ...logKeys(vs), err: err instanceof Error ? err.message : String(err) }, "the candidate's pods were not read: the cutover report shows deploy and ready as unknown");
    return none;
  } finally {
    clearTimeout(timer);
  }
}

/** The finished cutover's steps: those recorded, and its end now. */
export function finishedSteps(vs: VirtualService, state: CutoverState, outcome: CutoverOutcome, now: Date): CutoverSteps {
  const steps = currentSteps(vs.metadata.annotations ?? {}, state);
  return {
    ...steps,
    // A cutover that begins and breaches in one cycle was never recorded: its canary step is now.
    canaryAt: steps.canaryAt ?? cutoverStart(state, now),
    fullTrafficAt: steps.fullTrafficAt ?? (state.recorded ? state.fullTrafficAt : undefined),
    end: { outcome, at: now },
  };
}

/** What a completion records and says: the annotation that keeps the steps, and the report's line for its Event. */
export function completionReport(vs: VirtualService, state: CutoverState, outcome: CutoverOutcome, now: Date): { annotations: Record<string, string>; summary: string } {
  const steps = finishedSteps(vs, state, outcome, now);
  return { annotations: lastCutoverAnnotation(steps), summary: reportSummary(cutoverReport(steps)) };
}
