// When drills run and how they are told: on the cron schedule of the watcher's
// config (node-cron; default weekly), over every guarded VirtualService that
// opted in, and at once when `kubectl bluegreen drill` asks (the
// drill-requested-at annotation). Only the Lease holder drills, one service at
// a time, never in dry run. Each drill ends in an Event, a log line, the
// metrics, its report on the object (bluegreen-guard.io/last-drill) and, when
// it failed, was refused or took longer than the runbook's 2 minutes, an alert.
import cron, { type ScheduledTask } from 'node-cron';
import { GUARD_ALERT_NAMES, guardAlert, type AlertSink } from '../alertmanager/alert-sink.js';
import type { EventRecorder, GuardEvent } from '../cluster/events.js';
import type { LeaderElector } from '../cluster/lease-elector.js';
import { DRILL_IN_PROGRESS, DRILL_REPORT, DRILL_REQUESTED_AT } from '../istio/annotations.js';
import { isWatched } from '../istio/guard.js';
import type { Mesh } from '../istio/mesh.js';
import type { VirtualService } from '../istio/types.js';
import { optedInForDrills, runDrill, type DrillDeps, type DrillPolicy, type DrillReport, type DrillTrigger } from './drill.js';
import { readCutoverState } from './cutover-state.js';
import { annotationOps } from './json-patch.js';
import type { LoopLog } from './loop.js';
import type { WatchedObjects } from './watch-targets.js';

export interface DrillScheduleConfig extends DrillPolicy {
  /** Scheduled drills on; `kubectl bluegreen drill` works either way. */
  enabled: boolean;
  /** node-cron expression: five fields, or six with seconds first. */
  schedule: string;
  timezone: string;
}

export interface DrillMetrics {
  drill(report: DrillReport): void;
  /** A scheduled run as leader, and how many VirtualServices it found opted in. */
  scheduledRun(optedIn: number): void;
}

export interface DrillCoordinatorDeps {
  drill: DrillDeps;
  objects: WatchedObjects & { synced(): boolean };
  elector: LeaderElector;
  events: EventRecorder;
  alerts: AlertSink;
  metrics: DrillMetrics;
  log: LoopLog;
  mesh: Mesh;
  config: DrillScheduleConfig;
  dryRun: boolean;
}

const keyOf = (vs: VirtualService): string => `${vs.metadata.namespace}/${vs.metadata.name}`;

export class DrillCoordinator {
  private readonly inFlight = new Set<string>();
  private readonly running = new Set<Promise<unknown>>();
  private task: ScheduledTask | undefined;
  private stopping = false;

  constructor(private readonly deps: DrillCoordinatorDeps) {
    this.deps = { ...deps, drill: { ...deps.drill, stopping: () => this.stopping } };
  }

  start(): void {
    const { config } = this.deps;
    if (!config.enabled) return;
    this.task = cron.schedule(config.schedule, () => this.track(this.runScheduled()), { name: 'failover-drills', timezone: config.timezone, noOverlap: true });
  }

  /** Stops the schedule; a drill under way skips its waits, rolls back and restores before this resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.task?.destroy();
    await Promise.allSettled([...this.running]);
  }

  /**
   * Whether the loop leaves this VirtualService alone: only while a drill of this watcher is on it.
   * The mark on the object alone never blinds the loop (anyone may write an annotation): a drill
   * another watcher left behind is guarded like any cutover until it is ended below.
   */
  busy(vs: VirtualService): boolean {
    return this.inFlight.has(keyOf(vs));
  }

  /** Each watcher cycle, as leader: drills people asked for start, drills a stopped watcher left behind end. */
  reconcile(guarded: readonly VirtualService[]): void {
    if (this.stopping || this.deps.dryRun) return;
    for (const vs of guarded) {
      if (this.inFlight.has(keyOf(vs))) continue;
      const requestedAt = vs.metadata.annotations?.[DRILL_REQUESTED_AT];
      if (requestedAt !== undefined && lastReport(vs)?.requestedAt !== requestedAt) {
        this.track(this.drill(vs, { kind: 'request', requestedAt }));
        continue;
      }
      const mark = drillMark(vs);
      const age = mark ? this.deps.drill.clock.now().getTime() - mark.startedAtMs : 0;
      // A start in the future is no drill of ours either.
      if (mark && (age >= this.staleAfterMs() || age < 0)) this.track(this.endOrphan(vs, mark.id));
    }
  }

