// A WatcherLoop wired to fakes through its own ports: a VirtualService store
// that applies JSON Patches like the API server, a watch cache that only sees
// the store when told to sync (so tests can make it lag), a scripted
// evaluator, and recorders for alerts, events, promotions and metrics.
import type { PostableAlert } from '../../../../src/alertmanager/alert-sink.js';
import { defaultWatcherConfig } from '../../../../src/config/watcher-config.js';
import type { DeploymentPromoter, PromotionResult, PromotionTarget } from '../../../../src/cluster/deployment-labeler.js';
import type { EventRecorder, GuardEvent } from '../../../../src/cluster/events.js';
import { VirtualServicePatcher } from '../../../../src/watcher/virtual-service-patcher.js';
import { GUARD_LABEL } from '../../../../src/istio/annotations.js';
import type { DestinationRule, VirtualService } from '../../../../src/istio/types.js';
import { WatcherLoop, type CycleEvaluator, type LoopConfig, type LoopDeps, type LoopLog, type WatchTarget } from '../../../../src/watcher/loop.js';
import type { Evaluation, Verdict, WatchFinding } from '../../../../src/watcher/verdict.js';
import type { LoopMetrics } from '../../../../src/watcher/watcher-metrics.js';
import { DEFAULT_MESH } from '../../../../src/istio/mesh.js';
import { FakeVirtualServiceStore } from './fake-virtual-service-store.js';

export const T0 = Date.parse('2025-03-02T10:00:00.000Z');

export class FakeClock {
  ms = T0;
  now(): Date {
    return new Date(this.ms);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** The watch cache: a copy of the store as of the last sync(). */
export class LaggingCache {
  private vss: VirtualService[] = [];
  private readonly drs: DestinationRule[] = [];
  private readonly namespaces = new Map<string, Record<string, string>>();
  isSynced = true;

  constructor(private readonly store: FakeVirtualServiceStore) {}

  sync(): void {
    this.vss = this.store.all();
  }
  addNamespace(name: string, guarded: boolean): void {
    this.namespaces.set(name, guarded ? { [GUARD_LABEL]: 'enabled' } : {});
  }
  addDestinationRule(dr: DestinationRule): void {
    this.drs.push(dr);
  }
  virtualServices(): readonly VirtualService[] {
    return this.vss;
  }
  destinationRules(namespace: string): readonly DestinationRule[] {
    return this.drs.filter((d) => d.metadata.namespace === namespace);
  }
  namespace(name: string) {
    const labels = this.namespaces.get(name);
    return labels ? { metadata: { labels } } : undefined;
  }
  synced(): boolean {
    return this.isSynced;
  }
}

export function finding(rule: WatchFinding['rule'], status: WatchFinding['status'], value: number | null = null, threshold: number | null = null): WatchFinding {
  return { rule, status, value, threshold, message: `${rule} is ${status}` };
}

export function evaluation(verdict: Verdict, ...findings: WatchFinding[]): Evaluation {
  return { verdict, findings };
}

/** Answers from a script keyed `namespace/service/version`; healthy when unscripted. */
export class ScriptedEvaluator implements CycleEvaluator {
  readonly calls: { targets: WatchTarget[]; at: Date }[] = [];
  readonly script = new Map<string, Evaluation>();
  failWith: Error | undefined;
  during: (() => void) | undefined;

  set(key: string, e: Evaluation): void {
    this.script.set(key, e);
  }

  evaluate(targets: readonly WatchTarget[], at: Date): Promise<Evaluation[]> {
    this.calls.push({ targets: [...targets], at });
    this.during?.();
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve(targets.map((t) => this.script.get(`${t.key.namespace}/${t.key.service}/${t.key.version}`) ?? evaluation('healthy', finding('error-rate', 'ok', 0.001, 0.05))));
  }
}

export class Recorder implements EventRecorder, DeploymentPromoter, LoopMetrics {
  readonly alerts: PostableAlert[] = [];
  readonly events: { vs: string; event: GuardEvent }[] = [];
  readonly promotions: PromotionTarget[] = [];
  readonly rollbacks: string[] = [];
  readonly writes: string[] = [];
  readonly verdicts: Verdict[] = [];
  leaderStates: boolean[] = [];
  alertsFail = false;

  sink = {
    send: (alerts: readonly PostableAlert[]): Promise<void> => {
      if (this.alertsFail) return Promise.reject(new Error('Alertmanager unreachable'));
      this.alerts.push(...alerts);
      return Promise.resolve();
    },
  };

  record(vs: VirtualService, event: GuardEvent): Promise<void> {
    this.events.push({ vs: `${vs.metadata.namespace}/${vs.metadata.name}`, event });
    return Promise.resolve();
  }
  promote(target: PromotionTarget): Promise<PromotionResult> {
    this.promotions.push(target);
    return Promise.resolve({ outcome: 'labelled', deployment: `${target.service}-${target.subsetLabels.version ?? ''}` });
  }
  cycle(): void {}
  evaluation(verdict: Verdict): void {
    this.verdicts.push(verdict);
  }
  rollback(outcome: string): void {
    this.rollbacks.push(outcome);
  }
  stateWrite(outcome: string): void {
    this.writes.push(outcome);
  }
  alertsFailed(): void {}
  leader(isLeader: boolean): void {
    this.leaderStates.push(isLeader);
  }

  alertNames(): string[] {
    return this.alerts.map((a) => a.labels.alertname ?? '');
  }
  eventReasons(): string[] {
    return this.events.map((e) => e.event.reason);
  }
}

const quiet: LoopLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export function loopConfig(overrides: Partial<LoopConfig> = {}): LoopConfig {
  const d = defaultWatcherConfig();
  return { intervalSeconds: d.intervalSeconds, dryRun: false, holdSeconds: d.holdSeconds, noData: d.noData, blind: d.blind, promotion: d.promotion, alerts: { extraLabels: {}, generatorUrl: null }, ...overrides };
}

export function harness(overrides: Partial<LoopConfig> = {}, deps: Pick<Partial<LoopDeps>, 'revisions' | 'readyPods' | 'recoveryProbe' | 'smokeRunner'> = {}) {
  const store = new FakeVirtualServiceStore();
  const cache = new LaggingCache(store);
  const clock = new FakeClock();
  const evaluator = new ScriptedEvaluator();
  const recorder = new Recorder();
  const elector = { leader: true, isLeader(): boolean { return this.leader; } };
  const loop = new WatcherLoop({
    objects: cache,
    evaluator,
    writer: new VirtualServicePatcher(store, { mesh: DEFAULT_MESH }),
    events: recorder,
    alerts: recorder.sink,
    promoter: recorder,
    elector,
    clock,
    metrics: recorder,
    log: quiet,
    mesh: DEFAULT_MESH,
    config: loopConfig(overrides),
    ...deps,
  });
  /** Puts the object in the cluster and in the (synced) cache. */
  const apply = (vs: VirtualService): void => {
    store.put(vs);
    cache.sync();
  };
  return { store, cache, clock, evaluator, recorder, elector, loop, apply };
}
