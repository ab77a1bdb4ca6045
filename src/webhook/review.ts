// The rule core: one admission request in, one verdict out. Pure and
// synchronous: cluster state comes in through the ClusterState port (watch
// caches in the webhook, files in `preflight`), so both give the same verdict.
import type { ClusterState } from '../cluster/cluster-state.js';
import { RULE_MODES } from '../istio/annotations.js';
import { objectRef, type DestinationRule, type IstioObject, type VirtualService } from '../istio/types.js';
import type { RulesConfig } from './rules-config.js';
import {
  AUDIT_BREAK_GLASS_OVERRIDDEN,
  AUDIT_BREAK_GLASS_REASON,
  AUDIT_BREAK_GLASS_REFUSED,
  AUDIT_BREAK_GLASS_USER,
  breakGlass,
} from './rules/break-glass.js';
import { checkCanaryFirst } from './rules/canary-first.js';
import { analyseChange, subsetName, type VsChange } from './rules/change.js';
import { Lookup, type VsRuleInput } from './rules/context.js';
import { analyseDrChange } from './rules/dr-change.js';
import { checkDestinationPorts } from './rules/destination-port.js';
import { checkDrHost } from './rules/dr-host.js';
import { checkHostConflict } from './rules/host-conflict.js';
import type { Issue } from './rules/issue.js';
import { checkJobs } from './rules/jobs.js';
import { checkMetricsScraped } from './rules/metrics-scraped.js';
import { resolveModes, type Modes } from './rules/modes.js';
import { checkPodsReady } from './rules/pods-ready.js';
import { checkProbes } from './rules/probes.js';
import { judgeLatchEdit } from './rules/latch-ack.js';
import { checkRollbackLatch } from './rules/rollback-latch.js';
import type { ScrapeStatus } from './rules/scrape-status.js';
import { checkSubsetExists } from './rules/subset-exists.js';
import { checkSubsetInUse } from './rules/subset-in-use.js';
import { checkRelabeledSubsetsSelectPods } from './rules/subset-relabel.js';
import { checkSubsetSelectsPods } from './rules/subset-selects-pods.js';
import { checkVersionLabels } from './rules/version-labels.js';
import { checkWeights } from './rules/weights.js';
import { checkZeroStart } from './rules/zero-start.js';
import type { Finding, ReviewInput, ReviewVerdict } from './verdict.js';

export type { ScrapeStatus } from './rules/scrape-status.js';

/** Audit annotation recording a rule-mode override carried by the object itself. */
export const AUDIT_RULE_MODES = 'rule-modes';
/** Audit annotation recording the object's loosening overrides that were not honoured (`probes=off`). */
export const AUDIT_RULE_MODES_IGNORED = 'rule-modes-ignored';

type VsRule = (input: VsRuleInput) => Issue[];

/** Judged on every VirtualService change. */
const STRUCTURAL_RULES: readonly VsRule[] = [checkSubsetExists, checkWeights, checkHostConflict, checkDestinationPorts];
/** Judged only on a cutover (a change that raises some candidate's share). */
const CUTOVER_RULES: readonly VsRule[] = [checkSubsetSelectsPods, checkVersionLabels, checkProbes, checkPodsReady, checkZeroStart, checkMetricsScraped, checkCanaryFirst, checkRollbackLatch, checkJobs];

