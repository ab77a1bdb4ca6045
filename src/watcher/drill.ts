// A failover drill on one VirtualService: the seed's "test blue-green failover
// weekly using automation" and "practice rollback like a fire drill". While the
// stable subset serves all traffic and a candidate is routed at 0 %, the drill
// raises the candidate to a small share as an ordinary write the webhook judges
// (a refusal is reported, never forced), rolls back exactly as on a breach (the
// VirtualServicePatcher: patch, read back, verify), tells Alertmanager, watches
// the traffic move both ways in Prometheus, and restores the weights and the
// annotations as they were. Every way a drill ends is a DrillReport.
import { randomBytes } from 'node:crypto';
import { GUARD_ALERT_NAMES, guardAlert, type AlertSink, type PostableAlert } from '../alertmanager/alert-sink.js';
import { DRILL, DRILL_IN_PROGRESS, FULL_TRAFFIC_AT, PREVIOUS_WEIGHTS, ROLLBACK_REASON, ROLLED_BACK_AT } from '../istio/annotations.js';
import { metricsServiceOf } from '../istio/hosts.js';
import type { Mesh } from '../istio/mesh.js';
import { routesOf, type RoutedDestination } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import type { Clock } from '../cluster/lease-elector.js';
import { readCutoverState, type ActiveCandidate, type CutoverState } from './cutover-state.js';
import { describeChanges } from './guard-alerts.js';
import { annotationOps, pointer, testResourceVersion, type JsonPatchOp } from './json-patch.js';
import type { RouteChange } from './plan-rollback.js';
import type { ReadyPodSource } from './rollback-target.js';
import type { ServiceKey, Verdict } from './verdict.js';
import type { RollbackRequest, RollbackResult } from './virtual-service-patcher.js';
import { WriteConflict, type VirtualServiceStore } from './virtual-service-store.js';
import { serviceKey, subsetIdentity, type WatchedObjects } from './watch-targets.js';

export interface DrillPolicy {
  /** The candidate's share during the drill (the seed's "route 1 % … first"). */
  sharePercent: number;
  /** How long to wait for Prometheus to show the traffic move, each way. */
  trafficTimeoutSeconds: number;
  /** Rollback start → traffic back on the stable subset: the seed's "rollback within 2 minutes". */
  maxRollbackSeconds: number;
  /** Between reads of Prometheus while waiting. */
  pollIntervalMs: number;
}

export const DEFAULT_DRILL_POLICY: DrillPolicy = { sharePercent: 1, trafficTimeoutSeconds: 60, maxRollbackSeconds: 120, pollIntervalMs: 1000 };

export type DrillOutcome = 'passed' | 'failed' | 'refused' | 'skipped';
export type DrillTrigger = 'schedule' | 'request';

export interface DrillReport {
  id: string;
  namespace: string;
  name: string;
  trigger: DrillTrigger;
  /** DRILL_REQUESTED_AT this drill answers; null for a scheduled one. */
  requestedAt: string | null;
  outcome: DrillOutcome;
  /** Why it was skipped, refused or failed; empty when it passed. */
  reason: string;
  stableSubset: string;
  candidateSubset: string | null;
  sharePercent: number;
  startedAt: string;
  finishedAt: string;
  /** Milliseconds per step; null when the step did not run or was not seen. */
  times: {
    /** The raise, admitted by the webhook. */
    raise: number | null;
    /** Raise admitted → Prometheus shows requests reaching the candidate. */
    trafficToCandidate: number | null;
    /** The rollback patch, read back and verified. */
    rollback: number | null;
    /** Rollback start → two scrapes in Prometheus with no new candidate request between them. */
    trafficBack: number | null;
    /** Weights and annotations back as they were. */
    restore: number | null;
    total: number;
  };
  /** Rollback start → traffic back on the stable subset (verified, when Prometheus showed none), in seconds. */
  rollbackSeconds: number | null;
  /** Whether Alertmanager took the drill's rollback alert; null when none was sent. */
  alertDelivered: boolean | null;
  /** The raise, per route: `http[1] "primary": green 100, blue 0 → green 99, blue 1`. */
  raised: string;
}

/** The candidate's requests as Prometheus has them. */
export interface DrillTraffic {
  /** The candidate's request counter summed over its series, and the time of its newest scrape; null with no series. */
  requests(key: ServiceKey, atSeconds: number): Promise<{ count: number; scrapedAtSeconds: number } | null>;
}

