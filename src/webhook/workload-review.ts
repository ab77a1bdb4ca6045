// The rule core for workloads: a Deployment CREATE/UPDATE (its pod template
// labels), a Pod's label change or a Service's selector change, judged by the
// traffic it moves (src/webhook/rules/workload-change.ts). Like review(), pure
// and synchronous over the ClusterState port, and built from the same steps:
// the rule modes, the watcher's exemption, break-glass and audit annotations
// come from src/webhook/review-steps.ts.
import type { ClusterState } from '../cluster/cluster-state.js';
import { slimDeployment, slimMeta, slimPod, slimService } from '../cluster/slim.js';
import { objectRef } from '../istio/types.js';
import { isGuarded } from '../istio/guard.js';
import { keepPreviousIssues } from './deployment-scale.js';
import { review } from './review.js';
import { applyBreakGlass, reviewModes, toFinding, verdictOf } from './review-steps.js';
import type { RulesConfig } from './rules-config.js';
import type { ScrapeStatus } from './rules/scrape-status.js';
import { analyseWorkloadChange, type WorkloadChange } from './rules/workload-change.js';
import { WORKLOAD_RULES, type WorkloadRule } from './rules/workload-rules.js';
import type { AdmittedObject, Finding, ReviewInput, ReviewVerdict, WorkloadObject } from './verdict.js';

/** The workload kinds the webhook judges, by API group and version, as the API server names them. */
export const WORKLOAD_KINDS: readonly { group: string; version: string; kind: WorkloadObject['kind'] }[] = [
  { group: 'apps', version: 'v1', kind: 'Deployment' },
  { group: '', version: 'v1', kind: 'Pod' },
  { group: '', version: 'v1', kind: 'Service' },
];

export function isWorkloadKind(group: string, version: string, kind: string): boolean {
  return WORKLOAD_KINDS.some((k) => k.group === group && k.version === version && k.kind === kind);
}

export function isWorkloadObject(o: AdmittedObject): o is WorkloadObject {
  return o.kind === 'Deployment' || o.kind === 'Pod' || o.kind === 'Service';
}

/** A workload from an AdmissionReview, slimmed as the caches slim it but with its annotations (modes, break-glass). */
export function slimAdmittedWorkload(raw: Record<string, unknown>): WorkloadObject {
  const slimmed = raw.kind === 'Deployment' ? slimDeployment(raw) : raw.kind === 'Pod' ? slimPod(raw) : slimService(raw);
  const annotations = slimMeta(raw.metadata, true).annotations;
  if (annotations) slimmed.metadata.annotations = annotations;
  return slimmed;
}

/** The one judge behind the admission seam and `preflight`: workloads to reviewWorkload, Istio objects to review. */
export function judgeAdmission(input: ReviewInput, state: ClusterState, config: RulesConfig, scrape?: ScrapeStatus): ReviewVerdict {
  const subject = input.object ?? input.oldObject;
  return subject && isWorkloadObject(subject) ? reviewWorkload(input, state, config) : review(input, state, config, scrape);
}

function changeOf(input: ReviewInput): WorkloadChange | undefined {
  const next = input.object ?? input.oldObject;
  const previous = input.operation === 'CREATE' ? undefined : input.oldObject;
  if (next?.kind === 'Deployment') return { kind: 'Deployment', next, previous: previous?.kind === 'Deployment' ? previous : undefined };
  if (next?.kind === 'Pod') return { kind: 'Pod', next, previous: previous?.kind === 'Pod' ? previous : undefined };
  if (next?.kind === 'Service') return { kind: 'Service', next, previous: previous?.kind === 'Service' ? previous : undefined };
  return undefined;
}

export function reviewWorkload(input: ReviewInput, state: ClusterState, config: RulesConfig, rules: readonly WorkloadRule[] = WORKLOAD_RULES): ReviewVerdict {
  const subject = input.object ?? input.oldObject;
  const change = changeOf(input);
  if (!subject || !change || input.operation === 'CONNECT') return { allowed: true, findings: [], auditAnnotations: {} };
  if (config.watcherUsernames.includes(input.requester.username)) {
    return { allowed: true, findings: [], exemption: 'watcher', auditAnnotations: {} };
  }
  const object = objectRef(subject);
  const keep = keepPreviousIssues(input, state, config);
  const { modes, modeFindings, refused, auditAnnotations } = reviewModes(subject, input.oldObject, input.operation, state, config, object, input.requester);
  // A delete only takes pods away from subsets: it moves no traffic to an unchecked workload.
  // A scale request carries only replicas: keep-previous is all there is to judge.
  const { entries, emptied } = input.operation === 'DELETE' || input.subresource === 'scale' ? { entries: [], emptied: [] } : analyseWorkloadChange(change, state, config, (vs) => isGuarded(vs, state, config));
  const judged = input.subresource === 'scale' ? [] : rules.flatMap((rule) => rule({ operation: input.operation as 'CREATE' | 'UPDATE' | 'DELETE', change, entries, emptied, object, config, state }));
  const issues = [...judged, ...keep];
  const findings: Finding[] = [...refused.flatMap((i) => toFinding(i, modes)), ...modeFindings, ...issues.flatMap((i) => toFinding(i, modes))];
  const glass = applyBreakGlass(findings, subject, input.requester, config, auditAnnotations);
  return verdictOf(glass.findings, glass.overridden ? 'break-glass' : undefined, auditAnnotations);
}
