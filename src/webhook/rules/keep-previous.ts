// keep-previous: the best practice "keep both versions running for 1 hour
// post-cutover", so a rollback always has somewhere to go. The hour counts from
// when the cutover reached full traffic (`full-traffic-reached-at`, recorded by
// the watcher). While the cutover is at full traffic and not yet confirmed (the
// hold) the stable subset is the rollback target, however long the hold lasts;
// once it is confirmed stable, the previous stable subset (now the recorded
// candidate) is, until keepPreviousSeconds after full traffic. Scaling the
// Deployment behind it down (replicas or the scale subresource) or deleting it
// is denied in that time. Pure: the clock comes in as `now`.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { CANDIDATE_SUBSET, FULL_TRAFFIC_AT, FULL_TRAFFIC_REACHED_AT, STABLE_SINCE } from '../../istio/annotations.js';
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
  /** While the hold lasts: the end of the keep time after full traffic, if the hold ends before it. */
  thenUntilMs?: number;
  why: string;
}

/** The subsets kept for a rollback now, on every VirtualService the state holds. */
export function keptVersions(state: ClusterState, config: Pick<RulesConfig, 'defaultStableSubset' | 'keepPreviousSeconds'>, nowMs: number): KeptVersion[] {
  const kept: KeptVersion[] = [];
  for (const vs of state.virtualServices()) {
    const a = vs.metadata.annotations ?? {};
    const keepMs = config.keepPreviousSeconds * 1000;
    const reachedAt = a[FULL_TRAFFIC_REACHED_AT];
    const reached = Date.parse(reachedAt ?? '');
    if (a[FULL_TRAFFIC_AT] !== undefined) {
      const fullSince = Number.isFinite(reached) ? reachedAt : a[FULL_TRAFFIC_AT];
      const thenUntilMs = Date.parse(fullSince ?? '') + keepMs;
      kept.push({
        virtualService: vs,
        subset: stableSubsetOf(vs, undefined, config.defaultStableSubset),
        untilMs: undefined,
        ...(Number.isFinite(thenUntilMs) && nowMs < thenUntilMs ? { thenUntilMs } : {}),
        why: `its cutover has been at full traffic since ${fullSince} and is not confirmed stable yet`,
      });
      continue;
    }
    const since = Date.parse(a[STABLE_SINCE] ?? '');
    const previous = a[CANDIDATE_SUBSET]?.trim();
    if (!Number.isFinite(since) || !previous) continue;
    // Full traffic of the confirmed cutover: recorded before its confirmation. A later time (a cutover
    // rolled back since) or none (recorded by an older watcher) leaves the confirmation time.
    const fromReached = Number.isFinite(reached) && reached <= since;
    const untilMs = (fromReached ? reached : since) + keepMs;
    const why = fromReached
      ? `its cutover reached full traffic at ${reachedAt} (confirmed stable at ${a[STABLE_SINCE]})`
      : `its cutover was confirmed stable at ${a[STABLE_SINCE]}`;
    if (nowMs < untilMs) kept.push({ virtualService: vs, subset: previous, untilMs, why });
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
    const left =
      k.untilMs !== undefined
        ? `${formatLeft(k.untilMs - now.getTime())} left (until ${new Date(k.untilMs).toISOString()})`
        : k.thenUntilMs !== undefined
          ? `kept until the cutover is confirmed stable, and at least ${formatLeft(k.thenUntilMs - now.getTime())} more (until ${new Date(k.thenUntilMs).toISOString()})`
          : 'kept until the cutover is confirmed stable';
    issues.push({
      rule: 'keep-previous',
      object,
      message:
        `Deployment ${change.namespace}/${change.name} runs subset ${k.subset}, the rollback target of VirtualService ${vs.metadata.namespace}/${vs.metadata.name}: ${k.why}, ` +
        `so it is kept running for ${Math.round(config.keepPreviousSeconds / 60)} min after the cutover reached full traffic to give a rollback somewhere to go. ${what}; ${left}. ` +
        `Fix: wait, or have a member of a break-glass group make the change.`,
    });
  }
  return issues;
}

function formatLeft(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
}
