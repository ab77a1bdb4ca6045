// rollback-latch: after the watcher rolled a candidate back, no change may
// send traffic to the revision that failed again, from any VirtualService,
// until a new revision is deployed or the latch is cleared. This is what
// stops a GitOps self-heal (Argo CD, Flux) re-applying the failed cutover and
// flapping: the controller sees a sync error instead.
//
// The latch is read from every VirtualService the webhook caches; the object
// under review is read as it arrives, because it may be the change that clears it.
import { ROLLBACK_LATCH } from '../../istio/annotations.js';
import { describeRevision, parseLatch, revisionKey, revisionOfPod, type LatchEntry, type Revision } from '../../istio/rollback-latch.js';
import type { VirtualService } from '../../istio/types.js';
import { raisedCandidates, routingSentence, type RoutedSubset, type VsChange } from './change.js';
import type { Lookup, VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { latchAckGroups } from './latch-ack.js';
import { isActive } from './subset-backend.js';

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
  const entries = latchEntries(vs, lookup);
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

/** Every latch on a cached VirtualService, the reviewed one as it arrives. A malformed record latches nothing (the watcher rewrites it whole). */
function latchEntries(reviewed: VirtualService, lookup: Lookup): LatchedEntry[] {
  const out: LatchedEntry[] = [];
  const add = (vs: VirtualService) => {
    const parsed = parseLatch(vs.metadata.annotations?.[ROLLBACK_LATCH]);
    if (!parsed.ok) return;
    for (const e of parsed.entries) out.push({ ...e, holder: { namespace: vs.metadata.namespace, name: vs.metadata.name } });
  };
  add(reviewed);
  for (const vs of lookup.state.virtualServicesAnnotated(ROLLBACK_LATCH)) {
    if (vs.metadata.namespace !== reviewed.metadata.namespace || vs.metadata.name !== reviewed.metadata.name) add(vs);
  }
  return out;
}

function latchMessage(name: string, s: RoutedSubset, entry: LatchedEntry, hit: readonly Revision[], config: VsRuleInput['config']): string {
  const holder = `${entry.holder.namespace}/${entry.holder.name}`;
  const what = hit.length > 0 ? `whose pods run ${hit.map(describeRevision).join(', ')}` : `which the latch names directly (the revision could not be read at the rollback)`;
  const why = entry.reason.trim() === '' ? '' : `: ${entry.reason.trim()}`;
  const groups = latchAckGroups(config);
  const who = groups.length > 0 ? ` (a member of ${groups.join(', ')})` : ' (no groups may clear it yet: configure latchAckGroups or breakGlassGroups)';
  const newRevision =
    hit.length > 0
      ? `deploy a new revision (change the pod template of ${hit.map((r) => `Deployment ${r.namespace}/${r.workload}`).join(', ')}, e.g. a fixed image, so its pods get a new pod-template-hash) and route to it`
      : `replace the pods of subset ${s.subset}`;
  return (
    `${routingSentence(name, s)}, ${what}; the watcher rolled that back at ${entry.at} (recorded on VirtualService ${holder})${why}. ` +
    `Traffic stays off it. Ways out: ${newRevision}, or clear the latch${who}: bluegreen-guard ack ${entry.holder.name} -n ${entry.holder.namespace} --reason "<why it is safe>".`
  );
}
