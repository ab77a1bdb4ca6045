// The seed's rollback, timed on the stage: inject a fault into blue in the mesh
// simulator, wait until the VirtualService is back on green, and ask
// Prometheus when the rollback condition first held. The condition is written
// here independently of the product: the 5xx ratio of the candidate, over the
// watcher's rate window, at or above the threshold at every step of the last
// window (the runbook's "5xx rate ≥ 5 % sustained over 2 minutes", shortened).
import type { Scene } from './stage-scene.js';
import { primaryWeightsOf } from './stage-scene.js';
import type { Stage } from './stage.js';
import type { KubeObject } from './kube-api.js';
import { waitUntil } from './wait-until.js';

export interface ErrorRateCondition {
  ratio: number;
  windowSeconds: number;
  stepSeconds: number;
  rateWindowSeconds: number;
}

export interface RollbackTiming {
  faultAtMs: number;
  /** When the test first read the VirtualService back with green at 100 % (polled every 50 ms). */
  patchVerifiedAtMs: number;
  /** The rolled-back object as read then. */
  rolledBack: KubeObject;
  /** When the mesh simulator, following the VirtualService by a watch, sent everything to v1 again. */
  trafficBackAtMs: number;
  /** First instant the condition held in Prometheus (undefined: never, at the resolution asked). */
  breachConditionTrueAtMs: number | undefined;
}

/** The watcher's error-rate condition as its config file says (the stage's profile). */
export function errorRateCondition(stage: Stage, index = 0): ErrorRateCondition {
  const watcher = stage.watcherConfigs[index];
  const errorRate = watcher?.errorRate as Partial<ErrorRateCondition> | undefined;
  if (!errorRate?.ratio || !errorRate.windowSeconds || !errorRate.stepSeconds || !errorRate.rateWindowSeconds) {
    throw new Error(`watcher-${index}'s config has no complete errorRate section: ${JSON.stringify(errorRate)}`);
  }
  return errorRate as ErrorRateCondition;
}

/** PromQL for the 5xx ratio of one version of the scene's service, as Istio's destination sidecars report it. */
export function errorRatioQuery(scene: Pick<Scene, 'namespace' | 'service'>, version: string, rateWindowSeconds: number): string {
  const selector = `reporter="destination", destination_service_namespace="${scene.namespace}", destination_service_name="${scene.service}", destination_version="${version}"`;
  return (
    `sum(rate(istio_requests_total{${selector}, response_code=~"5.."}[${rateWindowSeconds}s]))` +
    ` / sum(rate(istio_requests_total{${selector}}[${rateWindowSeconds}s]))`
  );
}

/**
 * First instant in [fromMs, toMs] at which the ratio was ≥ `condition.ratio`
 * at that instant and at every `stepSeconds` back to `windowSeconds` before
 * it, evaluated by Prometheus every `resolutionSeconds`.
 *
 * The instants are whole multiples of `resolutionSeconds` (which must divide
 * one second), so every whole second is one of them: the watcher evaluates at
 * whole seconds, and an instant at which it saw the condition hold is an
 * instant at which this finds it holding too. A grid at fromMs's phase (what
 * this did before) could miss that second and name the next grid point,
 * after the watcher had already acted: the "−93 ms" of an earlier benchmark.
 */
