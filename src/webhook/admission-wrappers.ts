// Cross-cutting concerns around the rule core, each a wrapper composed where the
// admission route is registered (src/webhook/server.ts). The rule core itself
// knows nothing of HTTP, logs or metrics.
import { performance } from 'node:perf_hooks';
import type { AdmissionHandler, AdmissionOutcome, AdmissionWrapper, DecodedReview } from './admission.js';
import { errorText } from './admission-transport.js';
import { AUDIT_GUARD_SWITCH, AUDIT_GUARD_SWITCH_USER, type GuardSwitchVerdict } from './rules/guard-switches.js';
import type { Exemption, ReviewInput, ReviewVerdict, RuleId } from './verdict.js';

/** The rule core, seen from the transport: a pure function of the request. */
export type Judge = (input: ReviewInput) => ReviewVerdict;

/** The handler at the centre: requests the rules do not cover are skipped, malformed objects refused. */
export function judgeHandler(judge: Judge): AdmissionHandler {
  return (review) => {
    if (review.malformed !== undefined) return { kind: 'refused', code: 400, message: malformedMessage(review) };
    return review.input ? { kind: 'verdict', verdict: judge(review.input) } : { kind: 'skipped', reason: review.skipReason ?? 'not judged' };
  };
}

function malformedMessage(review: DecodedReview): string {
  const { kind, namespace, name } = review.subject;
  return `${kind} ${namespace}/${name} cannot be judged: ${review.malformed ?? 'malformed'}; bluegreen-guard refuses what it cannot read rather than let it pass unreviewed`;
}

/** Whether the requester may override a refusal (a member of a break-glass group, with a reason on the object). */
export type OverrideCheck = (input: ReviewInput) => { honoured: true; auditAnnotations: Record<string, string> } | { honoured: false };

/**
 * A review of a guarded kind that errored is answered as a denial, not as a
 * webhook failure: with failurePolicy Ignore the API server would admit it
 * unreviewed. Break-glass still overrides it, so a bug in the guard never
 * leaves the on-call engineer without a way through.
 */
export function withErroredAsRefused(override: OverrideCheck): AdmissionWrapper {
  return (next) => (review) => {
    const outcome = next(review);
    if (outcome.kind !== 'errored' || review.input === undefined) return outcome;
    const check = override(review.input);
    if (check.honoured) {
      return { kind: 'verdict', verdict: { allowed: true, findings: [], exemption: 'break-glass', auditAnnotations: check.auditAnnotations } };
    }
    return {
      kind: 'refused',
      code: 500,
      message: `${outcome.message}; refused because an unreviewed change could route traffic to a broken subset. Fix: retry; if it persists, report it and use break-glass (a member of a break-glass group with the bluegreen-guard.io/break-glass annotation)`,
    };
  };
}

/** How much one review may ask of the rules; past it the object is refused before any rule runs. */
export interface WorkBound {
  /** http + tls + tcp routes of one object. */
  maxRoutes: number;
  /** Destinations over all routes of one object (subsets for a DestinationRule). */
  maxDestinations: number;
  /** `match` entries over all routes of one object. */
  maxMatches: number;
}

export const DEFAULT_WORK_BOUND: WorkBound = { maxRoutes: 1_000, maxDestinations: 4_000, maxMatches: 4_000 };

/** Refuses objects larger than the bound; counting reads arrays two levels deep, never recursing. */
export function withWorkBound(bound: WorkBound): AdmissionWrapper {
  return (next) => (review) => {
    for (const obj of [review.input?.object, review.input?.oldObject]) {
      if (obj === undefined || (obj.kind !== 'VirtualService' && obj.kind !== 'DestinationRule')) continue;
      const over = overBound(obj.spec, bound);
      if (over !== undefined) {
        const { kind, namespace, name } = review.subject;
        return {
          kind: 'refused',
          code: 400,
          message: `${kind} ${namespace}/${name} has ${over.what}, more than one review may judge: split it into several objects, or raise admission.workBound.${over.key} in the webhook config if objects this large are expected`,
        };
      }
    }
    return next(review);
  };
}

function overBound(spec: Record<string, unknown>, bound: WorkBound): { what: string; key: keyof WorkBound } | undefined {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const field = (v: unknown, key: string): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined);
  const routes = [...list(spec.http), ...list(spec.tls), ...list(spec.tcp)];
  if (routes.length > bound.maxRoutes) return { what: `${routes.length} routes (limit ${bound.maxRoutes})`, key: 'maxRoutes' };
  let destinations = list(spec.subsets).length;
  let matches = 0;
  for (const r of routes) {
    destinations += list(field(r, 'route')).length;
    matches += list(field(r, 'match')).length;
  }
  if (destinations > bound.maxDestinations) return { what: `${destinations} destinations (limit ${bound.maxDestinations})`, key: 'maxDestinations' };
  if (matches > bound.maxMatches) return { what: `${matches} matches (limit ${bound.maxMatches})`, key: 'maxMatches' };
  return undefined;
}