export interface DrillDeps {
  store: VirtualServiceStore;
  rollBack(seen: VirtualService, request: RollbackRequest): Promise<RollbackResult>;
  traffic: DrillTraffic;
  alerts: AlertSink;
  /** The stable version's verdict under the watcher's rules, now: a drill runs only on a healthy service. */
  stableVerdict(vs: VirtualService, key: ServiceKey, subset: string): Promise<Verdict>;
  objects: WatchedObjects;
  readyPods?: ReadyPodSource;
  mesh: Mesh;
  clock: Clock;
  alertLabels: { extraLabels: Record<string, string>; generatorUrl: string | null };
  sleep?: (ms: number) => Promise<void>;
  /** True once the watcher stops: the drill stops waiting on Prometheus and goes straight to its rollback and restore. */
  stopping?: () => boolean;
}

/** Whether the VirtualService (or its namespace) opted in; the object's `disabled` wins over its namespace. */
export function optedInForDrills(vs: VirtualService, objects: WatchedObjects): boolean {
  const own = vs.metadata.annotations?.[DRILL];
  if (own !== undefined) return own === 'enabled';
  return objects.namespace(vs.metadata.namespace)?.metadata.labels?.[DRILL] === 'enabled';
}

interface Raise {
  ops: JsonPatchOp[];
  changes: RouteChange[];
  candidate: string;
  /** The candidate's destination on the first raised route: its host names the service. */
  destination: RoutedDestination;
  /** Every destination of the raised routes with its weight as written before, for the restore. */
  before: { kind: string; route: number; index: number; weight: number | undefined }[];
}

/** Moves `share` from the stable subset to a candidate at 0 % on every route that has both; a reason when none has. */
export function planRaise(vs: VirtualService, state: CutoverState, share: number, clusterDomain: string): Raise | string {
  const { stableSubset, candidateSubsets } = state.roles;
  const raise: Raise = { ops: [], changes: [], candidate: '', destination: undefined as unknown as RoutedDestination, before: [] };
  for (const route of routesOf(vs, clusterDomain)) {
    const stable = route.destinations.find((d) => d.subset === stableSubset && d.writtenWeight !== undefined && d.writtenWeight >= share && d.sharePercent === 100);
    const candidate = route.destinations.find((d) => d.subset !== undefined && candidateSubsets.includes(d.subset) && d.sharePercent === 0 && (raise.candidate === '' || d.subset === raise.candidate));
    if (!stable || !candidate || stable.writtenWeight === undefined) continue;
    if (raise.candidate === '') {
      raise.candidate = candidate.subset ?? '';
      raise.destination = candidate;
    }
    const weight = (d: RoutedDestination): number => d.writtenWeight ?? 0;
    const after = (d: RoutedDestination): number => (d === stable ? weight(d) - share : d === candidate ? share : weight(d));
    raise.ops.push({ op: 'replace', path: pointer('spec', route.kind, route.index, 'route', stable.index, 'weight'), value: weight(stable) - share });
    const path = pointer('spec', route.kind, route.index, 'route', candidate.index, 'weight');
    raise.ops.push(candidate.writtenWeight === undefined ? { op: 'add', path, value: share } : { op: 'replace', path, value: share });
    const label = (d: RoutedDestination): string => d.subset ?? d.writtenHost;
    raise.changes.push({
      route: route.label,
      before: Object.fromEntries(route.destinations.map((d) => [label(d), weight(d)])),
      after: Object.fromEntries(route.destinations.map((d) => [label(d), after(d)])),
    });
    for (const d of route.destinations) raise.before.push({ kind: route.kind, route: route.index, index: d.index, weight: d.writtenWeight });
  }
  if (raise.ops.length > 0) return raise;
  return (
    `no route gives the stable subset '${stableSubset}' all its traffic beside a candidate subset (${candidateSubsets.join(', ') || 'none'}) routed at weight 0; ` +
    `fix: list the candidate on the route at weight 0 (the runbook's "initial traffic weight 0 %"), with the stable subset's weight written`
  );
}

const RESTORED_ANNOTATIONS = [ROLLED_BACK_AT, ROLLBACK_REASON, PREVIOUS_WEIGHTS, FULL_TRAFFIC_AT] as const;

