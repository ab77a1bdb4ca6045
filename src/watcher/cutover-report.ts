// The cutover report: the steps of one cutover with their times, measured
// against the seed's expected timeline (Deployment 4 minutes, Monitoring window
// 10 minutes, Total execution ≤ 15 minutes). Pure: the watcher records the
// times (cutover-timeline.ts), `kubectl bluegreen status`, the watcher's
// completion Events and the demo show what this file makes of them.
//
// What the seed's figures cover, by the runbook's steps:
//   deployment         deploy → 100 %   steps 1–3: deploy v2, wait for pod readiness, shift the traffic
//                                       (the guard's 0 % and canary stages lie inside it)
//   monitoring window  100 % → hold passed (steps 4–6), or → rolled back when a breach ended it
//   total              deploy → hold passed or rolled back
// A step whose time was not recorded is unknown and so is every duration that
// needs it: nothing is estimated.
import {
  CANDIDATE_DEPLOYED_AT,
  CANDIDATE_READY_AT,
  CANDIDATE_SUBSET,
  LAST_CUTOVER,
  ZERO_PERCENT_AT,
} from '../istio/annotations.js';
import { nonEmpty, time, type CutoverState } from './cutover-state.js';

/** The seed's "Expected timeline", in seconds. */
export const SEED_TIMELINE = { deploymentSeconds: 4 * 60, monitoringSeconds: 10 * 60, totalSeconds: 15 * 60 } as const;
export type ExpectedTimeline = { deploymentSeconds: number; monitoringSeconds: number; totalSeconds: number };

export type CutoverOutcome = 'hold-passed' | 'rolled-back';

/** The times one cutover's steps were recorded; undefined: not recorded (or not reached). */
export interface CutoverSteps {
  candidate?: string | undefined;
  /** The earliest creation of the candidate's pods. */
  deployedAt?: Date | undefined;
  /** The latest Ready transition of the candidate's pods, when all of them were Ready. */
  readyAt?: Date | undefined;
  /** When the watcher first saw the candidate routed at 0 % while no candidate had traffic. */
  zeroPercentAt?: Date | undefined;
  /** The candidate's first traffic above 0 % (`cutover-started-at`). */
  canaryAt?: Date | undefined;
  /** The first time the candidate had all the traffic (`full-traffic-reached-at`). */
  fullTrafficAt?: Date | undefined;
  end?: { outcome: CutoverOutcome; at: Date } | undefined;
}

export type StepName = 'deploy' | 'ready' | '0 %' | 'canary' | '100 %' | 'hold passed' | 'rolled back';

export interface ReportStep {
  step: StepName;
  /** ISO time; undefined: unknown (not recorded) or not reached. */
  at: string | undefined;
  /** Why there is no time, or what is odd about it. */
  note?: string;
}

export type Mark = 'within' | 'over' | 'running' | 'unknown' | 'not reached' | 'not yet' | 'rolled back';

export interface ReportDuration {
  name: 'deployment' | 'monitoring window' | 'total';
  /** The steps it runs between, e.g. `deploy → 100 %`. */
  span: string;
  /** Whole seconds; for a running one, so far. */
  seconds: number | undefined;
  expectedSeconds: number;
  /** `within`: at most the seed's figure; `over`: more. */
  mark: Mark;
  /** Measured up to now: the step that ends it has not come yet. */
  running?: true;
}

export interface CutoverReport {
  candidate: string | undefined;
  outcome: 'in-progress' | CutoverOutcome;
  steps: ReportStep[];
  durations: ReportDuration[];
}

/**
 * The report of one cutover. `now` is given for a cutover still under way: its
 * running durations are measured up to it (and are over once they pass the figure).
 */
