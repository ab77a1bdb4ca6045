// What the loop does with a recovery verdict, and the alerts it posts. Kept
// beside the loop so loop.ts only asks "is a recovery being watched here?".
import { GUARD_ALERT_NAMES, guardAlert, type PostableAlert } from '../alertmanager/alert-sink.js';
import { findHostRules, findSubset } from '../istio/destination-rules.js';
import { metricsServiceOf } from '../istio/hosts.js';
import { routesOf } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import type { CutoverState } from './cutover-state.js';
import type { AlertContext } from './guard-alerts.js';
import type { RecoveryTarget } from './recovery-probe.js';
import type { RecoveryRecord } from './recovery.js';
import type { MeshOptions, WatchedObjects } from './watch-targets.js';

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