export async function runDrill(seen: VirtualService, trigger: { kind: DrillTrigger; requestedAt: string | null }, deps: DrillDeps, policy: DrillPolicy): Promise<DrillReport> {
  const started = deps.clock.now();
  const { namespace, name } = seen.metadata;
  const report: DrillReport = {
    id: `${started.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`,
    namespace,
    name,
    trigger: trigger.kind,
    requestedAt: trigger.requestedAt,
    outcome: 'passed',
    reason: '',
    stableSubset: '',
    candidateSubset: null,
    sharePercent: policy.sharePercent,
    startedAt: started.toISOString(),
    finishedAt: '',
    times: { raise: null, trafficToCandidate: null, rollback: null, trafficBack: null, restore: null, total: 0 },
    rollbackSeconds: null,
    alertDelivered: null,
    raised: '',
  };
  const end = (outcome: DrillOutcome, reason: string): DrillReport => {
    const now = deps.clock.now();
    report.outcome = outcome;
    report.reason = reason;
    report.finishedAt = now.toISOString();
    report.times.total = now.getTime() - started.getTime();
    return report;
  };
  const where = `VirtualService ${namespace}/${name}`;
  let before: VirtualService;
  try {
    before = await deps.store.get(namespace, name);
  } catch (err) {
    return end('failed', `${where} could not be read: ${message(err)}`);
  }
  const state = readCutoverState(before, deps.mesh);
  report.stableSubset = state.roles.stableSubset;
  if (before.metadata.annotations?.[DRILL_IN_PROGRESS] !== undefined) return end('skipped', `${where} already has a drill in progress (${DRILL_IN_PROGRESS})`);
  if (state.active.length > 0) {
    return end('skipped', `${where}: a candidate gets traffic (${state.active.map((c) => `${c.subset} ${c.maxSharePercent} %`).join(', ')}); a drill runs only while the stable subset '${state.roles.stableSubset}' serves all traffic`);
  }
  const raise = planRaise(before, state, policy.sharePercent, deps.mesh.clusterDomain);
  if (typeof raise === 'string') return end('skipped', `${where}: ${raise}`);
  report.candidateSubset = raise.candidate;
  report.raised = describeChanges(raise.changes);

  const candidate: ActiveCandidate = { subset: raise.candidate, maxSharePercent: policy.sharePercent, host: raise.destination.writtenHost, service: metricsServiceOf(raise.destination.host, namespace, deps.mesh.clusterDomain) };
  const candidateKey = serviceKey(candidate, subsetIdentity(before, candidate, deps.objects, deps.mesh));
  const stableOne: ActiveCandidate = { ...candidate, subset: state.roles.stableSubset };
  const stableIdentity = subsetIdentity(before, stableOne, deps.objects, deps.mesh);
  const skip = await preflight(before, candidate, candidateKey, serviceKey(stableOne, stableIdentity), state.roles.stableSubset, deps);
  if (skip) return end('skipped', `${where}: ${skip}`);

  // The raise: the one write the webhook judges (it carries DRILL_IN_PROGRESS).
  const mark = JSON.stringify({ id: report.id, startedAt: report.startedAt });
  const baseline = await deps.traffic.requests(candidateKey, nowSeconds(deps)).catch(() => null);
  const raiseStart = Date.now();
  let raised: VirtualService;
  try {
    raised = await deps.store.patch(namespace, name, [testResourceVersion(before.metadata.resourceVersion ?? ''), ...raise.ops, ...annotationOps(before.metadata.annotations, { [DRILL_IN_PROGRESS]: mark })]);
  } catch (err) {
    if (err instanceof WriteConflict) return end('skipped', `${where} changed while the drill began; the next drill tries again`);
    const text = message(err);
    if (/denied the request/i.test(text)) return end('refused', `the webhook refused the drill's ${policy.sharePercent} % on ${raise.candidate}, as it would any cutover: ${text}`);
    return end('failed', `raising ${raise.candidate} to ${policy.sharePercent} % failed: ${text}`);
  }
  report.times.raise = Date.now() - raiseStart;
  const reached = await waitForTraffic(deps, policy, candidateKey, baseline);
  report.times.trafficToCandidate = reached?.afterMs ?? null;

  // The rollback, as on a breach.
  const rollbackStart = Date.now();
  const rolled = await deps.rollBack(raised, {
    roles: state.roles,
    reason: `failover drill ${report.id}: rehearsing the rollback from ${raise.candidate} to ${state.roles.stableSubset}`,
    at: deps.clock.now(),
    annotations: { [DRILL_IN_PROGRESS]: null },
  });
  report.times.rollback = Date.now() - rollbackStart;
  if (rolled.outcome !== 'rolled-back') {
    const why = rolled.outcome === 'failed' ? rolled.error : rolled.outcome === 'blocked' ? rolled.blocked.map((b) => b.message).join('; ') : rolled.outcome === 'not-verified' ? rolled.problems.join('; ') : 'nothing to roll back: someone moved the weights during the drill';
    return end('failed', `the drill's rollback ended ${rolled.outcome}: ${why}`);
  }
  report.alertDelivered = await deps.alerts.send([drillRollbackAlert(report, candidateKey, deps)]).then(
    () => true,
    () => false,
  );
  // Without traffic seen on the candidate there is nothing to see leave: the verified patch is the end of the rollback.
  const back = reached ? await waitForTrafficBack(deps, policy, candidateKey, rollbackStart, reached.perSecond) : undefined;
  if (back !== undefined && back !== 'still-flowing') report.times.trafficBack = Math.max(0, back - rollbackStart);
  const rollbackMs = back === undefined ? report.times.rollback : back === 'still-flowing' ? null : Math.max(report.times.rollback, back - rollbackStart);
  report.rollbackSeconds = rollbackMs === null ? null : rollbackMs / 1000;

  const restoreStart = Date.now();
  const restored = await restore(deps, before, raise);
  report.times.restore = Date.now() - restoreStart;
  if (restored) return end('failed', `${where}: rolled back, but the weights and annotations were not restored: ${restored}`);
  if (back === 'still-flowing') return end('failed', `the candidate ${raise.candidate} still received requests ${policy.trafficTimeoutSeconds} s after the rollback (Prometheus)`);
  if (report.alertDelivered === false) return end('failed', 'Alertmanager did not take the drill\'s rollback alert');
  if (report.rollbackSeconds !== null && report.rollbackSeconds > policy.maxRollbackSeconds) {
    return end('failed', `traffic was back on ${state.roles.stableSubset} after ${report.rollbackSeconds} s, over the runbook's ${policy.maxRollbackSeconds} s`);
  }
  return end('passed', '');
}