export async function conditionTrueAt(stage: Pick<Stage, 'queryRange'>, promql: string, condition: ErrorRateCondition, fromMs: number, toMs: number, resolutionSeconds = 0.25): Promise<number | undefined> {
  if (!Number.isInteger(1 / resolutionSeconds)) throw new Error(`conditionTrueAt: resolution ${resolutionSeconds} s must divide one second`);
  const onGrid = (seconds: number) => Math.ceil(seconds / resolutionSeconds - 1e-9) * resolutionSeconds;
  const from = onGrid(fromMs / 1000);
  const start = from - condition.windowSeconds;
  const end = toMs / 1000;
  const [series] = await stage.queryRange(promql, start, end, resolutionSeconds);
  if (!series) return undefined;
  const byIndex = new Map(series.values.map(([t, v]) => [Math.round((t - start) / resolutionSeconds), Number(v)]));
  const holds = (t: number) => {
    const value = byIndex.get(Math.round((t - start) / resolutionSeconds));
    return value !== undefined && value >= condition.ratio;
  };
  for (let t = from; t <= end; t += resolutionSeconds) {
    let all = true;
    for (let back = 0; back <= condition.windowSeconds + 1e-9 && all; back += condition.stepSeconds) all = holds(t - back);
    if (all) return Math.round(t * 1000);
  }
  return undefined;
}

/**
 * "Monitor Recovery: confirm metrics return to baseline": waits until no 5xx
 * of `version` is left in the watcher's window (its rate window included), so
 * a new cutover is judged on new traffic only.
 */
export async function waitForCleanWindow(stage: Stage, scene: Scene, version = 'v2', timeoutMs = 120_000): Promise<void> {
  const c = errorRateCondition(stage);
  const selector = `reporter="destination", destination_service_namespace="${scene.namespace}", destination_service_name="${scene.service}", destination_version="${version}", response_code=~"5.."`;
  const promql = `sum(increase(istio_requests_total{${selector}}[${c.windowSeconds + c.rateWindowSeconds}s])) > 0`;
  await waitUntil(async () => (await stage.query(promql)).length === 0, {
    timeoutMs,
    intervalMs: 500,
    description: `no 5xx of ${scene.namespace}/${scene.service} ${version} left in the last ${c.windowSeconds + c.rateWindowSeconds} s`,
  });
}

/** Injects `errorRatio` 5xx into v2 and waits for the watcher's rollback to green 100 %, then for the traffic to follow. */
export async function injectFaultAndAwaitRollback(stage: Stage, scene: Scene, options: { errorRatio?: number; timeoutMs?: number } = {}): Promise<RollbackTiming> {
  const mesh = scene.mesh;
  if (!mesh) throw new Error(`scene ${scene.namespace} runs no mesh simulator; seed it with traffic`);
  const faultAtMs = Date.now();
  mesh.setBehaviour('v2', { errorRatio: options.errorRatio ?? 0.2 });
  const { rolledBack, patchVerifiedAtMs } = await waitUntil(
    async () => {
      const vs = await scene.readVirtualService();
      return primaryWeightsOf(vs)[scene.stableSubset] === 100 ? { rolledBack: vs, patchVerifiedAtMs: Date.now() } : undefined;
    },
    { timeoutMs: options.timeoutMs ?? 180_000, intervalMs: 50, description: `VirtualService ${scene.namespace}/${scene.service} rolled back to ${scene.stableSubset} 100 %` },
  );
  const trafficBack = await mesh.waitForShare('v1', 1, 30_000);
  const condition = errorRateCondition(stage);
  const breachConditionTrueAtMs = await conditionTrueAt(stage, errorRatioQuery(scene, 'v2', condition.rateWindowSeconds), condition, faultAtMs, patchVerifiedAtMs + 5_000);
  return { faultAtMs, patchVerifiedAtMs, rolledBack, trafficBackAtMs: trafficBack.atMs, breachConditionTrueAtMs };
}

/** One line for the test log: the two intervals issue 4 asks for. */
export function describeTiming(t: RollbackTiming): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const fromBreach = t.breachConditionTrueAtMs === undefined ? 'n/a (condition never held at 0.25 s resolution)' : s(t.patchVerifiedAtMs - t.breachConditionTrueAtMs);
  return `fault injected → patch verified: ${s(t.patchVerifiedAtMs - t.faultAtMs)}; breach condition true in Prometheus → patch verified: ${fromBreach}; fault → traffic back on v1: ${s(t.trafficBackAtMs - t.faultAtMs)}`;
}
