// The rule core: one admission request in, one verdict out. Pure and
// synchronous: cluster state comes in through the ClusterState port (watch
// caches in the webhook, files in `preflight`), so both give the same verdict.
import { DRILL_IN_PROGRESS } from '../istio/annotations.js';
import type { ClusterState } from '../cluster/cluster-state.js';
import { objectRef, type DestinationRule, type IstioObject, type VirtualService } from '../istio/types.js';
import type { RulesConfig } from './rules-config.js';
import { applyBreakGlass, AUDIT_RULE_MODES_IGNORED, reviewModes, toFinding, verdictOf } from './review-steps.js';
import { checkCanaryFirst } from './rules/canary-first.js';
import { analyseChange, analyseDelete, subsetName, type VsChange } from './rules/change.js';
import { Lookup, type VsRuleInput } from './rules/context.js';
import { analyseDrChange } from './rules/dr-change.js';
import { checkDestinationPorts } from './rules/destination-port.js';
import { checkDrHost } from './rules/dr-host.js';
import { checkHostConflict } from './rules/host-conflict.js';
import type { Issue } from './rules/issue.js';
import { checkJobs } from './rules/jobs.js';
import { checkMetricsScraped } from './rules/metrics-scraped.js';
import { checkPodsReady } from './rules/pods-ready.js';
import { checkProbes } from './rules/probes.js';
import { judgeLatchEdit } from './rules/latch-ack.js';
import { checkRollbackLatch } from './rules/rollback-latch.js';
import { checkSmokePassed } from './rules/smoke-passed.js';
import type { ScrapeStatus } from './rules/scrape-status.js';
import { checkSubsetExists } from './rules/subset-exists.js';
import { checkSubsetInUse } from './rules/subset-in-use.js';
import { checkRelabeledSubsetsSelectPods } from './rules/subset-relabel.js';
import { checkSubsetSelectsPods } from './rules/subset-selects-pods.js';
import { checkVersionLabels } from './rules/version-labels.js';
import { checkWeights } from './rules/weights.js';
import { checkUnreachableRoutes } from './rules/unreachable-route.js';
import { checkZeroStart } from './rules/zero-start.js';
import { checkRelabelCutover } from './rules/relabel-cutover.js';
import type { AdmittedObject, Finding, ReviewInput, ReviewVerdict } from './verdict.js';

export type { ScrapeStatus } from './rules/scrape-status.js';

export { AUDIT_RULE_MODES, AUDIT_RULE_MODES_IGNORED } from './review-steps.js';

type VsRule = (input: VsRuleInput) => Issue[];

/** Judged on every VirtualService change. */
const STRUCTURAL_RULES: readonly VsRule[] = [checkSubsetExists, checkWeights, checkHostConflict, checkDestinationPorts, checkUnreachableRoutes];
/** Judged only on a cutover (a change after which some candidate's reachable traffic may grow). */
const CUTOVER_RULES: readonly VsRule[] = [checkSubsetSelectsPods, checkVersionLabels, checkProbes, checkPodsReady, checkZeroStart, checkMetricsScraped, checkCanaryFirst, checkRollbackLatch, checkSmokePassed, checkJobs];

