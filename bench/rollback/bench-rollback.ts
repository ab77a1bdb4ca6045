// Part 3, time to rollback on the real test bed (test/support/stage.ts): a
// kube-apiserver with Istio's CRDs, real Prometheus scraping mesh simulators,
// Alertmanager, the webhook and a watcher as processes with the chart's RBAC.
// Each run is the runbook's cutover to blue (admitted by the webhook), a 20 %
// 5xx fault injected into v2, and the watcher's rollback. Several services run
// their rounds side by side, as a watcher guarding many services would see them.
//
// Timestamps per run, all from this machine's clock:
//   fault          the simulator starts failing v2
//   condition      the first instant the breach condition held in Prometheus
//                  (asked afterwards, at 0.25 s resolution, with a query written
//                  independently of the product: test/support/rollback-timing.ts)
//   cycle          the evaluation instant of the watcher cycle that rolled back
//                  (it records it in the bluegreen-guard.io/rolled-back-at annotation)
//   verified       the watcher's "rolled back" log line: patched and read back
//   observed       this benchmark reading green at 100 % (polled every 50 ms)
//   traffic        the simulator, following the VirtualService, sending all to v1
import { performance } from 'node:perf_hooks';
import { ROLLED_BACK_AT } from '../../src/istio/annotations.js';
import { errorRateCondition, injectFaultAndAwaitRollback, waitForCleanWindow, type RollbackTiming } from '../../test/support/rollback-timing.js';
import type { Scene } from '../../test/support/stage-scene.js';
import { startStage, type Stage } from '../../test/support/stage.js';
import { waitUntil } from '../../test/support/wait-until.js';
import { ms, print, saveJson, section, table, type BenchContext } from '../lib/report.js';

export const TARGET_MS = 5000;

export interface RollbackRun {
  namespace: string;
  run: number;
  faultAtMs: number;
  conditionAtMs: number | null;
  cycleAtMs: number | null;
  verifiedAtMs: number | null;
  observedAtMs: number;
  trafficBackAtMs: number;
  /** The watcher's mean Prometheus query time and cycle time while this run's fault was on. */
  watcherQueryMeanMs: number;
  watcherCycleMeanMs: number;
}

export interface RollbackResults {
  runs: RollbackRun[];
  setup: { scrapeIntervalSeconds: number; evaluationIntervalSeconds: number; errorRate: Record<string, number>; services: number; stageStartSeconds: number };
  /** For reference: one JSON patch and one GET of a VirtualService on this API server, as another client sees them. */
  apiReferenceMs: { patch: number[]; get: number[] };
}

interface Watermark {
  querySum: number;
  queryCount: number;
  cycleSum: number;
  cycleCount: number;
}

async function watermark(stage: Stage): Promise<Watermark> {
  const m = (name: string) => stage.metric('watcher-0', name);
  return {
    querySum: await m('bluegreen_guard_watcher_prometheus_query_duration_seconds_sum'),
    queryCount: await m('bluegreen_guard_watcher_prometheus_query_duration_seconds_count'),
    cycleSum: await m('bluegreen_guard_watcher_cycle_duration_seconds_sum'),
    cycleCount: await m('bluegreen_guard_watcher_cycle_duration_seconds_count'),
  };
}

const meanMs = (sum: number, count: number): number => (count > 0 ? (1000 * sum) / count : Number.NaN);

/** The watcher's "rolled back" line for this namespace logged after `afterMs`. */
function verifiedAt(stage: Stage, namespace: string, afterMs: number): number | null {
  const line = stage.watchers
    .flatMap((w) => w.logLines())
    .find((l) => l.msg === 'rolled back' && l.namespace === namespace && Date.parse(String(l.time)) >= afterMs);
  return line ? Date.parse(String(line.time)) : null;
}