export function cutoverReport(steps: CutoverSteps, now?: Date, expected: ExpectedTimeline = SEED_TIMELINE): CutoverReport {
  const end = steps.end;
  const rolledBack = end?.outcome === 'rolled-back';
  const unknown = (at: Date | undefined, note: string): ReportStep['note'] => (at === undefined ? note : undefined);
  const list: ReportStep[] = [
    step('deploy', steps.deployedAt, unknown(steps.deployedAt, 'unknown: the candidate\'s pods were not read')),
    step('ready', steps.readyAt, unknown(steps.readyAt, 'unknown: not every pod of the candidate was Ready, or the pods were not read')),
    step('0 %', steps.zeroPercentAt, steps.zeroPercentAt === undefined ? 'unknown: the watcher did not see the candidate at 0 %' : isBefore(steps.zeroPercentAt, steps.deployedAt) ? 'routed at 0 % already before the pods were created' : undefined),
    step('canary', steps.canaryAt, unknown(steps.canaryAt, 'unknown')),
    step('100 %', steps.fullTrafficAt, steps.fullTrafficAt !== undefined ? undefined : rolledBack ? 'not reached: rolled back before' : end ? 'unknown' : 'not yet'),
  ];
  if (rolledBack) list.push(step('rolled back', end.at));
  else list.push(step('hold passed', end?.at, end ? undefined : 'not yet'));

  // Before a rollback, 100 % and hold passed never come; while under way, they are still to come.
  const pending = end ? undefined : now;
  const fullTraffic = steps.fullTrafficAt ?? (rolledBack ? NOT_REACHED : pending);
  const upTo = end?.at ?? pending;
  const deployment = span('deployment', 'deploy → 100 %', steps.deployedAt, fullTraffic, expected.deploymentSeconds, { running: fullTraffic === pending });
  const monitoring = span('monitoring window', `100 % → ${rolledBack ? 'rolled back' : 'hold passed'}`, steps.fullTrafficAt ?? (rolledBack ? NOT_REACHED : end ? undefined : NOT_YET), upTo, expected.monitoringSeconds, {
    running: upTo === pending,
    ...(rolledBack ? { closed: 'rolled back' as const } : {}),
  });
  const total = span('total', `deploy → ${rolledBack ? 'rolled back' : 'hold passed'}`, steps.deployedAt, upTo, expected.totalSeconds, { running: upTo === pending });
  return { candidate: steps.candidate, outcome: end?.outcome ?? 'in-progress', steps: list, durations: [deployment, monitoring, total] };
}

function step(name: StepName, at: Date | undefined, note?: string): ReportStep {
  return { step: name, at: at?.toISOString(), ...(note !== undefined ? { note } : {}) };
}

/** A step that will not come: the cutover was rolled back before it. */
const NOT_REACHED = 'not reached';
/** A step still to come in a cutover under way: what starts at it has not started. */
const NOT_YET = 'not yet';

/**
 * `running`: `to` is now, the step that ends it is still to come; it is measured so far, and over once past the
 * figure. `closed`: the mark of a duration a rollback ended, whatever its length.
 */
function span(
  name: ReportDuration['name'],
  label: string,
  from: Date | typeof NOT_REACHED | typeof NOT_YET | undefined,
  to: Date | typeof NOT_REACHED | undefined,
  expectedSeconds: number,
  how: { running: boolean; closed?: Mark },
): ReportDuration {
  const base = { name, span: label, expectedSeconds };
  if (from === NOT_REACHED || to === NOT_REACHED) return { ...base, seconds: undefined, mark: 'not reached' };
  if (from === NOT_YET) return { ...base, seconds: undefined, mark: 'not yet' };
  if (from === undefined || to === undefined) return { ...base, seconds: undefined, mark: 'unknown' };
  const seconds = Math.round((to.getTime() - from.getTime()) / 1000);
  const over = seconds > expectedSeconds;
  if (how.running) return { ...base, seconds, mark: over ? 'over' : 'running', running: true };
  return { ...base, seconds, mark: how.closed ?? (over ? 'over' : 'within') };
}

function isBefore(a: Date, b: Date | undefined): boolean {
  return b !== undefined && a.getTime() < b.getTime();
}