/** Objects outside guarded namespaces (and not opted in) are allowed before any rule runs. */
export function withGuardFilter(isGuarded: (input: ReviewInput) => boolean): AdmissionWrapper {
  return (next) => (review) => {
    if (review.input && !isGuarded(review.input)) {
      return { kind: 'verdict', verdict: { allowed: true, findings: [], exemption: 'not-guarded', auditAnnotations: {} } };
    }
    return next(review);
  };
}

/**
 * The guard's own switches (guard-off annotation, a stable subset named on
 * CREATE) are judged before the guard filter, which would otherwise honour
 * the very annotation being added. An honoured use is audited on the answer.
 */
export function withGuardSwitches(judge: (input: ReviewInput) => GuardSwitchVerdict): AdmissionWrapper {
  return (next) => (review) => {
    if (!review.input) return next(review);
    const verdict = judge(review.input);
    if (verdict.kind === 'none') return next(review);
    if (verdict.kind === 'refused') return { kind: 'refused', code: 403, message: verdict.message, auditAnnotations: { [AUDIT_GUARD_SWITCH]: `refused: ${verdict.switches.join(', ')}` } };
    const audit = { [AUDIT_GUARD_SWITCH]: `${verdict.switches.join(', ')} (group ${verdict.group})`, [AUDIT_GUARD_SWITCH_USER]: review.input.requester.username };
    const outcome = next(review);
    return outcome.kind === 'verdict' ? { kind: 'verdict', verdict: { ...outcome.verdict, auditAnnotations: { ...outcome.verdict.auditAnnotations, ...audit } } } : outcome;
  };
}

/** A throw inside the rules becomes an errored response that keeps the uid; the server keeps serving. */
export function withErrorsAsErrored(): AdmissionWrapper {
  return (next) => (review) => {
    try {
      return next(review);
    } catch (e) {
      const { kind, namespace, name } = review.subject;
      return { kind: 'errored', code: 500, message: `reviewing ${kind} ${namespace}/${name} failed: ${errorText(e)}` };
    }
  };
}

export type OutcomeLabel = 'allowed' | 'warned' | 'denied' | 'exempt' | 'skipped' | 'refused' | 'errored';

export interface OutcomeSummary {
  outcome: OutcomeLabel;
  /** Distinct rules with a finding, in order of first appearance. */
  rules: RuleId[];
  /** The rule that decided: the first denying rule, else the first warning one, else `none`. */
  decidingRule: RuleId | 'none';
  exemption?: Exemption;
}

export function summarize(outcome: AdmissionOutcome): OutcomeSummary {
  if (outcome.kind !== 'verdict') return { outcome: outcome.kind, rules: [], decidingRule: 'none' };
  const { verdict } = outcome;
  const rules: RuleId[] = [];
  for (const f of verdict.findings) if (!rules.includes(f.rule)) rules.push(f.rule);
  const firstDeny = verdict.findings.find((f) => f.severity === 'deny')?.rule;
  const decidingRule = (verdict.allowed ? rules[0] : (firstDeny ?? rules[0])) ?? 'none';
  const outcomeLabel: OutcomeLabel = !verdict.allowed
    ? 'denied'
    : verdict.exemption !== undefined
      ? 'exempt'
      : verdict.findings.length > 0
        ? 'warned'
        : 'allowed';
  const summary: OutcomeSummary = { outcome: outcomeLabel, rules, decidingRule };
  if (verdict.exemption !== undefined) summary.exemption = verdict.exemption;
  return summary;
}

/** One log line per review, with constant keys. */
export interface ReviewLogLine {
  uid: string;
  kind: string;
  namespace: string;
  name: string;
  operation: string;
  dryRun: boolean;
  verdict: OutcomeLabel;
  rules: RuleId[];
  exemption?: Exemption;
  latencyMs: number;
  /** Why the review was skipped or errored. */
  reason?: string;
}

export function withReviewLog(write: (line: ReviewLogLine) => void): AdmissionWrapper {
  return (next) => (review) => {
    const outcome = next(review);
    write(logLine(review, outcome));
    return outcome;
  };
}

function logLine(review: DecodedReview, outcome: AdmissionOutcome): ReviewLogLine {
  const { uid, kind, namespace, name, operation, dryRun } = review.subject;
  const summary = summarize(outcome);
  const line: ReviewLogLine = {
    uid,
    kind,
    namespace,
    name,
    operation,
    dryRun,
    verdict: summary.outcome,
    rules: summary.rules,
    latencyMs: Math.round((performance.now() - review.receivedAtMs) * 1000) / 1000,
  };
  if (summary.exemption !== undefined) line.exemption = summary.exemption;
  if (outcome.kind === 'skipped') line.reason = outcome.reason;
  if (outcome.kind === 'errored' || outcome.kind === 'refused') line.reason = outcome.message;
  return line;
}

/** Apply wrappers outermost first: `compose([a, b], h)` is `a(b(h))`. */
export function compose(wrappers: readonly AdmissionWrapper[], handler: AdmissionHandler): AdmissionHandler {
  return wrappers.reduceRight((inner, wrap) => wrap(inner), handler);
}