async function oneRun(stage: Stage, scene: Scene, run: number, progress: (line: string) => void): Promise<RollbackRun> {
  const mesh = scene.mesh;
  if (!mesh) throw new Error(`scene ${scene.namespace} has no traffic`);
  mesh.setBehaviour('v2', { errorRatio: 0 });
  // No 5xx of an earlier run may remain in the window, or the condition would be met early.
  await waitForCleanWindow(stage, scene);
  await scene.cutOver();
  await mesh.waitForShare('v2', 1, 30_000);
  await waitUntil(async () => (await stage.query(`sum(rate(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"}[5s])) > 0`)).length > 0, {
    timeoutMs: 30_000,
    intervalMs: 250,
    description: `Prometheus holding ${scene.namespace}'s new v2 traffic`,
  });
  const before = await watermark(stage);
  const timing: RollbackTiming = await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2, timeoutMs: 120_000 });
  const after = await watermark(stage);
  const cycle = Date.parse(timing.rolledBack.metadata.annotations?.[ROLLED_BACK_AT] ?? '');
  const result: RollbackRun = {
    namespace: scene.namespace,
    run,
    faultAtMs: timing.faultAtMs,
    conditionAtMs: timing.breachConditionTrueAtMs ?? null,
    cycleAtMs: Number.isFinite(cycle) ? cycle : null,
    // Filled in at the end: the watcher writes its log in 4 KB blocks, complete once it has stopped.
    verifiedAtMs: null,
    observedAtMs: timing.patchVerifiedAtMs,
    trafficBackAtMs: timing.trafficBackAtMs,
    watcherQueryMeanMs: meanMs(after.querySum - before.querySum, after.queryCount - before.queryCount),
    watcherCycleMeanMs: meanMs(after.cycleSum - before.cycleSum, after.cycleCount - before.cycleCount),
  };
  const c = result.conditionAtMs;
  progress(`rollback: ${scene.namespace} run ${run}: condition true → seen rolled back ${c === null ? '?' : ms(result.observedAtMs - c, 0)} ms, fault → traffic on v1 ${ms(result.trafficBackAtMs - result.faultAtMs, 0)} ms`);
  return result;
}

/** A JSON patch and a GET of the scene's VirtualService by the test's admin client (the patch is reviewed by the webhook, as the watcher's is). */
async function apiReference(stage: Stage, scene: Scene, times: number): Promise<{ patch: number[]; get: number[] }> {
  const path = `/apis/networking.istio.io/v1/namespaces/${scene.namespace}/virtualservices/${scene.service}`;
  const patch: number[] = [];
  const get: number[] = [];
  for (let i = 0; i < times; i++) {
    let t = performance.now();
    await stage.cp.api.call('PATCH', path, { body: [{ op: 'add', path: '/metadata/labels/bench-probe', value: String(i) }], contentType: 'application/json-patch+json' });
    patch.push(performance.now() - t);
    t = performance.now();
    await stage.cp.api.call('GET', path);
    get.push(performance.now() - t);
  }
  return { patch, get };
}

export async function benchRollback(ctx: BenchContext): Promise<RollbackResults> {
  section(`3. Time to rollback on the test bed (${ctx.quick ? 'quick' : 'full'})`);
  const services = ctx.quick ? 1 : 3;
  const runsPerService = ctx.quick ? 1 : 4;
  const started = performance.now();
  const stage = await startStage({ watchers: 1, onProgress: (s) => ctx.progress(`rollback: stage ${s.step} (${(s.durationMs / 1000).toFixed(1)} s): ${s.detail}`) });
  try {
    const scenes: Scene[] = [];
    for (let i = 0; i < services; i++) scenes.push(await stage.seed({ namespacePrefix: `bench${i}` }));
    const stageStartSeconds = (performance.now() - started) / 1000;
    const rounds = await Promise.all(
      scenes.map(async (scene, i) => {
        // Staggered so the services' faults do not line up.
        await new Promise((r) => setTimeout(r, i * 4000));
        const runs: RollbackRun[] = [];
        for (let run = 1; run <= runsPerService; run++) runs.push(await oneRun(stage, scene, run, ctx.progress));
        return runs;
      }),
    );
    const apiReferenceMs = await apiReference(stage, scenes[0] as Scene, ctx.quick ? 3 : 20);
    const condition = errorRateCondition(stage);
    await Promise.all(stage.watchers.map((w) => w.stop()));
    const runs = rounds.flat().map((run) => ({ ...run, verifiedAtMs: verifiedAt(stage, run.namespace, run.faultAtMs) }));
    const watcherConfig = stage.watcherConfigs[0] as { intervalSeconds?: number } | undefined;
    const results: RollbackResults = {
      runs,
      setup: {
        scrapeIntervalSeconds: stage.options.scrapeIntervalSeconds ?? 1,
        evaluationIntervalSeconds: watcherConfig?.intervalSeconds ?? Number.NaN,
        errorRate: { ...condition },
        services,
        stageStartSeconds,
      },
      apiReferenceMs,
    };
    printRollback(results);
    ctx.progress(`rollback: results in ${saveJson(ctx, 'rollback', results)}`);
    return results;
  } finally {
    await stage.stop();
  }
}

