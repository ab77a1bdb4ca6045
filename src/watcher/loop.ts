// One watcher cycle, and the timer that repeats it. A cycle lists the guarded
// VirtualServices from the watch cache, reads where each stands from its
// annotations, evaluates every candidate with traffic in ONE round (a fixed
// number of Prometheus queries however many services), then acts per service:
// breach → rollback (or, in dry run, an alert saying it would), warning →
// alert, no data / error → their alerts after their delays; and records the
// cutover's progress in annotations. Only the Lease holder acts.
import type { AlertSink, PostableAlert } from '../alertmanager/alert-sink.js';
import type { WatcherConfig } from '../config/watcher-config.js';
import type { DeploymentPromoter } from '../cluster/deployment-labeler.js';
import type { EventRecorder, GuardEvent } from '../cluster/events.js';
import type { Clock, LeaderElector } from '../cluster/lease-elector.js';
import type { RecordResult, RollbackRequest, RollbackResult } from './virtual-service-patcher.js';
import { isWatched } from '../istio/guard.js';
import type { Mesh } from '../istio/mesh.js';
import type { VirtualService } from '../istio/types.js';
import { cutoverStart, decideCutover, readCutoverState, type AnnotationChanges, type CutoverState } from './cutover-state.js';
import * as alerts from './guard-alerts.js';
import { refuseEmptyTarget, type ReadyPodSource } from './rollback-target.js';
import { followRecovery } from './follow-recovery.js';
import type { LoopIO } from './loop-io.js';
import type { RecoveryTarget, RecoveryTimes } from './recovery-probe.js';
import { DEFAULT_RECOVERY_POLICY, recoveryAnnotation, type RecoveryMeasurement, type RecoveryPolicy } from './recovery.js';
import { smokeBeforeTraffic } from './pre-traffic-smoke.js';
import { completionReport, podTimesChanges, recordZeroPercent, type PodTimesSource } from './cutover-timeline.js';
import type { SmokeTestResult, SmokeTestSpec } from './smoke-test.js';
import { DEFAULT_LATCH_POLICY, expireLatch, latchCandidates, recordLatch, type LatchPolicy, type RevisionSource } from './latch.js';
import { worst, type Evaluation, type ServiceKey, type WatchFinding } from './verdict.js';
import type { LoopMetrics } from './watcher-metrics.js';
import { serviceKey, subsetIdentity, type SubsetIdentity, type WatchedObjects } from './watch-targets.js';

/** A candidate to evaluate this cycle. */
export interface WatchTarget {
  virtualService: VirtualService;
  key: ServiceKey;
  subset: string;
  /** When its cutover began (recorded, or now if it begins this cycle). */
  cutoverStartedAt: Date | undefined;
}

/** Everything the rules need, gathered once per cycle for all targets. Returns one Evaluation per target, in order. */
export interface CycleEvaluator {
  evaluate(targets: readonly WatchTarget[], at: Date): Promise<Evaluation[]>;
}

/** The writes the loop makes to VirtualServices. VirtualServicePatcher implements it. */
export interface VirtualServiceWriter {
  rollBack(seen: VirtualService, request: RollbackRequest): Promise<RollbackResult>;
  recordAnnotations(seen: VirtualService, changes: Readonly<AnnotationChanges>): Promise<RecordResult>;
}

