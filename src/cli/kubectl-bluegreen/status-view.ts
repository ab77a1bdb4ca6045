// What `kubectl bluegreen status` shows, decided from the VirtualService (its
// routes and the annotations the watcher records), its Events and, when a
// Prometheus is given, the watcher's own rule evaluation. Pure: the command
// gathers the inputs, this file decides the phase, the exit code and the text.
import { ROLLBACK_LATCH, ROLLBACK_REASON } from '../../istio/annotations.js';
import type { Mesh } from '../../istio/mesh.js';
import { describeRevision, parseLatch } from '../../istio/rollback-latch.js';
import { routesOf } from '../../istio/routes.js';
import type { VirtualService } from '../../istio/types.js';
import { readCutoverState, type CutoverState } from '../../watcher/cutover-state.js';
import { currentSteps, cutoverReport, lastCutover, renderReport, type CutoverReport } from '../../watcher/cutover-report.js';
import { formatNumber } from '../../watcher/thresholds.js';
import type { Evaluation } from '../../watcher/verdict.js';
import { sparkline } from './sparkline.js';

export type Phase = 'Stable' | 'Canary' | 'FullTraffic' | 'RolledBack' | 'Blind';

export interface EventView {
  type: string;
  reason: string;
  message: string;
  at: string;
}

export interface RuleView {
  rule: string;
  status: string;
  value: number | null;
  threshold: number | null;
  message: string;
}

export interface StatusInput {
  vs: VirtualService;
  mesh: Pick<Mesh, 'clusterDomain' | 'defaultStableSubset'>;
  events: readonly EventView[];
  now: Date;
  /** The watcher's holdSeconds (the seed's 10-minute hold). */
  holdSeconds: number;
  /** The candidate's evaluation with the 5xx-ratio and p99 histories it was judged on; absent without Prometheus. */
  evaluation?: { version: string; result: Evaluation; errorRatioHistory: (number | null)[]; latencyP99MsHistory: (number | null)[] };
}

export interface CutoverStatus {
  namespace: string;
  name: string;
  phase: Phase;
  /** One line: `Canary 10 %`, `FullTraffic, hold 4m12s left`, `RolledBack: error-rate …`. */
  summary: string;
  stableSubset: string;
  candidate: string | undefined;
  canaryPercent: number | undefined;
  holdLeftSeconds: number | undefined;
  rollbackReason: string | undefined;
  /** The rollback latch: what the webhook keeps traffic away from until `kubectl bluegreen ack`. */
  latch: string | undefined;
  weights: { route: string; weights: Record<string, number> }[];
  rules: RuleView[];
  trends: { errorRatio: string; latencyP99Ms: string } | undefined;
  /** The steps the watcher's state annotations hold now. */
  timeline: { step: string; at: string }[];
  /** The cutover under way, or else the last finished one, against the seed's expected timeline; undefined when none is recorded. */
  report: CutoverReport | undefined;
  events: EventView[];
}

export function describeStatus(input: StatusInput): CutoverStatus {
  const { vs, now } = input;
  const state = readCutoverState(vs, input.mesh);
  const top = state.active[0];
  const reason = vs.metadata.annotations?.[ROLLBACK_REASON];
  let phase: Phase = phaseOf(state);
  const verdict = input.evaluation?.result.verdict;
  if (top && (verdict === 'no-data' || verdict === 'error')) phase = 'Blind';
  const holdLeftSeconds = phase === 'FullTraffic' && state.fullTrafficAt ? Math.max(0, input.holdSeconds - (now.getTime() - state.fullTrafficAt.getTime()) / 1000) : undefined;
  const summary = summaryOf(phase, state, holdLeftSeconds, reason, input.holdSeconds);
  return {
    namespace: vs.metadata.namespace,
    name: vs.metadata.name,
    phase,
    summary,
    stableSubset: state.roles.stableSubset,
    candidate: top?.subset ?? state.roles.candidateSubsets[0],
    canaryPercent: phase === 'Canary' ? top?.maxSharePercent : undefined,
    holdLeftSeconds,
    rollbackReason: phase === 'RolledBack' ? reason : undefined,
    latch: latchOf(vs),
    weights: routesOf(vs, input.mesh.clusterDomain)
      .filter((r) => r.destinations.length > 1 || r.destinations.some((d) => d.subset !== undefined))
      .map((r) => ({ route: r.label, weights: Object.fromEntries(r.destinations.map((d) => [d.subset ?? d.host, d.sharePercent])) })),
    rules: (input.evaluation?.result.findings ?? []).map((f) => ({ rule: f.rule, status: f.status, value: finite(f.value), threshold: finite(f.threshold), message: f.message })),
    trends: input.evaluation ? { errorRatio: sparkline(input.evaluation.errorRatioHistory), latencyP99Ms: sparkline(input.evaluation.latencyP99MsHistory) } : undefined,
    timeline: timelineOf(state),
    report: reportOf(vs, state, now),
    events: [...input.events].sort((a, b) => a.at.localeCompare(b.at)).slice(-5),
  };
}