/** Why the service is not fit for a drill now, or undefined. */
async function preflight(vs: VirtualService, candidate: ActiveCandidate, candidateKey: ServiceKey, stableKey: ServiceKey, stableSubset: string, deps: DrillDeps): Promise<string | undefined> {
  if (deps.readyPods) {
    const labels = subsetIdentity(vs, candidate, deps.objects, deps.mesh).labels;
    if (Object.keys(labels).length > 0) {
      const pods = await deps.readyPods.readyPods({ namespace: candidateKey.namespace, service: candidateKey.service, subsetLabels: labels }).catch(() => undefined);
      if (pods && pods.ready === 0) return `the candidate subset '${candidate.subset}' has no Ready pod (${pods.total} behind the Service), so there is nothing to fail over from; scale it up to drill`;
    }
  }
  let verdict: Verdict;
  try {
    verdict = await deps.stableVerdict(vs, stableKey, stableSubset);
  } catch (err) {
    return `the stable version ${stableKey.version} could not be judged (${message(err)}); a drill runs only on a healthy service`;
  }
  if (verdict !== 'healthy' && verdict !== 'warning') return `the stable version ${stableKey.version} is not healthy (${verdict}); a drill runs only on a healthy service`;
  return undefined;
}

/**
 * How long after the raise Prometheus first counted more candidate requests than before it, and
 * the candidate's request rate seen then; undefined when not within the timeout.
 */
async function waitForTraffic(
  deps: DrillDeps,
  policy: DrillPolicy,
  key: ServiceKey,
  baseline: { count: number; scrapedAtSeconds: number } | null,
): Promise<{ afterMs: number; perSecond: number } | undefined> {
  const start = Date.now();
  const deadline = start + policy.trafficTimeoutSeconds * 1000;
  while (Date.now() < deadline && !deps.stopping?.()) {
    const now = await deps.traffic.requests(key, nowSeconds(deps)).catch(() => null);
    if (now && now.count > (baseline?.count ?? 0)) {
      const span = baseline ? now.scrapedAtSeconds - baseline.scrapedAtSeconds : (Date.now() - start) / 1000;
      return { afterMs: Date.now() - start, perSecond: (now.count - (baseline?.count ?? 0)) / Math.max(span, 0.001) };
    }
    await pause(deps, policy.pollIntervalMs);
  }
  return undefined;
}