export interface LoopLog {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export type LoopConfig = Pick<WatcherConfig, 'intervalSeconds' | 'dryRun' | 'holdSeconds' | 'noData' | 'blind' | 'promotion'> & {
  alerts: Pick<WatcherConfig['alerts'], 'extraLabels' | 'generatorUrl'>;
  latch?: LatchPolicy;
  recovery?: RecoveryPolicy;
  /** The smoke test; with a URL, it also runs before traffic, while a candidate is at 0 %. */
  smokeTest?: WatcherConfig['smokeTest'];
};

export interface LoopDeps {
  objects: WatchedObjects & { synced(): boolean };
  evaluator: CycleEvaluator;
  writer: VirtualServiceWriter;
  events: EventRecorder;
  alerts: AlertSink;
  promoter: DeploymentPromoter;
  elector: LeaderElector;
  clock: Clock;
  metrics: LoopMetrics;
  log: LoopLog;
  mesh: Mesh;
  config: LoopConfig;
  /** Reads the revisions a rollback latches; without it, subsets are latched by name. */
  revisions?: RevisionSource;
  /** Counts the stable subset's Ready pods before a rollback; without it, the rollback goes ahead unchecked. */
  readyPods?: ReadyPodSource;
  /** Measures the stable version after a rollback; without it, recovery is not watched. */
  recoveryProbe?: (target: RecoveryTarget, times: RecoveryTimes) => Promise<RecoveryMeasurement>;
  /** Runs a smoke test (the cycle evaluator's); with revisions and smokeTest.url, candidates at 0 % are tested before traffic. */
  smokeRunner?: (spec: SmokeTestSpec) => Promise<SmokeTestResult>;
  /** Reads when the candidate's pods were created and Ready, for the cutover report; without it, those steps are unknown. */
  podTimes?: PodTimesSource;
  /** Failover drills (DrillCoordinator): started and ended from the cycle; a VirtualService under a drill is left to it. */
  drills?: { busy(vs: VirtualService): boolean; reconcile(guarded: readonly VirtualService[]): void };
}

export type CycleReport =
  | { ran: false; why: 'not-leader' | 'caches-not-synced' }
  | { ran: true; guarded: number; evaluated: number; rollbacks: number; alerts: number; durationMs: number };

interface Entry {
  vs: VirtualService;
  state: CutoverState;
  targets: { target: WatchTarget; identity: SubsetIdentity }[];
}

export class WatcherLoop {
  /** Dry run records nothing on the cluster; the cutover's progress is kept here instead, by uid. */
  private readonly dryRunAnnotations = new Map<string, Record<string, string | null>>();
  /** resourceVersion each VirtualService was rolled back from: a cache that has not caught up is not rolled back twice. */
  private readonly rolledBackFrom = new Map<string, string>();
  /** Since when each service has been without data / blind, for the alert delays. */
  private readonly noDataSince = new Map<string, number>();
  private readonly blindSince = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;
  private running = false;
  private stopped = true;
  private next: (() => void) | undefined;

  constructor(private readonly deps: LoopDeps) {}

  /** Runs a cycle now, then one every interval, measured from the start of the previous: never two at once. */
  start(): void {
    this.stopped = false;
    const next = (): void => {
      if (this.stopped) return;
      this.timer = undefined;
      this.running = true;
      const startedMs = Date.now();
      this.current = this.runCycle()
        .catch((err: unknown) => this.deps.log.error({ err: String(err) }, 'watcher cycle failed'))
        .finally(() => {
          this.running = false;
          if (this.stopped) return;
          const waitMs = Math.max(0, this.deps.config.intervalSeconds * 1000 - (Date.now() - startedMs));
          this.timer = setTimeout(next, waitMs);
        });
    };
    this.next = next;
    next();
  }

  /** Runs the next cycle now instead of at the end of the interval (e.g. on becoming leader); never while one runs. */
  wake(): void {
    if (this.stopped || this.running || !this.timer || !this.next) return;
    clearTimeout(this.timer);
    this.next();
  }

