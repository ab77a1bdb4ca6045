// What the loop does with a recovery verdict, and the alerts it posts. Kept
// beside the loop so loop.ts only asks "is a recovery being watched here?".
import { GUARD_ALERT_NAMES, guardAlert, type PostableAlert } from '../alertmanager/alert-sink.js';
import { findHostRules, findSubset } from '../istio/destination-rules.js';
import { metricsServiceOf } from '../istio/hosts.js';
import { routesOf } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import type { CutoverState } from './cutover-state.js';
import type { AlertContext } from './guard-alerts.js';
import { recoveryTimes, type RecoveryTarget } from './recovery-probe.js';
import type { RecoveryRecord } from './recovery.js';
import type { MeshOptions, WatchedObjects } from './watch-targets.js';
import { RECOVERY } from '../istio/annotations.js';
import { logKeys, type LoopIO } from './loop-io.js';
import { DEFAULT_RECOVERY_POLICY, judgeRecovery, parseRecovery, recoveryAnnotation, type RecoveryMeasurement, type RecoveryRecord as Record_ } from './recovery.js';



export const RECOVERY_FAILED_ALERT = 'BlueGreenGuardRecoveryFailed';

/** The stable subset's service and `destination_version`, from the routes and its DestinationRule. */
export function recoveryTarget(vs: VirtualService, state: CutoverState, objects: WatchedObjects, mesh: MeshOptions): RecoveryTarget | undefined {
  const stable = state.roles.stableSubset;
  const d = routesOf(vs, mesh.clusterDomain)
    .flatMap((r) => r.destinations)
    .find((x) => x.subset === stable);
  if (!d) return undefined;
  const service = metricsServiceOf(d.host, vs.metadata.namespace, mesh.clusterDomain);
  const { rules } = findHostRules(d.host, vs.metadata.namespace, (ns) => objects.destinationRules(ns), mesh);
  const version = findSubset(rules, stable)?.subset.labels?.[mesh.versionLabel] ?? stable;
  return { namespace: service.namespace, service: service.name, stableVersion: version };
}

/** The rollback alert again, resolved now, saying how the recovery went. */
export function resolvedRollbackAlert(ctx: AlertContext, record: RecoveryRecord, detail: string): PostableAlert {
  return guardAlert({
    namespace: ctx.key.namespace,
    service: ctx.key.service,
    labels: { ...ctx.extraLabels, virtualservice: ctx.virtualService.name, version: record.candidateVersion },
    alertname: GUARD_ALERT_NAMES.rolledBack,
    severity: 'warning',
    reason: record.alertReason,
    summary: `VirtualService ${ctx.virtualService.namespace}/${ctx.virtualService.name} was rolled back and the stable version ${detail.split(':')[0]}`,
    annotations: { recovery: detail },
    startsAt: new Date(record.rolledBackAt),
    endsAt: ctx.at,
    generatorUrl: ctx.generatorUrl,
  });
}

/** Critical: the stable version did not come back after the rollback, so the fault is not (only) in the candidate. */
export function recoveryFailedAlert(ctx: AlertContext, target: RecoveryTarget, detail: string, resolved = false): PostableAlert {
  return guardAlert({
    namespace: ctx.key.namespace,
    service: ctx.key.service,
    labels: { ...ctx.extraLabels, virtualservice: ctx.virtualService.name, version: target.stableVersion },
    alertname: RECOVERY_FAILED_ALERT,
    severity: 'critical',
    reason: 'recovery-failed',
    summary: `VirtualService ${ctx.virtualService.namespace}/${ctx.virtualService.name} was rolled back, but the stable version ${target.stableVersion} has not recovered: the fault is not (only) in the candidate`,
    description: detail,
    startsAt: ctx.at,
    endsAt: resolved ? ctx.at : ctx.endsAt,
    generatorUrl: ctx.generatorUrl,
  });
}

/**
 * After a rollback: did the stable version come back to its pre-cutover level, and its callers
 * too? Recovered → the rollback alert is resolved with "recovered in N s"; not within the window →
 * a critical alert with the measured values, re-sent while it lasts.
 */
export async function followRecovery(vs: VirtualService, state: CutoverState, now: Date, outgoing: PostableAlert[], io: LoopIO): Promise<void> {
const { deps } = io;
  const policy = deps.config.recovery ?? DEFAULT_RECOVERY_POLICY;
  const record = parseRecovery(vs.metadata.annotations?.[RECOVERY]);
  if (!deps.recoveryProbe || !record || record.state === 'recovered' || deps.config.dryRun) return;
  const target = recoveryTarget(vs, state, deps.objects, deps.mesh);
  if (!target) return;
  const rolledBackMs = Date.parse(record.rolledBackAt);
  const elapsedSeconds = (now.getTime() - rolledBackMs) / 1000;
  const cutoverMs = state.cutoverStartedAt?.getTime();
  let measurement: RecoveryMeasurement;
  try {
    measurement = await deps.recoveryProbe(target, recoveryTimes(policy, now.getTime() / 1000, rolledBackMs / 1000, cutoverMs === undefined ? undefined : cutoverMs / 1000));
  } catch (err) {
    deps.log.warn({ ...logKeys(vs), err: err instanceof Error ? err.message : String(err) }, 'recovery not measured this cycle');
    return;
  }
  const verdict = judgeRecovery(measurement, policy, elapsedSeconds);
  const ctx = io.alertContext(vs, { namespace: target.namespace, service: target.service, version: record.candidateVersion }, now);
  if (verdict.kind === 'pending') {
    deps.log.debug({ ...logKeys(vs) }, `recovery pending: ${verdict.detail}`);
    return;
  }
  const next: Record_ = { ...record, state: verdict.kind, detail: verdict.detail };
  if (verdict.kind === 'recovered') {
    outgoing.push(resolvedRollbackAlert(ctx, record, verdict.detail));
    if (record.state === 'failed') outgoing.push(recoveryFailedAlert(ctx, target, verdict.detail, true));
  } else {
    outgoing.push(recoveryFailedAlert(ctx, target, verdict.detail));
  }
  if (record.state === verdict.kind) return;
  if (await io.record(vs, recoveryAnnotation(next))) {
    deps.log[verdict.kind === 'recovered' ? 'info' : 'error']({ ...logKeys(vs) }, verdict.detail);
    await io.event(vs, { type: verdict.kind === 'recovered' ? 'Normal' : 'Warning', reason: verdict.kind === 'recovered' ? 'Recovered' : 'RecoveryFailed', message: verdict.detail, at: now });
  }
}
