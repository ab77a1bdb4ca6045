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
import type { BulkMeshExporter } from '../../test/support/bulk-mesh-exporter.js';
import type { Scene } from '../../test/support/stage-scene.js';
import { startStage, type Stage } from '../../test/support/stage.js';
import { waitUntil } from '../../test/support/wait-until.js';
import { ms, print, saveJson, section, table, type BenchContext } from '../lib/report.js';
import { prepareExtraServices, type ExtraServices } from './extra-services.js';

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
  /** Prometheus queries per cycle over the same span. */
  watcherQueriesPerCycle: number;
  /** Services the watcher evaluated in its last cycle, read before and after the run (the smaller). */
  watcherEvaluatedServices: number;
}

/** The second configuration: the same rounds with many more guarded services in the same watcher. */
export interface ExtraServicesRuns {
  extraServices: number;
  namespaces: number;
  exporterSeries: number;
  scrapeDurationMs: number;
  setupSeconds: number;
  guardSeconds: number;
  runs: RollbackRun[];
}

export interface RollbackResults {
  runs: RollbackRun[];
  setup: { scrapeIntervalSeconds: number; evaluationIntervalSeconds: number; errorRate: Record<string, number>; services: number; runsPerService: number; stageStartSeconds: number };
  withExtraServices: ExtraServicesRuns;
  /** For reference: one JSON patch and one GET of a VirtualService on this API server, as another client sees them. */
  apiReferenceMs: { patch: number[]; get: number[] };
}

interface Watermark {
  querySum: number;
  queryCount: number;
  cycleSum: number;
  cycleCount: number;
  evaluated: number;
}