  /** Stops scheduling and waits for the cycle in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  async runCycle(): Promise<CycleReport> {
    const { deps } = this;
    const leader = deps.elector.isLeader();
    deps.metrics.leader(leader);
    if (!leader) return { ran: false, why: 'not-leader' };
    this.written.clear();
    if (!deps.objects.synced()) {
      deps.log.warn({}, 'watch caches not synced yet: skipping this cycle');
      return { ran: false, why: 'caches-not-synced' };
    }
    const startedMs = Date.now();
    const now = deps.clock.now();
    const guarded = deps.objects.virtualServices().filter((vs) => isWatched(vs, deps.objects, deps.mesh));
    deps.drills?.reconcile(guarded);
    const entries = guarded.filter((vs) => !deps.drills?.busy(vs)).map((vs) => this.entryFor(vs, now));
    const targets = entries.flatMap((e) => e.targets.map((t) => t.target));
    const { evaluations, roundError } = await this.evaluateAll(targets, now);
    let index = 0;
    const outcomes = await Promise.all(
      entries.map((entry) => {
        const evals = entry.targets.map(() => evaluations[index++] ?? BLIND);
        return this.act(entry, evals, now, roundError).catch((err: unknown) => {
          deps.log.error({ ...logKeys(entry.vs), err: String(err) }, 'acting on a VirtualService failed');
          return { rollbacks: 0, alerts: 0 };
        });
      }),
    );
    const durationMs = Date.now() - startedMs;
    deps.metrics.cycle(durationMs, entries.length, targets.length);
    const sum = (k: 'rollbacks' | 'alerts') => outcomes.reduce((a, o) => a + o[k], 0);
    return { ran: true, guarded: entries.length, evaluated: targets.length, rollbacks: sum('rollbacks'), alerts: sum('alerts'), durationMs };
  }

  private entryFor(vs: VirtualService, now: Date): Entry {
    const view = this.withDryRunState(vs);
    const state = readCutoverState(view, this.deps.mesh);
    const targets = state.active.map((candidate) => {
      const identity = subsetIdentity(view, candidate, this.deps.objects, this.deps.mesh);
      return { identity, target: { virtualService: view, key: serviceKey(candidate, identity), subset: candidate.subset, cutoverStartedAt: cutoverStart(state, now) } };
    });
    return { vs, state, targets };
  }

  private async evaluateAll(targets: readonly WatchTarget[], now: Date): Promise<{ evaluations: Evaluation[]; roundError?: string }> {
    if (targets.length === 0) return { evaluations: [] };
    try {
      return { evaluations: await this.deps.evaluator.evaluate(targets, now) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.deps.log.error({ err: message }, 'evaluation round failed: every service is judged blind this cycle');
      return { evaluations: [], roundError: message };
    }
  }

  private async act(entry: Entry, evals: Evaluation[], now: Date, roundError: string | undefined): Promise<{ rollbacks: number; alerts: number }> {
    const { deps } = this;
    const { vs, state } = entry;
    const findings = evals.flatMap((e) => e.findings);
    const verdict = worst(evals.map((e) => e.verdict));
    evals.forEach((e) => deps.metrics.evaluation(e.verdict, e.findings));
    const primary = entry.targets[0];
    const ctx = primary ? this.alertContext(vs, primary.target.key, now) : undefined;
    const outgoing: PostableAlert[] = [];

    if (verdict !== undefined && ctx && primary) {
      this.trackSince(this.noDataSince, ctx.key, verdict === 'no-data', now);
      this.trackSince(this.blindSince, ctx.key, verdict === 'error', now);
      const breached = findings.filter((f) => f.status === 'breached');
      if (verdict === 'breached' && !deps.config.dryRun) {
        const rolled = await this.rollBack(entry, breached, ctx, now, outgoing);
        // Rolled back (or already): the cutover is over. Otherwise the breach still
        // stands and the hold below starts over, so a failed rollback never ends stable.
        if (rolled !== 'not-rolled-back') {
          await this.send(outgoing, vs);
          return { rollbacks: rolled === 'rolled-back' ? 1 : 0, alerts: outgoing.length };
        }
      } else if (verdict === 'breached') {
        deps.log.warn({ ...logKeys(vs), rule: breached.map((f) => f.rule).join(',') }, 'dry run: would roll back');
        deps.metrics.rollback('dry-run', 0);
        outgoing.push(alerts.dryRunAlert(ctx, breached, state.roles.stableSubset));
      }
      outgoing.push(...alerts.warningAlerts(ctx, findings));
      const noDataFor = this.elapsedSeconds(this.noDataSince, ctx.key, now);
      if (verdict === 'no-data' && noDataFor >= deps.config.noData.alertAfterSeconds) {
        outgoing.push(alerts.noDataAlert(ctx, findings, deps.config.noData.severity, noDataFor));
      }
      const blindFor = this.elapsedSeconds(this.blindSince, ctx.key, now);
      if (verdict === 'error' && blindFor >= deps.config.blind.alertAfterSeconds) {
        outgoing.push(alerts.blindAlert(ctx, findings, deps.config.blind.severity, blindFor, roundError));
      }
    }

    if (state.phase === 'rolled-back') await this.followRecovery(vs, state, now, outgoing);
    if (state.active.length === 0) await this.smokeBeforeTraffic(vs, state, now);
    const transition = decideCutover(state, now, verdict, { holdSeconds: deps.config.holdSeconds });
    const report = transition.kind === 'confirmed-stable' ? completionReport(vs, state, 'hold-passed', now) : undefined;
    if (transition.kind !== 'none') {
      const timeline = transition.kind === 'cutover-began' ? await podTimesChanges(vs, primary && this.podTarget(primary), this.io(), this.lookupTimeoutMs()) : report?.annotations;
      const recorded = await this.record(vs, { ...transition.annotations, ...timeline });
      deps.log.info({ ...logKeys(vs), transition: transition.kind, recorded }, `cutover ${transition.kind}`);
      if (recorded && transition.kind === 'cutover-began') {
        await this.event(vs, { type: 'Normal', reason: 'CutoverStarted', message: `cutover to subset ${transition.candidate} began; watching its thresholds`, at: now });
      }
      if (recorded && transition.kind === 'confirmed-stable' && primary && ctx) {
        await this.event(vs, {
          type: 'Normal',
          reason: 'CutoverStable',
          message: `no breach for ${deps.config.holdSeconds} s at full traffic: ${transition.stable} is now the stable subset, ${transition.previousStable} the next candidate. ${report?.summary ?? ''}`.trimEnd(),
          at: now,
        });
        if (deps.config.promotion.enabled) await this.promote(vs, primary.target.key, primary.identity, ctx, outgoing);
      }
    }
    if (transition.kind === 'none') await this.expireLatch(vs, now);
    // The report's 0 % step is the least urgent write: it waits for a cycle in which nothing else wrote the object.
    if (state.active.length === 0 && !deps.config.dryRun && !this.written.has(uidOf(vs))) await recordZeroPercent(vs, state, now, this.io());
    await this.send(outgoing, vs);
    return { rollbacks: 0, alerts: outgoing.length };
  }

  private async rollBack(
    entry: Entry,
    breached: WatchFinding[],
    ctx: alerts.AlertContext,
    now: Date,
    outgoing: PostableAlert[],
  ): Promise<'rolled-back' | 'already-rolled-back' | 'skipped' | 'not-rolled-back'> {
    const { deps } = this;
    const { vs, state } = entry;
    const uid = uidOf(vs);
    if (vs.metadata.resourceVersion !== undefined && this.rolledBackFrom.get(uid) === vs.metadata.resourceVersion) {
      deps.log.debug(logKeys(vs), 'already rolled back from this version; the watch cache has not caught up');
      return 'skipped';
    }
    // Leadership can end while Prometheus answers: never write without it.
    if (!deps.elector.isLeader()) return 'skipped';
    const reason = alerts.breachReason(breached);
    // Both lookups at once: together they hold the rollback up by at most lookupTimeoutMs.
    const [target, latch] = await Promise.all([
      refuseEmptyTarget(vs, state, { objects: deps.objects, mesh: deps.mesh, source: deps.readyPods, timeoutMs: (deps.config.latch ?? DEFAULT_LATCH_POLICY).lookupTimeoutMs }),
      this.latchFor(entry, reason, now),
    ]);
    if (target?.unknown) deps.log.warn(logKeys(vs), target.unknown);
    const recovery = this.recoveryWatched() ? recoveryAnnotation({ state: 'pending', rolledBackAt: now.toISOString(), alertReason: breached[0]?.rule ?? 'breach', candidateVersion: ctx.key.version }) : {};
    const report = completionReport(vs, state, 'rolled-back', now);
    const annotations = { ...latch, ...recovery, ...report.annotations };
    const result = target?.blocked ?? (await deps.writer.rollBack(vs, { roles: { stableSubset: state.roles.stableSubset, candidateSubsets: state.roles.candidateSubsets }, reason, at: now, annotations }));
    deps.metrics.rollback(result.outcome, result.conflicts);
    const fields = { ...logKeys(vs), rule: breached.map((f) => f.rule).join(','), outcome: result.outcome, conflicts: result.conflicts };
    switch (result.outcome) {
      case 'already-rolled-back':
        deps.log.info(fields, 'breach, but the VirtualService is already back on the stable subset');
        return 'already-rolled-back';
      case 'rolled-back': {
        if (vs.metadata.resourceVersion !== undefined) this.rolledBackFrom.set(uid, vs.metadata.resourceVersion);
        const summary = `traffic back on ${state.roles.stableSubset} 100 % and verified: ${alerts.describeChanges(result.changes)}. Why: ${reason}. ${report.summary}`;
        deps.log.warn({ ...fields, changes: result.changes }, 'rolled back');
        await this.event(vs, { type: 'Warning', reason: 'RolledBack', message: summary, at: now });
        outgoing.push(alerts.rolledBackAlert(ctx, breached, state.roles.stableSubset, result));
        return 'rolled-back';
      }
      default: {
        deps.log.error({ ...fields, result }, 'rollback did not complete');
        const message = result.outcome === 'failed' ? result.error : result.outcome === 'blocked' ? result.blocked.map((b) => b.message).join('; ') : result.problems.join('; ');
        await this.event(vs, { type: 'Warning', reason: result.outcome === 'blocked' ? 'RollbackBlocked' : 'RollbackFailed', message: `rollback ${result.outcome}: ${message}`, at: now });
        outgoing.push(alerts.rollbackFailedAlert(ctx, breached, result));
        return 'not-rolled-back';
      }
    }
  }

  /** Where the candidate's pods are, for the cutover report's deploy and ready steps. */
  private podTarget(t: Entry['targets'][number]): { namespace: string; service: string; subsetLabels: Record<string, string> } | undefined {
    // Without the subset's labels the Service's selector alone would take the stable subset's pods too.
    if (Object.keys(t.identity.labels).length === 0) return undefined;
    return { namespace: t.target.key.namespace, service: t.target.key.service, subsetLabels: t.identity.labels };
  }

