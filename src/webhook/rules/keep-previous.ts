// keep-previous: the best practice "keep both versions running for 1 hour
// post-cutover", so a rollback always has somewhere to go. While a cutover is
// at full traffic (the hold) the stable subset is the rollback target; once it
// is confirmed stable, the previous stable subset (now the recorded
// candidate) is, for keepPreviousSeconds after `stable-since`. Scaling the
// Deployment behind it down (replicas or the scale subresource) or deleting it
// is denied in that time. Pure: the clock comes in as `now`.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { CANDIDATE_SUBSET, FULL_TRAFFIC_AT, STABLE_SINCE } from '../../istio/annotations.js';
import { routesOf } from '../../istio/routes.js';
import type { VirtualService } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import type { Requester } from '../verdict.js';
import { stableSubsetOf } from '../../istio/roles.js';
import { Lookup } from './context.js';
import type { Issue } from './issue.js';

export interface DeploymentScaleChange {
  operation: 'UPDATE' | 'DELETE';
  namespace: string;
  name: string;
  /** `scale` for the deployments/scale subresource. */
  subresource?: 'scale';
  replicasBefore: number | undefined;
  /** Undefined on a DELETE. */
  replicasAfter: number | undefined;
  requester: Requester;
}

export interface KeptVersion {
  virtualService: VirtualService;
  subset: string;
  /** Until when it is kept; undefined while the cutover's hold lasts. */
  untilMs: number | undefined;
  why: string;
}

/** The subsets kept for a rollback now, on every VirtualService the state holds. */
export function keptVersions(state: ClusterState, config: Pick<RulesConfig, 'defaultStableSubset' | 'keepPreviousSeconds'>, nowMs: number): KeptVersion[] {
  const kept: KeptVersion[] = [];
  for (const vs of state.virtualServices()) {
    const a = vs.metadata.annotations ?? {};
    if (a[FULL_TRAFFIC_AT] !== undefined) {
      kept.push({ virtualService: vs, subset: stableSubsetOf(vs, undefined, config.defaultStableSubset), untilMs: undefined, why: `its cutover has been at full traffic since ${a[FULL_TRAFFIC_AT]} and is not confirmed stable yet` });
      continue;
    }
    const since = Date.parse(a[STABLE_SINCE] ?? '');
    const previous = a[CANDIDATE_SUBSET]?.trim();
    if (!Number.isFinite(since) || !previous) continue;
    const untilMs = since + config.keepPreviousSeconds * 1000;
    if (nowMs < untilMs) kept.push({ virtualService: vs, subset: previous, untilMs, why: `its cutover was confirmed stable at ${a[STABLE_SINCE]}` });
  }
  return kept;
}

export function checkKeepPrevious(change: DeploymentScaleChange, state: ClusterState, config: RulesConfig, now: Date): Issue[] {
  const shrinks = change.operation === 'DELETE' || (change.replicasAfter !== undefined && change.replicasBefore !== undefined && change.replicasAfter < change.replicasBefore);
  if (!shrinks || config.keepPreviousExemptUsernames.includes(change.requester.username)) return [];
  const lookup = new Lookup(state, config);
  const object = `Deployment/${change.namespace}/${change.name}`;
  const issues: Issue[] = [];
  for (const k of keptVersions(state, config, now.getTime())) {
    const vs = k.virtualService;
    const hosts = new Set(routesOf(vs, config.clusterDomain).flatMap((r) => r.destinations.filter((d) => d.subset === k.subset).map((d) => d.host)));
    const runsIt = [...hosts].some((host) => {
      const backend = lookup.backend(host, k.subset, vs.metadata.namespace);
      return backend.kind === 'pods' && backend.workloads.some((w) => w.kind === 'Deployment' && w.namespace === change.namespace && w.name === change.name);
    });
    if (!runsIt) continue;
    const what =
      change.operation === 'DELETE'
        ? 'This change deletes it'
        : `This change scales it from ${change.replicasBefore} to ${change.replicasAfter} replica${change.replicasAfter === 1 ? '' : 's'}${change.subresource === 'scale' ? ' (scale subresource)' : ''}`;
    const left = k.untilMs === undefined ? 'until the cutover is confirmed stable, and then for the keep time' : `${formatLeft(k.untilMs - now.getTime())} left (until ${new Date(k.untilMs).toISOString()})`;
    issues.push({
      rule: 'keep-previous',
      object,
      message:
        `Deployment ${change.namespace}/${change.name} runs subset ${k.subset}, the rollback target of VirtualService ${vs.metadata.namespace}/${vs.metadata.name}: ${k.why}, ` +
        `so it is kept running for ${Math.round(config.keepPreviousSeconds / 60)} min after the cutover to give a rollback somewhere to go. ${what}; ${left}. ` +
        `Fix: wait, or have a member of a break-glass group make the change.`,
    });
  }
  return issues;
}

function formatLeft(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
}