export function review(input: ReviewInput, state: ClusterState, config: RulesConfig, scrape?: ScrapeStatus): ReviewVerdict {
  const subject = input.object ?? input.oldObject;
  if (!subject || !isIstioKind(subject) || input.operation === 'CONNECT') return { allowed: true, findings: [], auditAnnotations: {} };
  if (config.watcherUsernames.includes(input.requester.username)) {
    return { allowed: true, findings: [], exemption: 'watcher', auditAnnotations: {} };
  }

  const object = objectRef(subject);
  const { namespace, name } = subject.metadata;
  const ns = state.namespace(namespace);
  const { modes, issues: modeIssues, refused, ignored } = resolveModes(
    config,
    { name: `Namespace ${namespace}`, annotations: ns?.metadata.annotations },
    {
      name: `${subject.kind} ${namespace}/${name}`,
      annotations: subject.metadata.annotations,
      before: input.operation === 'CREATE' ? undefined : (input.oldObject?.metadata.annotations ?? {}),
    },
    object,
    input.requester,
  );
  const auditAnnotations: Record<string, string> = {};
  const objectModes = subject.metadata.annotations?.[RULE_MODES];
  if (objectModes !== undefined) auditAnnotations[AUDIT_RULE_MODES] = objectModes;
  if (ignored.length > 0) auditAnnotations[AUDIT_RULE_MODES_IGNORED] = ignored.join(',');

  const issues: Issue[] = [];
  let change: VsChange | undefined;
  if (subject.kind === 'VirtualService') {
    if (input.operation !== 'DELETE' && input.object?.kind === 'VirtualService') {
      const old = input.oldObject?.kind === 'VirtualService' ? input.oldObject : undefined;
      change = analyseChange(input.object, old, config);
      issues.push(...judgeVirtualService(input.object, old, change, state, config, scrape, input.nowMs));
    }
  } else {
    const next = input.operation === 'DELETE' ? undefined : asDestinationRule(input.object);
    if (next) issues.push(...checkDrHost(next, state, config, object));
    const drChange = analyseDrChange(next, asDestinationRule(input.oldObject), state, config.clusterDomain);
    if (drChange) {
      issues.push(...checkSubsetInUse(input.operation, drChange, config));
      issues.push(...checkRelabeledSubsetsSelectPods(input.operation, drChange, state, config));
    }
  }

  // A malformed mode annotation is always reported, even for a rule that is off.
  let findings: Finding[] = [
    ...modeIssues.map((i): Finding => ({ rule: i.rule, severity: 'warn', object: i.object, message: i.message })),
    ...issues.flatMap((i) => toFinding(i, modes)),
  ];
  let exemption: ReviewVerdict['exemption'];

  if (change?.rollback && findings.some((f) => f.severity === 'deny')) {
    const raised = change.subsets.filter((s) => s.role === 'stable' && s.raised).map(subsetName);
    const note = ` (Allowed anyway: this change shifts traffic back to the stable ${raised.join(', ')}, and a rollback is never blocked.)`;
    findings = findings.map((f) => (f.severity === 'deny' ? { ...f, severity: 'warn', message: f.message + note } : f));
    exemption = 'rollback';
  }
  // A rollback is never blocked, not even by an override it carries: the refusal becomes a warning, and
  // the audit annotation rule-modes-ignored records that the entry arrived with a rollback.
  const refusedFindings = refused.flatMap((i) => toFinding(i, modes)).map((f) =>
    change?.rollback && f.severity === 'deny'
      ? { ...f, severity: 'warn' as const, message: `${f.message} (Allowed anyway: this change shifts traffic back to the stable subset, and a rollback is never blocked. Remove the entry afterwards: left on the object, later changes would honour it.)` }
      : f,
  );
  if (change?.rollback && refused.length > 0) {
    auditAnnotations[AUDIT_RULE_MODES_IGNORED] = `${ignored.join(',')} (arrived with a rollback)`;
    exemption = 'rollback';
  }
  findings = [...refusedFindings, ...findings];
  // After the rollback exemption: clearing the latch is not made a warning by riding along with a rollback.
  if (input.operation === 'UPDATE' && input.object?.kind === 'VirtualService' && input.oldObject?.kind === 'VirtualService') {
    const edit = judgeLatchEdit(input.object, input.oldObject, input.requester, config, object);
    findings.push(...edit.issues.flatMap((i) => toFinding(i, modes)));
    Object.assign(auditAnnotations, edit.audit);
  }

  const glass = breakGlass(subject.metadata.annotations, input.requester, config);
  if (glass.kind === 'honoured') {
    const overridden = [...new Set(findings.filter((f) => f.severity === 'deny').map((f) => f.rule))];
    auditAnnotations[AUDIT_BREAK_GLASS_REASON] = glass.reason;
    auditAnnotations[AUDIT_BREAK_GLASS_USER] = `${input.requester.username} (group ${glass.group})`;
    auditAnnotations[AUDIT_BREAK_GLASS_OVERRIDDEN] = overridden.length > 0 ? overridden.join(',') : 'none';
    if (overridden.length > 0) {
      const note = ` (Overridden by break-glass: "${glass.reason}", by ${input.requester.username}. Remove the break-glass annotation once the emergency is over.)`;
      findings = findings.map((f) => (f.severity === 'deny' ? { ...f, severity: 'warn', message: f.message + note } : f));
      exemption = 'break-glass';
    }
  } else if (glass.kind === 'refused') {
    auditAnnotations[AUDIT_BREAK_GLASS_REFUSED] = glass.why;
    const note = ` The break-glass annotation was not honoured: ${glass.why}.`;
    findings = findings.map((f) => (f.severity === 'deny' ? { ...f, message: f.message + note } : f));
  }

  const allowed = !findings.some((f) => f.severity === 'deny');
  return { allowed, findings, ...(exemption ? { exemption } : {}), auditAnnotations };
}

function judgeVirtualService(vs: VirtualService, old: VirtualService | undefined, change: VsChange, state: ClusterState, config: RulesConfig, scrape: ScrapeStatus | undefined, nowMs: number | undefined): Issue[] {
  const input: VsRuleInput = {
    vs,
    old,
    object: objectRef(vs),
    name: `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`,
    change,
    lookup: new Lookup(state, config),
    config,
    scrape,
    nowMs,
  };
  // A change that raises no candidate's share is not a cutover: only the structural rules apply.
  const rules = change.cutover ? [...STRUCTURAL_RULES, ...CUTOVER_RULES] : STRUCTURAL_RULES;
  return rules.flatMap((rule) => rule(input));
}

function toFinding(issue: Issue, modes: Modes): Finding[] {
  const mode = modes[issue.rule];
  if (mode === 'off') return [];
  const severity = issue.advisory || mode === 'warn' ? 'warn' : 'deny';
  return [{ rule: issue.rule, severity, object: issue.object, message: issue.message }];
}

function isIstioKind(o: IstioObject): boolean {
  return o.kind === 'VirtualService' || o.kind === 'DestinationRule';
}

function asDestinationRule(o: IstioObject | undefined): DestinationRule | undefined {
  return o?.kind === 'DestinationRule' ? o : undefined;
}