  private lookupTimeoutMs(): number {
    return (this.deps.config.latch ?? DEFAULT_LATCH_POLICY).lookupTimeoutMs;
  }

  /** Last pre-traffic smoke test per VirtualService and subset (a cache of throttling only). */
  private readonly smokedAtMs = new Map<string, number>();

  private smokeBeforeTraffic(vs: VirtualService, state: CutoverState, now: Date): Promise<void> {
    return smokeBeforeTraffic(vs, state, now, this.smokedAtMs, this.io());
  }

  private recoveryWatched(): boolean {
    return (this.deps.config.recovery ?? DEFAULT_RECOVERY_POLICY).enabled && this.deps.recoveryProbe !== undefined;
  }

  private followRecovery(vs: VirtualService, state: CutoverState, now: Date, outgoing: PostableAlert[]): Promise<void> {
    if (!this.recoveryWatched()) return Promise.resolve();
    return followRecovery(vs, state, now, outgoing, this.io());
  }

  /** What the helpers beside the loop may do: write state, record Events, name alerts. */
  private io(): LoopIO {
    return {
      deps: this.deps,
      record: (vs, changes) => this.record(vs, changes),
      event: (vs, e) => this.event(vs, e),
      alertContext: (vs, key, now) => this.alertContext(vs, key, now),
    };
  }

