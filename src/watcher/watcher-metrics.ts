// The watcher's own metrics on /metrics (prom-client, a registry per process,
// no global default registry): what it evaluated, what it decided, what it
// wrote, how Prometheus answered, and whether this replica leads.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DrillReport } from './drill.js';
import type { DrillMetrics } from './drills.js';
import type { FindingStatus, Verdict, WatchFinding } from './verdict.js';

/** What the loop reports. A narrow port, so loop tests can count without prom-client. */
export interface LoopMetrics {
  cycle(durationMs: number, guardedServices: number, evaluatedServices: number): void;
  evaluation(verdict: Verdict, findings: readonly WatchFinding[]): void;
  rollback(outcome: string, conflicts: number): void;
  stateWrite(outcome: string): void;
  alertsFailed(count: number): void;
  leader(isLeader: boolean): void;
}

export class WatcherMetrics implements LoopMetrics, DrillMetrics {
  readonly registry: Registry;
  private readonly cycles: Histogram;
  private readonly guarded: Gauge;
  private readonly evaluated: Gauge;
  private readonly evaluations: Counter<'verdict'>;
  private readonly verdicts: Counter<'rule' | 'status'>;
  private readonly rollbacks: Counter<'outcome'>;
  private readonly conflicts: Counter;
  private readonly writes: Counter<'outcome'>;
  private readonly alertFailures: Counter;
  private readonly alertsUndelivered: Gauge;
  private readonly alertsDroppedTotal: Counter;
  private readonly leading: Gauge;
  private readonly queries: Histogram<'kind' | 'ok'>;
  private readonly drillDurations: Histogram<'outcome'>;
  private readonly drillRollbacks: Histogram;
  private readonly drillRuns: Counter;
  private readonly drillTargets: Gauge;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.cycles = new Histogram({
      name: 'bluegreen_guard_watcher_cycle_duration_seconds',
      help: 'Time one evaluation cycle took, from listing guarded services to the last action.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.guarded = new Gauge({ name: 'bluegreen_guard_watcher_guarded_virtualservices', help: 'Guarded VirtualServices seen in the last cycle.', registers });
    this.evaluated = new Gauge({ name: 'bluegreen_guard_watcher_evaluated_services', help: 'Candidates with traffic evaluated in the last cycle.', registers });
    this.evaluations = new Counter({ name: 'bluegreen_guard_watcher_evaluations_total', help: 'Service evaluations, by verdict.', labelNames: ['verdict'], registers });
    this.verdicts = new Counter({ name: 'bluegreen_guard_watcher_findings_total', help: 'Rule findings, by rule and status.', labelNames: ['rule', 'status'], registers });
    this.rollbacks = new Counter({
      name: 'bluegreen_guard_watcher_rollbacks_total',
      help: 'Rollback attempts, by outcome (rolled-back, already-rolled-back, blocked, not-verified, failed, dry-run).',
      labelNames: ['outcome'],
      registers,
    });
    // Born at 0: a series that first appears at 1 has no increase, so the
    // dashboard's rollback annotation and increase() would miss the first one.
    for (const outcome of ['rolled-back', 'blocked', 'not-verified', 'failed']) this.rollbacks.inc({ outcome }, 0);
    this.conflicts = new Counter({ name: 'bluegreen_guard_watcher_patch_conflicts_total', help: 'Rollback patches refused because the VirtualService changed (409/422), then retried.', registers });
    this.writes = new Counter({ name: 'bluegreen_guard_watcher_state_writes_total', help: 'Cutover state recorded in annotations, by outcome.', labelNames: ['outcome'], registers });
    this.alertFailures = new Counter({ name: 'bluegreen_guard_watcher_alert_post_failures_total', help: 'Alerts Alertmanager did not accept.', registers });
    this.alertsUndelivered = new Gauge({
      name: 'bluegreen_guard_watcher_alerts_undelivered',
      help: 'Alerts Alertmanager has not accepted yet, kept and re-sent with backoff.',
      registers,
    });
    this.alertsDroppedTotal = new Counter({
      name: 'bluegreen_guard_watcher_alerts_dropped_total',
      help: 'Undelivered alerts given up because more were pending than alertmanagerMaxPending.',
      registers,
    });
    this.leading = new Gauge({ name: 'bluegreen_guard_watcher_leader', help: '1 while this replica holds the Lease and acts, 0 on standby.', registers });
    this.queries = new Histogram({
      name: 'bluegreen_guard_watcher_prometheus_query_duration_seconds',
      help: 'Prometheus query latency, by query kind and whether it was answered.',
      labelNames: ['kind', 'ok'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.drillDurations = new Histogram({
      name: 'bluegreen_guard_drill_duration_seconds',
      help: 'Failover drills, start to end (raise, rollback, traffic back, restore), by outcome (passed, failed, refused, skipped).',
      labelNames: ['outcome'],
      buckets: [1, 5, 10, 20, 30, 60, 90, 120, 180, 300],
      registers,
    });
    this.drillRollbacks = new Histogram({
      name: 'bluegreen_guard_drill_rollback_seconds',
      help: "A drill's rollback, from its start until Prometheus shows the candidate's traffic gone (the runbook allows 120 s).",
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    });
    this.drillRuns = new Counter({ name: 'bluegreen_guard_drill_scheduled_runs_total', help: 'Scheduled drill runs made as leader (drills.schedule).', registers });
    this.drillTargets = new Gauge({ name: 'bluegreen_guard_drill_opted_in_virtualservices', help: 'Guarded VirtualServices opted in for drills, at the last scheduled run.', registers });
  }

  scheduledRun(optedIn: number): void {
    this.drillRuns.inc();
    this.drillTargets.set(optedIn);
  }

  drill(report: DrillReport): void {
    this.drillDurations.observe({ outcome: report.outcome }, report.times.total / 1000);
    if (report.rollbackSeconds !== null) this.drillRollbacks.observe(report.rollbackSeconds);
  }

  cycle(durationMs: number, guardedServices: number, evaluatedServices: number): void {
    this.cycles.observe(durationMs / 1000);
    this.guarded.set(guardedServices);
    this.evaluated.set(evaluatedServices);
  }

  evaluation(verdict: Verdict, findings: readonly WatchFinding[]): void {
    this.evaluations.inc({ verdict });
    for (const f of findings) this.verdicts.inc({ rule: f.rule, status: f.status satisfies FindingStatus });
  }

  rollback(outcome: string, conflicts: number): void {
    this.rollbacks.inc({ outcome });
    if (conflicts > 0) this.conflicts.inc(conflicts);
  }

  stateWrite(outcome: string): void {
    this.writes.inc({ outcome });
  }

  alertsFailed(count: number): void {
    this.alertFailures.inc(count);
  }

  /** Hooks for RetryingAlertSink. */
  alertsPending(count: number): void {
    this.alertsUndelivered.set(count);
  }

  alertsDropped(count: number): void {
    this.alertsDroppedTotal.inc(count);
  }

  leader(isLeader: boolean): void {
    this.leading.set(isLeader ? 1 : 0);
  }

  /** Hook for PrometheusMetricsSource's onQuery. */
  prometheusQuery(event: { kind: string; durationMs: number; ok: boolean }): void {
    this.queries.observe({ kind: event.kind, ok: String(event.ok) }, event.durationMs / 1000);
  }
}