  /** The scheduled run: every opted-in guarded VirtualService, one after the other. */
  async runScheduled(): Promise<void> {
    const { deps } = this;
    if (this.stopping || !deps.elector.isLeader()) return;
    if (!deps.objects.synced()) {
      deps.log.warn({}, 'scheduled failover drills skipped: watch caches not synced yet');
      return;
    }
    const targets = deps.objects.virtualServices().filter((vs) => isWatched(vs, deps.objects, deps.mesh) && optedInForDrills(vs, deps.objects));
    deps.metrics.scheduledRun(targets.length);
    deps.log.info({ virtualServices: targets.length }, `scheduled failover drills: ${targets.length} opted-in VirtualService${targets.length === 1 ? '' : 's'}`);
    for (const vs of targets) {
      if (this.stopping || !deps.elector.isLeader()) return;
      await this.drill(vs, { kind: 'schedule', requestedAt: null });
    }
  }

  private async drill(vs: VirtualService, trigger: { kind: DrillTrigger; requestedAt: string | null }): Promise<void> {
    const key = keyOf(vs);
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    try {
      const report = await this.runOne(vs, trigger);
      await this.publish(vs, report);
    } catch (err) {
      this.deps.log.error({ namespace: vs.metadata.namespace, virtualService: vs.metadata.name, err: String(err) }, 'failover drill failed unexpectedly');
    } finally {
      this.inFlight.delete(key);
    }
  }

  private runOne(vs: VirtualService, trigger: { kind: DrillTrigger; requestedAt: string | null }): Promise<DrillReport> {
    const { deps } = this;
    const skip = (reason: string): DrillReport => skippedReport(vs, trigger, reason, deps.drill.clock.now(), deps.config.sharePercent);
    if (deps.dryRun) return Promise.resolve(skip('the watcher runs in dry run: it never patches, so it does not drill'));
    if (!optedInForDrills(vs, deps.objects)) {
      return Promise.resolve(skip(`not opted in for drills; fix: kubectl annotate virtualservice ${vs.metadata.name} -n ${vs.metadata.namespace} bluegreen-guard.io/drill=enabled`));
    }
    return runDrill(vs, trigger, deps.drill, deps.config);
  }

  /** Event, log line, metrics, the report on the object and, when it went wrong, an alert. */
  private async publish(vs: VirtualService, report: DrillReport): Promise<void> {
    const { deps } = this;
    deps.metrics.drill(report);
    const fields = { namespace: report.namespace, virtualService: report.name, drill: report.id, outcome: report.outcome, trigger: report.trigger, times: report.times, rollbackSeconds: report.rollbackSeconds };
    const summary = summarize(report);
    if (report.outcome === 'passed' || report.outcome === 'skipped') deps.log.info(fields, summary);
    else deps.log.warn(fields, summary);
    // Dry run writes nothing to the cluster, not even the report.
    if (deps.dryRun) return;
    const event: GuardEvent = {
      type: report.outcome === 'passed' || report.outcome === 'skipped' ? 'Normal' : 'Warning',
      reason: ({ passed: 'DrillPassed', failed: 'DrillFailed', refused: 'DrillRefused', skipped: 'DrillSkipped' } as const)[report.outcome],
      message: summary,
      at: new Date(report.finishedAt),
    };
    await deps.events.record(vs, event).catch((err: unknown) => deps.log.warn({ ...fields, err: String(err) }, `could not record Event ${event.reason}`));
    if (report.outcome === 'failed' || report.outcome === 'refused') {
      const at = new Date(report.finishedAt);
      const alert = guardAlert({
        alertname: GUARD_ALERT_NAMES.drillFailed,
        severity: 'warning',
        namespace: report.namespace,
        service: report.name,
        reason: report.outcome === 'refused' ? 'drill-refused' : 'drill-failed',
        summary,
        description: report.reason,
        labels: { ...deps.drill.alertLabels.extraLabels, virtualservice: report.name, drill: report.id },
        startsAt: at,
        endsAt: new Date(at.getTime() + 60 * 60_000),
        generatorUrl: deps.drill.alertLabels.generatorUrl,
      });
      await deps.alerts.send([alert]).catch((err: unknown) => deps.log.error({ ...fields, err: String(err) }, 'Alertmanager did not take the failed drill\'s alert'));
    }
    await this.recordReport(vs, report);
  }