  /** The latch annotations for this rollback, or none when latching is off. */
  private async latchFor(entry: Entry, reason: string, now: Date): Promise<AnnotationChanges | undefined> {
    const policy = this.deps.config.latch ?? DEFAULT_LATCH_POLICY;
    if (!policy.enabled) return undefined;
    const labels = new Map(entry.targets.map((t) => [t.target.subset, t.identity.labels]));
    const source = this.deps.revisions ?? { revisionsOf: () => Promise.reject(new Error('no revision source configured')) };
    const record = await recordLatch(entry.vs, latchCandidates(entry.state, (s) => labels.get(s)), source, {
      at: now,
      reason,
      clusterDomain: this.deps.mesh.clusterDomain,
      timeoutMs: policy.lookupTimeoutMs,
    });
    if (record.problems.length > 0) this.deps.log.warn({ ...logKeys(entry.vs), err: record.problems.join('; ') }, 'revisions not read: the rollback latches the subsets by name');
    return record.annotations;
  }

  /** Removes latch entries past the configured expiry. */
  private async expireLatch(vs: VirtualService, now: Date): Promise<void> {
    const expiry = expireLatch(vs, now, (this.deps.config.latch ?? DEFAULT_LATCH_POLICY).expirySeconds);
    if (!expiry || this.deps.config.dryRun) return;
    if (await this.record(vs, expiry.annotations)) {
      const what = expiry.expired.map((e) => `subset ${e.subset} of ${e.host} (rolled back ${e.at})`).join(', ');
      this.deps.log.info({ ...logKeys(vs) }, `rollback latch expired: ${what}`);
      await this.event(vs, { type: 'Normal', reason: 'RollbackLatchExpired', message: `rollback latch expired for ${what}: traffic may go there again`, at: now });
    }
  }

  private async promote(vs: VirtualService, key: ServiceKey, identity: SubsetIdentity, ctx: alerts.AlertContext, outgoing: PostableAlert[]): Promise<void> {
    const { promotion } = this.deps.config;
    if (this.deps.config.dryRun) return;
    const result = await this.deps.promoter.promote({ namespace: key.namespace, service: key.service, subsetLabels: identity.labels }, { key: promotion.labelKey, value: promotion.labelValue });
    if (result.outcome === 'failed') {
      this.deps.log.error({ ...logKeys(vs), err: result.error }, 'promotion label not set');
      outgoing.push(alerts.promotionFailedAlert(ctx, result.error));
      return;
    }
    if (result.outcome === 'labelled') {
      await this.event(vs, { type: 'Normal', reason: 'Promoted', message: `Deployment ${result.deployment} labelled ${promotion.labelKey}=${promotion.labelValue}`, at: ctx.at });
    }
  }

