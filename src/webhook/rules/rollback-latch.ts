// rollback-latch: after the watcher rolled a candidate back, no change may
// send traffic to the revision that failed again, from any VirtualService,
// until a new revision is deployed or the latch is cleared. This is what
// stops a GitOps self-heal (Argo CD, Flux) re-applying the failed cutover and
// flapping: the controller sees a sync error instead.
//
// The latch is read from every VirtualService the webhook caches; the object
// under review is read as it arrives, because it may be the change that clears it.
// The same check runs on the other ways to point routed traffic at the failed
// pods: a DestinationRule relabelling a routed subset (RELABEL_RULES in
// review.ts) and a Pod's labels or a Service's selector putting them behind a
// routed subset (checkWorkloadRollbackLatch below). A Deployment's pod template
// change makes a new revision, which the latch does not hold.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { ROLLBACK_LATCH } from '../../istio/annotations.js';
import { describeRevision, parseLatch, revisionKey, revisionOfPod, type LatchEntry, type Revision } from '../../istio/rollback-latch.js';
import type { VirtualService } from '../../istio/types.js';
import { raisedCandidates, routingSentence, type RoutedSubset, type VsChange } from './change.js';
import type { Lookup, VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { latchAckGroups } from './latch-ack.js';
import { isActive, workloadName } from './subset-backend.js';
import { describeRefs, type Entry, type WorkloadChange } from './workload-change.js';

export interface LatchedEntry extends LatchEntry {
  /** `shop/reviews`: the VirtualService that holds the record. */
  holder: { namespace: string; name: string };
}

/**
 * The subsets whose reachable traffic a change raises: src/istio/traffic.ts's
 * model through the change analysis (shares, matches and route order,
 * destinations without a subset, a deleted VirtualService).
 */
export function reachRaised(change: VsChange): RoutedSubset[] {
  return raisedCandidates(change);
}

export function checkRollbackLatch({ vs, object, name, change, lookup, config }: VsRuleInput): Issue[] {
  const raised = reachRaised(change);
  if (raised.length === 0) return [];
  const entries = latchEntries(lookup.state, vs);
  if (entries.length === 0) return [];
  const issues: Issue[] = [];
  for (const s of raised) {
    const revisions = revisionsBehind(s, vs, lookup);
    for (const entry of entries) {
      const hit = entry.revisions.filter((r) => revisions.has(revisionKey(r)));
      const bySubset = entry.revisions.length === 0 && entry.host === s.host && entry.subset === s.subset;
      if (hit.length === 0 && !bySubset) continue;
      issues.push({ rule: 'rollback-latch', object, message: latchMessage(name, s, entry, hit, config) });
    }
  }
  return issues;
}

/** Revisions of the active pods behind a subset, by key. */
function revisionsBehind(s: RoutedSubset, vs: VirtualService, lookup: Lookup): Map<string, Revision> {
  const backend = lookup.backendFor(s, vs.metadata.namespace);
  const found = new Map<string, Revision>();
  if (backend.kind !== 'pods') return found;
  for (const pod of backend.pods) {
    if (!isActive(pod)) continue;
    const r = revisionOfPod(pod);
    if (r) found.set(revisionKey(r), r);
  }
  return found;
}

/**
 * Every latch on a cached VirtualService, the reviewed one (if any) as it arrives. A malformed record
 * latches nothing (the watcher rewrites it whole).
 */
function latchEntries(state: ClusterState, reviewed?: VirtualService): LatchedEntry[] {
  const out: LatchedEntry[] = [];
  const add = (vs: VirtualService) => {
    const parsed = parseLatch(vs.metadata.annotations?.[ROLLBACK_LATCH]);
    if (!parsed.ok) return;
    for (const e of parsed.entries) out.push({ ...e, holder: { namespace: vs.metadata.namespace, name: vs.metadata.name } });
  };
  if (reviewed) add(reviewed);
  for (const vs of state.virtualServicesAnnotated(ROLLBACK_LATCH)) {
    if (!reviewed || vs.metadata.namespace !== reviewed.metadata.namespace || vs.metadata.name !== reviewed.metadata.name) add(vs);
  }
  return out;
}

function latchMessage(name: string, s: RoutedSubset, entry: LatchedEntry, hit: readonly Revision[], config: VsRuleInput['config']): string {
  const what = hit.length > 0 ? `whose pods run ${hit.map(describeRevision).join(', ')}` : `which the latch names directly (the revision could not be read at the rollback)`;
  return `${routingSentence(name, s)}, ${what}; ${rolledBackAndWaysOut(entry, hit, `replace the pods of subset ${s.subset}`, config)}`;
}

/** When and why the watcher rolled it back, and the two ways out. */
function rolledBackAndWaysOut(entry: LatchedEntry, hit: readonly Revision[], otherwise: string, config: VsRuleInput['config']): string {
  const holder = `${entry.holder.namespace}/${entry.holder.name}`;
  const why = entry.reason.trim() === '' ? '' : `: ${entry.reason.trim()}`;
  const groups = latchAckGroups(config);
  const who = groups.length > 0 ? ` (a member of ${groups.join(', ')})` : ' (no groups may clear it yet: configure latchAckGroups or breakGlassGroups)';
  const newRevision =
    hit.length > 0
      ? `deploy a new revision (change the pod template of ${hit.map((r) => `Deployment ${r.namespace}/${r.workload}`).join(', ')}, e.g. a fixed image, so its pods get a new pod-template-hash) and route to it`
      : otherwise;
  return (
    `the watcher rolled that back at ${entry.at} (recorded on VirtualService ${holder})${why}. ` +
    `Traffic stays off it. Ways out: ${newRevision}, or clear the latch${who}: bluegreen-guard ack ${entry.holder.name} -n ${entry.holder.namespace} --reason "<why it is safe>".`
  );
}

/**
 * rollback-latch for a workload change: a Pod's new labels or a Service's new selector put pods of a
 * rolled-back revision behind a subset that guarded VirtualServices send traffic to. (A Deployment's
 * pod template change makes a new revision: its next pods are not latched.)
 */
export function checkWorkloadRollbackLatch(change: WorkloadChange, entries: readonly Entry[], state: ClusterState, object: string, config: VsRuleInput['config']): Issue[] {
  if (entries.length === 0) return [];
  const latched = latchEntries(state);
  if (latched.length === 0) return [];
  const issues: Issue[] = [];
  for (const e of entries) {
    const revisions = new Map<string, Revision>();
    for (const pod of e.workload.pods) {
      const r = isActive(pod) ? revisionOfPod(pod) : undefined;
      if (r) revisions.set(revisionKey(r), r);
    }
    for (const entry of latched) {
      const hit = entry.revisions.filter((r) => revisions.has(revisionKey(r)));
      if (hit.length === 0) continue;
      issues.push({
        rule: 'rollback-latch',
        object,
        message:
          `${workloadJoins(change, e)} subset ${e.subset} of ${e.host}, which gets traffic (${describeRefs(e.refs)}), and ${hit.length === 1 ? 'it runs' : 'they run'} ${hit.map(describeRevision).join(', ')}; ` +
          rolledBackAndWaysOut(entry, hit, `keep the pods of ${workloadName(e.workload)} out of routed subsets`, config),
      });
    }
  }
  return issues;
}

function workloadJoins(change: WorkloadChange, e: Entry): string {
  const { namespace, name } = change.next.metadata;
  if (change.kind === 'Pod') return `Pod ${namespace}/${name}'s new labels put it in`;
  if (change.kind === 'Service') return `Service ${namespace}/${name}'s new selector puts the pods of ${workloadName(e.workload)} in`;
  return `${workloadName(e.workload)}'s pod template puts its pods in`;
}