  private async recordReport(vs: VirtualService, report: DrillReport): Promise<void> {
    const { store } = this.deps.drill;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const fresh = await store.get(vs.metadata.namespace, vs.metadata.name);
        await store.patch(vs.metadata.namespace, vs.metadata.name, annotationOps(fresh.metadata.annotations, { [DRILL_REPORT]: JSON.stringify(report) }));
        return;
      } catch (err) {
        if (attempt === 3) this.deps.log.warn({ namespace: vs.metadata.namespace, virtualService: vs.metadata.name, err: String(err) }, 'the drill report was not recorded on the VirtualService');
      }
    }
  }

  /** A drill whose watcher stopped mid-way: the candidate may still have its share. Roll back like the drill would have. */
  private async endOrphan(vs: VirtualService, id: string): Promise<void> {
    const key = keyOf(vs);
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    try {
      const { drill } = this.deps;
      const state = readCutoverState(vs, drill.mesh);
      const result = await drill.rollBack(vs, { roles: state.roles, reason: `failover drill ${id} was interrupted (its watcher stopped); rolled back to ${state.roles.stableSubset}`, at: drill.clock.now(), annotations: { [DRILL_IN_PROGRESS]: null } });
      // Nothing to roll back: the mark alone is left, and goes.
      if (result.outcome === 'already-rolled-back') {
        const fresh = await drill.store.get(vs.metadata.namespace, vs.metadata.name);
        await drill.store.patch(vs.metadata.namespace, vs.metadata.name, annotationOps(fresh.metadata.annotations, { [DRILL_IN_PROGRESS]: null }));
      }
      const now = drill.clock.now();
      const report: DrillReport = {
        ...skippedReport(vs, { kind: 'schedule', requestedAt: null }, '', now, this.deps.config.sharePercent),
        id,
        outcome: 'failed',
        reason: `drill ${id} was interrupted: its watcher stopped before it ended; the rollback ${result.outcome}${result.outcome === 'failed' ? `: ${result.error}` : ''}`,
        stableSubset: state.roles.stableSubset,
      };
      await this.publish(vs, report);
    } finally {
      this.inFlight.delete(key);
    }
  }

  private staleAfterMs(): number {
    return (2 * this.deps.config.trafficTimeoutSeconds + 120) * 1000;
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.deps.log.error({ err: String(err) }, 'failover drill failed unexpectedly')).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }
}

function drillMark(vs: VirtualService): { id: string; startedAtMs: number } | undefined {
  const raw = vs.metadata.annotations?.[DRILL_IN_PROGRESS];
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as { id?: unknown; startedAt?: unknown };
    const startedAtMs = typeof parsed.startedAt === 'string' ? Date.parse(parsed.startedAt) : NaN;
    return { id: typeof parsed.id === 'string' ? parsed.id : 'unknown', startedAtMs: Number.isFinite(startedAtMs) ? startedAtMs : 0 };
  } catch {
    // Unreadable: treated as old, so it is rolled back rather than left.
    return { id: 'unknown', startedAtMs: 0 };
  }
}

/** The report recorded on the object, when readable. */
export function lastReport(vs: VirtualService): DrillReport | undefined {
  const raw = vs.metadata.annotations?.[DRILL_REPORT];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as DrillReport;
  } catch {
    return undefined;
  }
}

function skippedReport(vs: VirtualService, trigger: { kind: DrillTrigger; requestedAt: string | null }, reason: string, at: Date, sharePercent: number): DrillReport {
  return {
    id: `${at.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-skip`,
    namespace: vs.metadata.namespace,
    name: vs.metadata.name,
    trigger: trigger.kind,
    requestedAt: trigger.requestedAt,
    outcome: 'skipped',
    reason,
    stableSubset: '',
    candidateSubset: null,
    sharePercent,
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    times: { raise: null, trafficToCandidate: null, rollback: null, trafficBack: null, restore: null, total: 0 },
    rollbackSeconds: null,
    alertDelivered: null,
    raised: '',
  };
}

const ms = (n: number | null): string => (n === null ? 'not seen' : `${(n / 1000).toFixed(1)} s`);

/** One line for the Event, the log and the alert. */
export function summarize(r: DrillReport): string {
  const what = `failover drill ${r.id} (${r.trigger})`;
  switch (r.outcome) {
    case 'skipped':
      return `${what} skipped: ${r.reason}`;
    case 'refused':
      return `${what} refused: ${r.reason}`;
    case 'passed':
    case 'failed': {
      const steps = `raise to ${r.sharePercent} % on ${r.candidateSubset ?? '?'} admitted in ${ms(r.times.raise)}, traffic seen on it after ${ms(r.times.trafficToCandidate)}; rollback patched and verified in ${ms(r.times.rollback)}, traffic back on ${r.stableSubset} after ${ms(r.times.trafficBack)} (rollback ${r.rollbackSeconds === null ? 'not confirmed' : `${r.rollbackSeconds.toFixed(1)} s`}, runbook ≤ 120 s); alert ${r.alertDelivered === null ? 'not sent' : r.alertDelivered ? 'delivered' : 'NOT delivered'}; weights restored in ${ms(r.times.restore)}; total ${ms(r.times.total)}`;
      return r.outcome === 'passed' ? `${what} passed: ${steps}` : `${what} FAILED: ${r.reason}${r.times.raise === null ? '' : `. ${steps}`}`;
    }
  }
}
