// Cross-cutting concerns around the rule core, each a wrapper composed where the
// admission route is registered (src/webhook/server.ts). The rule core itself
// knows nothing of HTTP, logs or metrics.
import { performance } from 'node:perf_hooks';
import type { AdmissionHandler, AdmissionOutcome, AdmissionWrapper, DecodedReview } from './admission.js';
import { errorText } from './admission-transport.js';
import type { Exemption, ReviewInput, ReviewVerdict, RuleId } from './verdict.js';

/** The rule core, seen from the transport: a pure function of the request. */
export type Judge = (input: ReviewInput) => ReviewVerdict;

/** The handler at the centre: requests the rules do not cover are skipped. */
export function judgeHandler(judge: Judge): AdmissionHandler {
  return (review) =>
    review.input ? { kind: 'verdict', verdict: judge(review.input) } : { kind: 'skipped', reason: review.skipReason ?? 'not judged' };
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

export type OutcomeLabel = 'allowed' | 'warned' | 'denied' | 'exempt' | 'skipped' | 'errored';

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
  if (outcome.kind === 'errored') line.reason = outcome.message;
  return line;
}

/** Apply wrappers outermost first: `compose([a, b], h)` is `a(b(h))`. */
export function compose(wrappers: readonly AdmissionWrapper[], handler: AdmissionHandler): AdmissionHandler {
  return wrappers.reduceRight((inner, wrap) => wrap(inner), handler);
}
