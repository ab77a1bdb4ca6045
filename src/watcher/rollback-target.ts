// The watcher never rolls back onto nothing: before the rollback patch it
// counts the Ready pods behind the stable subset, and when there are none it
// leaves the weights alone and alerts critical instead of sending 100 % of
// the traffic to a subset that cannot serve it. An unknown count (the API
// server did not answer) never holds a rollback up.
import { findHostRules, findSubset } from '../istio/destination-rules.js';
import { resolveHost } from '../istio/hosts.js';
import type { VirtualService } from '../istio/types.js';
import type { RollbackResult } from './virtual-service-patcher.js';
import type { CutoverState } from './cutover-state.js';
import type { LatchTarget } from './latch.js';
import type { MeshOptions, WatchedObjects } from './watch-targets.js';

export interface ReadyPodSource {
  /** Ready and total running pods behind a subset; rejects when they cannot be read. */
  readyPods(target: LatchTarget): Promise<{ ready: number; total: number }>;
}

/** The stable subset's pods on the host the busiest candidate uses. */
export function stableTarget(vs: VirtualService, state: CutoverState, objects: WatchedObjects, mesh: MeshOptions): LatchTarget | undefined {
  const top = state.active[0];
  if (!top) return undefined;
  const host = resolveHost(top.host, vs.metadata.namespace, mesh.clusterDomain);
  const { rules } = findHostRules(host, vs.metadata.namespace, (ns) => objects.destinationRules(ns), mesh);
  const labels = findSubset(rules, state.roles.stableSubset)?.subset.labels;
  if (!labels) return undefined;
  return { namespace: top.service.namespace, service: top.service.name, subsetLabels: labels };
}

/** A blocked result when the stable subset has no Ready pod; undefined to go ahead (some are Ready, or unknown). */
export async function refuseEmptyTarget(
  vs: VirtualService,
  state: CutoverState,
  deps: { objects: WatchedObjects; mesh: MeshOptions; source: ReadyPodSource | undefined; timeoutMs: number },
): Promise<{ blocked: RollbackResult; unknown?: never } | { blocked?: never; unknown?: string } | undefined> {
  const target = stableTarget(vs, state, deps.objects, deps.mesh);
  if (!deps.source || !target) return undefined;
  let counted: { ready: number; total: number };
  try {
    counted = await Promise.race([
      deps.source.readyPods(target),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${deps.timeoutMs} ms`)), deps.timeoutMs).unref()),
    ]);
  } catch (err) {
    return { unknown: `Ready pods of the stable subset ${state.roles.stableSubset} unknown (${err instanceof Error ? err.message : String(err)}): rolling back anyway` };
  }
  if (counted.ready > 0) return undefined;
  const selector = Object.entries(target.subsetLabels).map(([k, v]) => `${k}=${v}`).join(',');
  const message =
    `not rolled back: the stable subset ${state.roles.stableSubset} has no Ready pod (${counted.total} pod${counted.total === 1 ? '' : 's'} behind Service ${target.namespace}/${target.service} with ${selector}), ` +
    `so 100 % of the traffic would go nowhere. Fix: bring the stable version back up (kubectl get pods -n ${target.namespace} -l ${selector}; scale its Deployment up), then roll back by hand or let the watcher retry`;
  return { blocked: { outcome: 'blocked', blocked: [{ route: '*', message }], conflicts: 0 } };
}
