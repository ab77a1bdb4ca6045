// The steps every review shares, whatever kind of object it judges: the rule
// modes in force (global config, the Namespace's annotation, the object's own),
// issues turned into findings at those modes, and break-glass applied after
// judging. Each is a small pure step, so review() (Istio objects) and
// reviewWorkload() (Deployments, Pods, Services) compose the same ones.
import type { ClusterState } from '../cluster/cluster-state.js';
import { RULE_MODES } from '../istio/annotations.js';
import type { ObjectMeta } from '../istio/types.js';
import type { RulesConfig } from './rules-config.js';
import {
  AUDIT_BREAK_GLASS_OVERRIDDEN,
  AUDIT_BREAK_GLASS_REASON,
  AUDIT_BREAK_GLASS_REFUSED,
  AUDIT_BREAK_GLASS_USER,
  breakGlass,
} from './rules/break-glass.js';
import type { Issue } from './rules/issue.js';
import { resolveModes, type Modes } from './rules/modes.js';
import type { Exemption, Finding, Requester, ReviewVerdict } from './verdict.js';

/** Audit annotation recording a rule-mode override carried by the object itself. */
export const AUDIT_RULE_MODES = 'rule-modes';
/** Audit annotation recording the object's loosening overrides that were not honoured (`probes=off`). */
export const AUDIT_RULE_MODES_IGNORED = 'rule-modes-ignored';

export interface ReviewedObject {
  kind: string;
  metadata: Pick<ObjectMeta, 'name' | 'namespace' | 'annotations'>;
}

export interface ReviewModes {
  modes: Modes;
  /** Malformed mode annotations: always reported, as warnings, even for a rule that is off. */
  modeFindings: Finding[];
  /** Loosening entries of the object's annotation that were not honoured, at the rule's inherited mode. */
  refused: Issue[];
  /** The refused entries as written (`probes=off`). */
  ignored: string[];
  auditAnnotations: Record<string, string>;
}

/** The modes a review of `subject` runs under; `before` is the object as stored now (undefined on a CREATE). */
export function reviewModes(
  subject: ReviewedObject,
  before: ReviewedObject | undefined,
  operation: string,
  state: ClusterState,
  config: RulesConfig,
  object: string,
  requester: Requester,
): ReviewModes {
  const { namespace, name } = subject.metadata;
  const ns = state.namespace(namespace);
  const { modes, issues, refused, ignored } = resolveModes(
    config,
    { name: `Namespace ${namespace}`, annotations: ns?.metadata.annotations },
    {
      name: `${subject.kind} ${namespace}/${name}`,
      annotations: subject.metadata.annotations,
      before: operation === 'CREATE' ? undefined : (before?.metadata.annotations ?? {}),
    },
    object,
    requester,
  );
  const auditAnnotations: Record<string, string> = {};
  const objectModes = subject.metadata.annotations?.[RULE_MODES];
  if (objectModes !== undefined) auditAnnotations[AUDIT_RULE_MODES] = objectModes;
  if (ignored.length > 0) auditAnnotations[AUDIT_RULE_MODES_IGNORED] = ignored.join(',');
  const modeFindings = issues.map((i): Finding => ({ rule: i.rule, severity: 'warn', object: i.object, message: i.message }));
  return { modes, modeFindings, refused, ignored, auditAnnotations };
}

/** An issue at its rule's mode: `off` drops it, `warn` (or an advisory issue) warns, `deny` denies. */
export function toFinding(issue: Issue, modes: Modes): Finding[] {
  const mode = modes[issue.rule];
  if (mode === 'off') return [];
  const severity = issue.advisory || mode === 'warn' ? 'warn' : 'deny';
  return [{ rule: issue.rule, severity, object: issue.object, message: issue.message }];
}

/**
 * Break-glass on the object, after judging: an honoured annotation turns the
 * denials into warnings; a refused one says why on each denial. Either way the
 * audit log records it (written into `auditAnnotations`).
 */
export function applyBreakGlass(
  findings: Finding[],
  subject: ReviewedObject,
  requester: Requester,
  config: RulesConfig,
  auditAnnotations: Record<string, string>,
): { findings: Finding[]; overridden: boolean } {
  const glass = breakGlass(subject.metadata.annotations, requester, config);
  if (glass.kind === 'honoured') {
    const overridden = [...new Set(findings.filter((f) => f.severity === 'deny').map((f) => f.rule))];
    auditAnnotations[AUDIT_BREAK_GLASS_REASON] = glass.reason;
    auditAnnotations[AUDIT_BREAK_GLASS_USER] = `${requester.username} (group ${glass.group})`;
    auditAnnotations[AUDIT_BREAK_GLASS_OVERRIDDEN] = overridden.length > 0 ? overridden.join(',') : 'none';
    if (overridden.length === 0) return { findings, overridden: false };
    const note = ` (Overridden by break-glass: "${glass.reason}", by ${requester.username}. Remove the break-glass annotation once the emergency is over.)`;
    return { findings: findings.map((f) => (f.severity === 'deny' ? { ...f, severity: 'warn', message: f.message + note } : f)), overridden: true };
  }
  if (glass.kind === 'refused') {
    auditAnnotations[AUDIT_BREAK_GLASS_REFUSED] = glass.why;
    const note = ` The break-glass annotation was not honoured: ${glass.why}.`;
    return { findings: findings.map((f) => (f.severity === 'deny' ? { ...f, message: f.message + note } : f)), overridden: false };
  }
  return { findings, overridden: false };
}

/** The verdict: denied when any finding denies. */
export function verdictOf(findings: Finding[], exemption: Exemption | undefined, auditAnnotations: Record<string, string>): ReviewVerdict {
  const allowed = !findings.some((f) => f.severity === 'deny');
  return { allowed, findings, ...(exemption ? { exemption } : {}), auditAnnotations };
}