async function watermark(stage: Stage): Promise<Watermark> {
  const m = (name: string) => stage.metric('watcher-0', name);
  return {
    querySum: await m('bluegreen_guard_watcher_prometheus_query_duration_seconds_sum'),
    queryCount: await m('bluegreen_guard_watcher_prometheus_query_duration_seconds_count'),
    cycleSum: await m('bluegreen_guard_watcher_cycle_duration_seconds_sum'),
    cycleCount: await m('bluegreen_guard_watcher_cycle_duration_seconds_count'),
    evaluated: await m('bluegreen_guard_watcher_evaluated_services'),
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

/** How many v2 revisions each scene has cut over to. */
const revisions = new WeakMap<Scene, number>();

async function oneRun(stage: Stage, scene: Scene, run: number, progress: (line: string) => void): Promise<RollbackRun> {
  const mesh = scene.mesh;
  if (!mesh) throw new Error(`scene ${scene.namespace} has no traffic`);
  mesh.setBehaviour('v2', { errorRatio: 0 });
  // No 5xx of an earlier run may remain in the window, or the condition would be met early.
  await waitForCleanWindow(stage, scene);
  // The rollback latch keeps traffic off a revision the watcher rolled back: each later run cuts over to a new one, as a team deploys a fix.
  const revision = (revisions.get(scene) ?? 0) + 1;
  revisions.set(scene, revision);
  if (revision > 1) await scene.rollOutV2(`registry.example.com/${scene.service}:v2-fix${revision - 1}`);
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
    watcherQueriesPerCycle: after.cycleCount > before.cycleCount ? (after.queryCount - before.queryCount) / (after.cycleCount - before.cycleCount) : Number.NaN,
    watcherEvaluatedServices: Math.min(before.evaluated, after.evaluated),
  };
  const c = result.conditionAtMs;
  progress(`rollback: ${scene.namespace} run ${run} (watcher evaluating ${result.watcherEvaluatedServices} services): condition true → seen rolled back ${c === null ? '?' : ms(result.observedAtMs - c, 0)} ms, fault → traffic on v1 ${ms(result.trafficBackAtMs - result.faultAtMs, 0)} ms`);
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

/** Every scene's rounds side by side, staggered so the services' faults do not line up. */
async function rounds(stage: Stage, scenes: Scene[], runsPerService: number, progress: (line: string) => void): Promise<RollbackRun[]> {
  const perScene = await Promise.all(
    scenes.map(async (scene, i) => {
      await new Promise((r) => setTimeout(r, i * 4000));
      const runs: RollbackRun[] = [];
      for (let run = 1; run <= runsPerService; run++) runs.push(await oneRun(stage, scene, run, progress));
      return runs;
    }),
  );
  return perScene.flat();
}

export async function benchRollback(ctx: BenchContext): Promise<RollbackResults> {
  section(`3. Time to rollback on the test bed (${ctx.quick ? 'quick' : 'full'})`);
  const services = ctx.quick ? 1 : 3;
  const runsPerService = ctx.quick ? 1 : 4;
  const extraCount = ctx.quick ? 50 : 1000;
  const started = performance.now();
  const stage = await startStage({ watchers: 1, onProgress: (s) => ctx.progress(`rollback: stage ${s.step} (${(s.durationMs / 1000).toFixed(1)} s): ${s.detail}`) });
  const exporters: BulkMeshExporter[] = [];
  try {
    const scenes: Scene[] = [];
    for (let i = 0; i < services; i++) scenes.push(await stage.seed({ namespacePrefix: `bench${i}` }));
    const stageStartSeconds = (performance.now() - started) / 1000;
    // Quick (a smoke run kept well under CI's 2 minutes): the second configuration only, its rows the same code.
    const alone = ctx.quick ? [] : await rounds(stage, scenes, runsPerService, ctx.progress);
    // Second configuration: the same rounds, the watcher now also guarding extraCount services in cutover.
    const extra: ExtraServices = await (await prepareExtraServices(stage, extraCount, exporters, ctx.progress)).guard();
    const crowded = await rounds(stage, scenes, runsPerService, ctx.progress);
    const short = crowded.filter((r) => r.watcherEvaluatedServices < extraCount);
    if (short.length > 0) {
      throw new Error(`the watcher did not evaluate the ${extraCount} extra services during every run: ${short.map((r) => `${r.namespace} run ${r.run}: ${r.watcherEvaluatedServices}`).join(', ')}`);
    }
    const apiReferenceMs = await apiReference(stage, scenes[0] as Scene, ctx.quick ? 3 : 20);
    const condition = errorRateCondition(stage);
    await Promise.all(stage.watchers.map((w) => w.stop()));
    const withVerified = (runs: RollbackRun[]) => runs.map((run) => ({ ...run, verifiedAtMs: verifiedAt(stage, run.namespace, run.faultAtMs) }));
    const watcherConfig = stage.watcherConfigs[0] as { intervalSeconds?: number } | undefined;
    const results: RollbackResults = {
      runs: withVerified(alone),
      setup: {
        scrapeIntervalSeconds: stage.options.scrapeIntervalSeconds ?? 1,
        evaluationIntervalSeconds: watcherConfig?.intervalSeconds ?? Number.NaN,
        errorRate: { ...condition },
        services,
        runsPerService,
        stageStartSeconds,
      },
      withExtraServices: {
        extraServices: extra.count,
        namespaces: extra.namespaces.length,
        exporterSeries: extra.exporter.seriesCount,
        scrapeDurationMs: extra.scrapeDurationMs,
        setupSeconds: extra.setupSeconds,
        guardSeconds: extra.guardSeconds,
        runs: withVerified(crowded),
      },
      apiReferenceMs,
    };
    printRollback(results);
    ctx.progress(`rollback: results in ${saveJson(ctx, 'rollback', results)}`);
    return results;
  } finally {
    await stage.stop();
    await Promise.all(exporters.map((e) => e.stop()));
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
  if (r.runs.length === 0) print('(quick: this configuration is not run; the next one is)');
  else printRuns(r.runs);
  const ref = { patch: stats(r.apiReferenceMs.patch), get: stats(r.apiReferenceMs.get) };
  print(`\nFor reference, on this API server a client's JSON patch of a VirtualService (reviewed by the webhook) takes ${ms(ref.patch.median, 1)} ms (max ${ms(ref.patch.max, 1)}), a GET ${ms(ref.get.median, 1)} ms (max ${ms(ref.get.max, 1)}): the patch and the verifying read inside "cycle start → verified".`);
  if (r.runs.length > 0) printTarget(r.runs);
  const x = r.withExtraServices;
  print(
    `\nWith ${x.extraServices} more guarded services in the same watcher (${x.namespaces} namespaces, each in a cutover at 50/50, healthy; ${x.exporterSeries} series from one exporter, scraped in ${ms(x.scrapeDurationMs, 0)} ms; set up in ${x.setupSeconds.toFixed(0)} s, of which ${x.guardSeconds.toFixed(0)} s from labelling the namespaces guarded until the watcher evaluated all and recorded their cutovers), ` +
      `the same ${r.runs.length === x.runs.length ? '' : 'kind of '}rounds: ${x.runs.length} rollbacks, the watcher evaluating at least ${Math.min(...x.runs.map((run) => run.watcherEvaluatedServices))} services in every one.\n`,
  );
  printRuns(x.runs);
  printTarget(x.runs, ` with ${x.extraServices} more services`);
}

const between = (runs: RollbackRun[], a: (x: RollbackRun) => number | null, b: (x: RollbackRun) => number | null): Array<number | null> =>
  runs.map((x) => {
    const [p, q] = [a(x), b(x)];
    return p === null || q === null ? null : q - p;
  });

function printRuns(runs: RollbackRun[]): void {
  const d = (a: (x: RollbackRun) => number | null, b: (x: RollbackRun) => number | null) => between(runs, a, b);
  const rows: Array<[string, Array<number | null>]> = [
    ['fault → breach condition true in Prometheus (the "sustained" window)', d((x) => x.faultAtMs, (x) => x.conditionAtMs)],
    ['breach condition true → patched and verified (watcher log)', d((x) => x.conditionAtMs, (x) => x.verifiedAtMs)],
    ['  of which: condition true → start of the cycle that acted', d((x) => x.conditionAtMs, (x) => x.cycleAtMs)],
    ['  of which: cycle start → patched and verified', d((x) => x.cycleAtMs, (x) => x.verifiedAtMs)],
    ['breach condition true → seen rolled back by a client (50 ms polls)', d((x) => x.conditionAtMs, (x) => x.observedAtMs)],
    ['fault → traffic back on v1 (mesh simulator)', d((x) => x.faultAtMs, (x) => x.trafficBackAtMs)],
    ['watcher: mean Prometheus query during the run', runs.map((x) => x.watcherQueryMeanMs)],
    ['watcher: mean cycle during the run', runs.map((x) => x.watcherCycleMeanMs)],
    ['watcher: Prometheus queries per cycle during the run (count, not ms)', runs.map((x) => x.watcherQueriesPerCycle)],
  ];
  print(table(['interval (ms)', 'median', 'max', 'runs'], rows.map(([name, values]) => {
    const st = stats(values);
    const digits = name.includes('queries per cycle') ? 1 : 0;
    return [name, ms(st.median, digits), ms(st.max, digits), st.n];
  })));
}

function printTarget(runs: RollbackRun[], what = ''): void {
  const key = stats(between(runs, (x) => x.conditionAtMs, (x) => x.verifiedAtMs));
  const met = key.n === runs.length && key.max < TARGET_MS;
  print(`Target${what}: breach condition true → patched and verified: median ${ms(key.median, 0)} ms, worst ${ms(key.max, 0)} ms over ${key.n} of ${runs.length} rollbacks (target < ${TARGET_MS} ms in every run: ${met ? 'MET' : 'MISSED'}; the seed allows 2 minutes).`);
}