function stats(values: Array<number | null>): { median: number; max: number; n: number } {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: Number.NaN, max: Number.NaN, n: 0 };
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2, max: v[v.length - 1] as number, n: v.length };
}

function printRollback(r: RollbackResults): void {
  const s = r.setup;
  print(
    `${r.runs.length} rollbacks over ${s.services} services side by side (stage up in ${s.stageStartSeconds.toFixed(0)} s). Prometheus scrapes every ${s.scrapeIntervalSeconds} s; ` +
      `the watcher evaluates every ${s.evaluationIntervalSeconds} s; breach: 5xx ratio ≥ ${s.errorRate.ratio} at every ${s.errorRate.stepSeconds} s step of ${s.errorRate.windowSeconds} s (rate window ${s.errorRate.rateWindowSeconds} s), the seed's rule with windows a tenth as long.\n`,
  );
  const d = (a: (x: RollbackRun) => number | null, b: (x: RollbackRun) => number | null) => r.runs.map((x) => {
    const [p, q] = [a(x), b(x)];
    return p === null || q === null ? null : q - p;
  });
  const rows: Array<[string, Array<number | null>]> = [
    ['fault → breach condition true in Prometheus (the "sustained" window)', d((x) => x.faultAtMs, (x) => x.conditionAtMs)],
    ['breach condition true → patched and verified (watcher log)', d((x) => x.conditionAtMs, (x) => x.verifiedAtMs)],
    ['  of which: condition true → start of the cycle that acted', d((x) => x.conditionAtMs, (x) => x.cycleAtMs)],
    ['  of which: cycle start → patched and verified', d((x) => x.cycleAtMs, (x) => x.verifiedAtMs)],
    ['breach condition true → seen rolled back by a client (50 ms polls)', d((x) => x.conditionAtMs, (x) => x.observedAtMs)],
    ['fault → traffic back on v1 (mesh simulator)', d((x) => x.faultAtMs, (x) => x.trafficBackAtMs)],
    ['watcher: mean Prometheus query during the run', r.runs.map((x) => x.watcherQueryMeanMs)],
    ['watcher: mean cycle during the run', r.runs.map((x) => x.watcherCycleMeanMs)],
  ];
  print(table(['interval (ms)', 'median', 'max', 'runs'], rows.map(([name, values]) => {
    const st = stats(values);
    return [name, ms(st.median, 0), ms(st.max, 0), st.n];
  })));
  const ref = { patch: stats(r.apiReferenceMs.patch), get: stats(r.apiReferenceMs.get) };
  print(`\nFor reference, on this API server a client's JSON patch of a VirtualService (reviewed by the webhook) takes ${ms(ref.patch.median, 1)} ms (max ${ms(ref.patch.max, 1)}), a GET ${ms(ref.get.median, 1)} ms (max ${ms(ref.get.max, 1)}): the patch and the verifying read inside "cycle start → verified".`);
  const key = stats(d((x) => x.conditionAtMs, (x) => x.verifiedAtMs));
  print(`Target: breach condition true → patched and verified: median ${ms(key.median, 0)} ms, max ${ms(key.max, 0)} ms (target < ${TARGET_MS} ms: ${key.max < TARGET_MS ? 'met in every run' : 'MISSED'}; the seed allows 2 minutes).`);
}