export function review(input: ReviewInput, state: ClusterState, config: RulesConfig, scrape?: ScrapeStatus): ReviewVerdict {
  const subject = input.object ?? input.oldObject;
  if (!subject || !isIstioKind(subject) || input.operation === 'CONNECT') return { allowed: true, findings: [], auditAnnotations: {} };
  // The watcher's rollbacks and records are exempt; a drill's raise of a candidate (it carries
  // DRILL_IN_PROGRESS) is a cutover like anyone's and is judged.
  if (config.watcherUsernames.includes(input.requester.username) && !isDrillRaise(input.object)) {
    return { allowed: true, findings: [], exemption: 'watcher', auditAnnotations: {} };
  }

  const object = objectRef(subject);
  const { modes, modeFindings, refused, ignored, auditAnnotations } = reviewModes(subject, input.oldObject, input.operation, state, config, object, input.requester);

  const issues: Issue[] = [];
  let change: VsChange | undefined;
  if (subject.kind === 'VirtualService') {
    if (input.operation !== 'DELETE' && input.object?.kind === 'VirtualService') {
      const old = input.oldObject?.kind === 'VirtualService' ? input.oldObject : undefined;
      change = analyseChange(input.object, old, config);
      issues.push(...judgeVirtualService(input.object, old, change, state, config, scrape, input.nowMs));
    } else if (input.operation === 'DELETE' && input.oldObject?.kind === 'VirtualService' && !isCleanupDelete(input, state)) {
      // The hosts fall back to the Service: every version behind it gets traffic.
      change = analyseDelete(input.oldObject, config);
      if (change.cutover) issues.push(...judgeVirtualService(input.oldObject, undefined, change, state, config, scrape, input.nowMs, CUTOVER_RULES));
    }
  } else {
    const next = input.operation === 'DELETE' ? undefined : asDestinationRule(input.object);
    if (next) issues.push(...checkDrHost(next, state, config, object));
    const drChange = analyseDrChange(next, asDestinationRule(input.oldObject), state, config.clusterDomain);
    if (drChange) {
      issues.push(...checkSubsetInUse(input.operation, drChange, config));
      issues.push(...checkRelabeledSubsetsSelectPods(input.operation, drChange, state, config));
      issues.push(...checkRelabelCutover(drChange, state, config, scrape, input.nowMs, (vsInput) => RELABEL_RULES.flatMap((rule) => rule(vsInput))));
    }
  }

  // A malformed mode annotation is always reported, even for a rule that is off.
  let findings: Finding[] = [...modeFindings, ...issues.flatMap((i) => toFinding(i, modes))];
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

  const glass = applyBreakGlass(findings, subject, input.requester, config, auditAnnotations);
  if (glass.overridden) exemption = 'break-glass';
  return verdictOf(glass.findings, exemption, auditAnnotations);
}

/**
 * A routed subset relabelled by a DestinationRule change: the pods it selects afterwards are judged as a cutover
 * (subset-selects-pods has its own DestinationRule form), the rollback latch included: a relabel onto a
 * rolled-back revision's pods is refused as a VirtualService cutover to them is.
 */
const RELABEL_RULES: readonly VsRule[] = [checkVersionLabels, checkProbes, checkPodsReady, checkMetricsScraped, checkRollbackLatch, checkJobs];

/** Identities that delete objects as the consequence of an earlier delete (a namespace, an owner): denying them only wedges them. */
const CLEANUP_USERNAMES = ['system:serviceaccount:kube-system:namespace-controller', 'system:serviceaccount:kube-system:generic-garbage-collector'];

/** A delete by the namespace controller or the garbage collector, or in a namespace being deleted: never denied. */
export function isCleanupDelete(input: ReviewInput, state: ClusterState): boolean {
  const namespace = input.oldObject?.metadata.namespace;
  return CLEANUP_USERNAMES.includes(input.requester.username) || (namespace !== undefined && state.namespace(namespace)?.terminating === true);
}

function judgeVirtualService(
  vs: VirtualService,
  old: VirtualService | undefined,
  change: VsChange,
  state: ClusterState,
  config: RulesConfig,
  scrape: ScrapeStatus | undefined,
  nowMs: number | undefined,
  only?: readonly VsRule[],
): Issue[] {
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
  const rules = only ?? (change.cutover ? [...STRUCTURAL_RULES, ...CUTOVER_RULES] : STRUCTURAL_RULES);
  return rules.flatMap((rule) => rule(input));
}

function isIstioKind(o: AdmittedObject): o is IstioObject {
  return o.kind === 'VirtualService' || o.kind === 'DestinationRule';
}

function asDestinationRule(o: AdmittedObject | undefined): DestinationRule | undefined {
  return o?.kind === 'DestinationRule' ? o : undefined;
}

function isDrillRaise(object: ReviewInput['object']): boolean {
  return object?.kind === 'VirtualService' && object.metadata.annotations?.[DRILL_IN_PROGRESS] !== undefined;
}