  /** The objects written (or found changed) this cycle. */
  private readonly written = new Set<string>();

  /** Writes state to annotations (dry run: to memory). True when it is recorded. */
  private async record(vs: VirtualService, changes: Readonly<AnnotationChanges>): Promise<boolean> {
    if (this.deps.config.dryRun) {
      const uid = uidOf(vs);
      this.dryRunAnnotations.set(uid, { ...(this.dryRunAnnotations.get(uid) ?? {}), ...changes });
      this.deps.metrics.stateWrite('dry-run');
      return true;
    }
    if (!this.deps.elector.isLeader()) return false;
    const result = await this.deps.writer.recordAnnotations(vs, changes);
    // After a write (or a conflict) the object seen this cycle is stale: a second write on it would conflict.
    if (result.outcome === 'recorded' || result.outcome === 'conflict') this.written.add(uidOf(vs));
    this.deps.metrics.stateWrite(result.outcome);
    if (result.outcome === 'failed') this.deps.log.error({ ...logKeys(vs), err: result.error }, 'recording cutover state failed');
    return result.outcome === 'recorded' || result.outcome === 'unchanged';
  }

  private withDryRunState(vs: VirtualService): VirtualService {
    if (!this.deps.config.dryRun) return vs;
    const overlay = this.dryRunAnnotations.get(uidOf(vs));
    if (!overlay) return vs;
    const annotations = { ...(vs.metadata.annotations ?? {}) };
    for (const [k, v] of Object.entries(overlay)) {
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    }
    return { ...vs, metadata: { ...vs.metadata, annotations } };
  }

  private async event(vs: VirtualService, event: GuardEvent): Promise<void> {
    if (this.deps.config.dryRun) return;
    try {
      await this.deps.events.record(vs, event);
    } catch (err) {
      this.deps.log.warn({ ...logKeys(vs), err: err instanceof Error ? err.message : String(err) }, `could not record Event ${event.reason}`);
    }
  }

  private async send(outgoing: PostableAlert[], vs: VirtualService): Promise<void> {
    if (outgoing.length === 0) return;
    try {
      await this.deps.alerts.send(outgoing);
    } catch (err) {
      this.deps.metrics.alertsFailed(outgoing.length);
      this.deps.log.error({ ...logKeys(vs), err: err instanceof Error ? err.message : String(err), alerts: outgoing.map((a) => a.labels.alertname) }, 'Alertmanager did not take the alerts');
    }
  }

  private alertContext(vs: VirtualService, key: ServiceKey, now: Date): alerts.AlertContext {
    const { config } = this.deps;
    // Conditions are re-sent every cycle: they resolve a few intervals after they stop.
    const endsAt = new Date(now.getTime() + Math.max(3 * config.intervalSeconds, 60) * 1000);
    return { virtualService: { namespace: vs.metadata.namespace, name: vs.metadata.name }, key, at: now, extraLabels: config.alerts.extraLabels, generatorUrl: config.alerts.generatorUrl, endsAt };
  }

  private trackSince(map: Map<string, number>, key: ServiceKey, active: boolean, now: Date): void {
    const k = `${key.namespace}/${key.service}/${key.version}`;
    if (!active) map.delete(k);
    else if (!map.has(k)) map.set(k, now.getTime());
  }

  private elapsedSeconds(map: Map<string, number>, key: ServiceKey, now: Date): number {
    const since = map.get(`${key.namespace}/${key.service}/${key.version}`);
    return since === undefined ? 0 : Math.floor((now.getTime() - since) / 1000);
  }
}

/** An evaluation that could not be made: the guard is blind, never a silent pass. */
const BLIND: Evaluation = { verdict: 'error', findings: [] };

function logKeys(vs: VirtualService): Record<string, string> {
  return { namespace: vs.metadata.namespace, virtualService: vs.metadata.name, uid: vs.metadata.uid ?? '' };
}

/** A VirtualService's key in the loop's memory: its uid, or namespace/name before it has one. */
function uidOf(vs: VirtualService): string {
  return vs.metadata.uid ?? `${vs.metadata.namespace}/${vs.metadata.name}`;
}