/** `kubectl argo rollouts status` style: 0 healthy or promoted, 1 rolled back or degraded. */
export function exitCodeOf(status: CutoverStatus): 0 | 1 {
  return status.phase === 'RolledBack' || status.phase === 'Blind' || status.rules.some((r) => r.status === 'breached') ? 1 : 0;
}

/** Whether `--watch` can stop: the cutover ended one way or the other. */
export function isSettled(status: CutoverStatus): boolean {
  return status.phase === 'Stable' || status.phase === 'RolledBack';
}

function latchOf(vs: VirtualService): string | undefined {
  const value = vs.metadata.annotations?.[ROLLBACK_LATCH];
  if (value === undefined) return undefined;
  const parsed = parseLatch(value);
  if (!parsed.ok) return `unreadable (${parsed.problem})`;
  const held = parsed.entries.map((e) => `${e.subset}${e.revisions.length > 0 ? ` (${e.revisions.map(describeRevision).join(', ')})` : ''} since ${e.at}`);
  return `${held.join('; ')}: the webhook refuses traffic back until a new revision or kubectl bluegreen ack`;
}

function phaseOf(state: CutoverState): Phase {
  switch (state.phase) {
    case 'idle':
      return 'Stable';
    case 'rolled-back':
      return 'RolledBack';
    case 'cutover':
      return 'Canary';
    case 'full-traffic':
      return 'FullTraffic';
  }
}

function summaryOf(phase: Phase, state: CutoverState, holdLeftSeconds: number | undefined, reason: string | undefined, holdSeconds: number): string {
  const top = state.active[0];
  switch (phase) {
    case 'Stable':
      return `Stable on ${state.roles.stableSubset}`;
    case 'Canary':
      return `Canary ${top?.maxSharePercent ?? 0} % on ${top?.subset ?? '?'}`;
    case 'FullTraffic':
      return holdLeftSeconds === undefined ? `FullTraffic on ${top?.subset ?? '?'}, ${duration(holdSeconds)} hold not started (no judged cycle yet)` : `FullTraffic on ${top?.subset ?? '?'}, hold ${duration(holdLeftSeconds)} left`;
    case 'RolledBack':
      return `RolledBack to ${state.roles.stableSubset}${reason ? `: ${reason}` : ''}`;
    case 'Blind':
      return `Blind: no data for ${top?.subset ?? 'the candidate'}, the watcher cannot judge it`;
  }
}

function reportOf(vs: VirtualService, state: CutoverState, now: Date): CutoverReport | undefined {
  const annotations = vs.metadata.annotations ?? {};
  if (state.recorded && state.active.length > 0) return cutoverReport(currentSteps(annotations, state), now);
  const last = lastCutover(annotations);
  return last ? cutoverReport(last) : undefined;
}

function timelineOf(state: CutoverState): { step: string; at: string }[] {
  const steps: [string, Date | undefined][] = [
    ['cutover started', state.cutoverStartedAt],
    ['full traffic', state.fullTrafficAt],
    ['rolled back', state.rolledBackAt],
    ['stable since', state.stableSince],
  ];
  return steps.filter((s): s is [string, Date] => s[1] !== undefined).map(([step, at]) => ({ step, at: at.toISOString() })).sort((a, b) => a.at.localeCompare(b.at));
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function finite(n: number | null): number | null {
  return n !== null && Number.isFinite(n) ? n : null;
}

export function renderStatus(s: CutoverStatus): string {
  const lines = [`Name:        ${s.namespace}/${s.name}`, `Phase:       ${s.summary}`, `Stable:      ${s.stableSubset}`, `Candidate:   ${s.candidate ?? '-'}`];
  if (s.latch) lines.push(`Latch:       ${s.latch}`);
  lines.push('Weights:');
  for (const w of s.weights) lines.push(`  ${w.route.padEnd(22)} ${Object.entries(w.weights).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (s.rules.length > 0) {
    lines.push('Rules (candidate, as the watcher judges it):');
    for (const r of s.rules) lines.push(`  ${r.status.padEnd(8)} ${r.rule.padEnd(17)} value ${r.value === null ? 'none' : formatNumber(r.value)}  threshold ${r.threshold === null ? 'none' : formatNumber(r.threshold)}`);
  }
  if (s.trends) lines.push(`Trend:       5xx ratio ${s.trends.errorRatio}   p99 ${s.trends.latencyP99Ms}`);
  if (s.report) {
    const which = s.report.outcome === 'in-progress' ? 'this cutover' : `the last cutover (${s.report.outcome === 'hold-passed' ? 'hold passed' : 'rolled back'})`;
    lines.push(`Timeline of ${which}${s.report.candidate ? ` to ${s.report.candidate}` : ''}, against the seed's:`);
    for (const l of renderReport(s.report)) lines.push(`  ${l}`);
  } else if (s.timeline.length > 0) {
    lines.push('Timeline:');
    for (const t of s.timeline) lines.push(`  ${t.at}  ${t.step}`);
  }
  if (s.events.length > 0) {
    lines.push('Events:');
    for (const e of s.events) lines.push(`  ${e.at}  ${e.type.padEnd(7)} ${e.reason.padEnd(15)} ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}