/** `3m05s`, `45s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function describeDuration(d: ReportDuration): string {
  const figure = `${d.name === 'total' ? '≤ ' : ''}${formatSeconds(d.expectedSeconds)}`;
  const value = d.seconds === undefined ? '' : `${formatSeconds(d.seconds)}${d.running ? ' so far' : ''} `;
  switch (d.mark) {
    case 'within':
      return `${value}within the seed's ${figure}`;
    case 'over':
      return `${value}over the seed's ${figure} by ${formatSeconds((d.seconds ?? 0) - d.expectedSeconds)}`;
    case 'running':
      return `${value}(seed: ${figure})`;
    case 'rolled back':
      return `${value}ended by the rollback (seed: ${figure})`;
    case 'not reached':
      return `not reached (seed: ${figure})`;
    case 'not yet':
      return `not yet (seed: ${figure})`;
    case 'unknown':
      return `unknown (seed: ${figure})`;
  }
}

/** The report as lines (no indentation), for `status` and the demo. */
export function renderReport(report: CutoverReport): string[] {
  const width = Math.max(...report.steps.map((s) => s.step.length));
  const lines = report.steps.map((s) => `${s.step.padEnd(width)}  ${s.at ?? '-'.padEnd(24)}${s.note ? `  ${s.at ? `(${s.note})` : s.note}` : ''}`.trimEnd());
  const nameWidth = Math.max(...report.durations.map((d) => `${d.name} (${d.span})`.length));
  for (const d of report.durations) lines.push(`${`${d.name} (${d.span})`.padEnd(nameWidth)}  ${describeDuration(d)}`);
  return lines;
}

/** One line for an Event: the known steps, then each duration against the seed. */
export function reportSummary(report: CutoverReport): string {
  const steps = report.steps.map((s) => `${s.step} ${s.at ? s.at.slice(11, 19) : s.note?.startsWith('not ') ? s.note.split(':')[0] : 'unknown'}`).join(', ');
  const durations = report.durations.map((d) => `${d.name} ${describeDuration(d)}`).join('; ');
  return `timeline (UTC): ${steps}. Against the seed's timeline: ${durations}`;
}

type Annotations = Readonly<Record<string, string>>;

/** The steps of the cutover under way, from the VirtualService's annotations and its cutover state. */
export function currentSteps(annotations: Annotations, state: CutoverState): CutoverSteps {
  const canaryAt = state.recorded ? state.cutoverStartedAt : undefined;
  const zero = time(annotations[ZERO_PERCENT_AT]);
  return {
    candidate: state.active[0]?.subset ?? nonEmpty(annotations[CANDIDATE_SUBSET]),
    // Written in the same patch as cutover-started-at: they belong to this cutover, or to none.
    deployedAt: canaryAt ? time(annotations[CANDIDATE_DEPLOYED_AT]) : undefined,
    readyAt: canaryAt ? time(annotations[CANDIDATE_READY_AT]) : undefined,
    // Seen at 0 % before this cutover's first traffic, and after the previous cutover ended.
    zeroPercentAt: zero && canaryAt && !isBefore(canaryAt, zero) && !isBefore(zero, latest(state.stableSince, state.rolledBackAt)) ? zero : undefined,
    canaryAt,
    fullTrafficAt: state.fullTrafficReachedAt,
  };
}

/** The last finished cutover, as recorded at its end (`bluegreen-guard.io/last-cutover`); undefined when absent or unreadable. */
export function lastCutover(annotations: Annotations): CutoverSteps | undefined {
  const raw = annotations[LAST_CUTOVER];
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const o = parsed as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const endAt = time(str(o.endedAt));
  const outcome = o.outcome === 'hold-passed' || o.outcome === 'rolled-back' ? o.outcome : undefined;
  return {
    candidate: str(o.candidate),
    deployedAt: time(str(o.deployedAt)),
    readyAt: time(str(o.readyAt)),
    zeroPercentAt: time(str(o.zeroPercentAt)),
    canaryAt: time(str(o.canaryAt)),
    fullTrafficAt: time(str(o.fullTrafficAt)),
    end: endAt && outcome ? { outcome, at: endAt } : undefined,
  };
}

/** The annotation that keeps a finished cutover's steps after its state annotations are cleared. */
export function lastCutoverAnnotation(steps: CutoverSteps): Record<string, string> {
  const iso = (d: Date | undefined) => d?.toISOString();
  const record = {
    candidate: steps.candidate,
    deployedAt: iso(steps.deployedAt),
    readyAt: iso(steps.readyAt),
    zeroPercentAt: iso(steps.zeroPercentAt),
    canaryAt: iso(steps.canaryAt),
    fullTrafficAt: iso(steps.fullTrafficAt),
    outcome: steps.end?.outcome,
    endedAt: iso(steps.end?.at),
  };
  return { [LAST_CUTOVER]: JSON.stringify(record) };
}

function latest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.getTime() >= b.getTime() ? a : b;
}