/**
 * When (epoch ms) the candidate's last request was counted: the first scrape after the rollback
 * from which the count stays the same for a quiet span long enough to see three requests at the
 * rate the drill measured (so a trickle at 1 % is not taken for silence). `still-flowing` when
 * that never happens within the timeout.
 */
async function waitForTrafficBack(deps: DrillDeps, policy: DrillPolicy, key: ServiceKey, rollbackStartMs: number, perSecond: number): Promise<number | 'still-flowing'> {
  const deadline = Date.now() + policy.trafficTimeoutSeconds * 1000;
  const quietSeconds = Math.min(3 / Math.max(perSecond, 1e-6), policy.trafficTimeoutSeconds / 2);
  let first: { count: number; scrapedAtSeconds: number } | undefined;
  while (Date.now() < deadline && !deps.stopping?.()) {
    const now = await deps.traffic.requests(key, nowSeconds(deps)).catch(() => null);
    if (now && now.scrapedAtSeconds * 1000 >= rollbackStartMs) {
      if (!first || now.count !== first.count) first = now;
      else if (now.scrapedAtSeconds - first.scrapedAtSeconds >= quietSeconds) return first.scrapedAtSeconds * 1000;
    }
    await pause(deps, policy.pollIntervalMs);
  }
  return 'still-flowing';
}

/** Weights of the raised routes and the annotations the rollback wrote, back as they were. An error text, or undefined. */
async function restore(deps: DrillDeps, before: VirtualService, raise: Raise): Promise<string | undefined> {
  const { namespace, name } = before.metadata;
  const prior = before.metadata.annotations ?? {};
  for (let attempt = 1; attempt <= 5; attempt++) {
    let current: VirtualService;
    try {
      current = await deps.store.get(namespace, name);
    } catch (err) {
      return message(err);
    }
    const ops: JsonPatchOp[] = [testResourceVersion(current.metadata.resourceVersion ?? '')];
    const spec = current.spec as Record<string, { route?: { weight?: unknown }[] }[] | undefined>;
    for (const b of raise.before) {
      const now = spec[b.kind]?.[b.route]?.route?.[b.index]?.weight;
      const path = pointer('spec', b.kind, b.route, 'route', b.index, 'weight');
      if (b.weight === undefined) {
        if (now !== undefined) ops.push({ op: 'remove', path });
      } else if (now !== b.weight) ops.push(now === undefined ? { op: 'add', path, value: b.weight } : { op: 'replace', path, value: b.weight });
    }
    const annotations: Record<string, string | null> = { [DRILL_IN_PROGRESS]: null };
    for (const key of RESTORED_ANNOTATIONS) annotations[key] = prior[key] ?? null;
    ops.push(...annotationOps(current.metadata.annotations, annotations));
    try {
      await deps.store.patch(namespace, name, ops);
      return undefined;
    } catch (err) {
      if (!(err instanceof WriteConflict)) return message(err);
    }
  }
  return `${namespace}/${name} changed under every one of 5 attempts`;
}

function drillRollbackAlert(report: DrillReport, key: ServiceKey, deps: DrillDeps): PostableAlert {
  const at = deps.clock.now();
  return guardAlert({
    alertname: GUARD_ALERT_NAMES.drillRollback,
    severity: 'info',
    namespace: key.namespace,
    service: key.service,
    reason: 'failover-drill',
    summary: `failover drill ${report.id}: VirtualService ${report.namespace}/${report.name} rolled back from ${report.candidateSubset ?? '?'} to ${report.stableSubset} and verified`,
    description: `a drill, not an incident: ${report.raised}, then back to ${report.stableSubset} 100 %`,
    labels: { ...deps.alertLabels.extraLabels, virtualservice: report.name, version: key.version, drill: report.id },
    startsAt: at,
    endsAt: new Date(at.getTime() + 5 * 60_000),
    generatorUrl: deps.alertLabels.generatorUrl,
  });
}

function nowSeconds(deps: DrillDeps): number {
  return deps.clock.now().getTime() / 1000;
}

function pause(deps: DrillDeps, ms: number): Promise<void> {
  return deps.sleep ? deps.sleep(ms) : new Promise((r) => setTimeout(r, ms));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
