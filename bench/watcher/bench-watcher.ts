// Part 2, the watcher's cycle: a real Prometheus (the Debian binary) holding
// Istio's metrics for N guarded services (backfilled with promtool), and the
// watcher's evaluation round over all N, for N = 10, 100, 1,000, 5,000, 10,000.
// The number of queries per cycle must not grow with N. Each size runs twice:
// with the default queries over the raw counters and buckets, and with
// `queries.recordingRules` over the chart's recording rules (backfilled with
// promtool over the same history, then served beside it by a second Prometheus).
// A third run reads the same history split over two Prometheus servers through
// Thanos Query (test/support/thanos.ts), as a mesh that outgrew one Prometheus.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus, type RunningPrometheus } from '../../test/support/prometheus.js';
import { backfillRules, chartRecordingRules, type RuleGroup } from '../../test/support/recording-rules.js';
import { startThanos } from '../../test/support/thanos.js';
import { BenchChild, canPin } from '../lib/bench-child.js';
import { mb, ms, print, saveJson, section, table, type BenchContext } from '../lib/report.js';
import { meshServices, writeMeshHistory } from './istio-openmetrics.js';
import type { CycleMeasurement, WatcherProcessInput, WatcherProcessResult } from './watcher-process.js';

export const WATCHER_CPU = '1';
export const TARGETS = [
  { services: 1000, cycleMs: 1000 },
  { services: 10_000, cycleMs: 2000 },
];
/** A fixed instant in the past: the history ends there and every cycle evaluates it. */
const AT_SECONDS = 1_750_000_020;
/** History needed: the 2-minute error-rate window, the 3 one-minute p99 windows, plus their rate windows. */
const HISTORY_SECONDS = 300;

/** raw: the default queries on one Prometheus; recorded: over the chart's recording rules; thanos: the default queries through Thanos Query over two Prometheus servers. */
export type QueryMode = 'raw' | 'recorded' | 'thanos';

export interface WatcherSize {
  services: number;
  mode: QueryMode;
  backfill: { samples: number; fileBytes: number; seconds: number };
  cycles: CycleMeasurement[];
  rssBytes: number;
  peakRssBytes: number;
  /** recorded: what Prometheus pays for the rules once per rule interval (each rule's expression as an instant query at AT). */
  ruleEvaluationMs?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

export async function benchWatcher(ctx: BenchContext): Promise<{ pinned: boolean; sizes: WatcherSize[] }> {
  section(`2. Watcher cycle against a real Prometheus (${ctx.quick ? 'quick' : 'full'})`);
  const counts = ctx.quick ? [10, 100] : [10, 100, 1000, 5000, 10_000];
  const cycles = ctx.quick ? 3 : 6;
  const sizes: WatcherSize[] = [];
  const groups = await chartRecordingRules();
  for (const services of counts) {
    const dir = mkdtempSync(join(tmpdir(), 'bgg-bench-watcher-'));
    try {
      const started = performance.now();
      const file = join(dir, 'mesh.om');
      const samples = writeMeshHistory(file, { services: meshServices(services), startSeconds: AT_SECONDS - HISTORY_SECONDS, endSeconds: AT_SECONDS, stepSeconds: 15 });
      const fileBytes = statSync(file).size;
      const prometheus = await startPrometheus({ backfillFile: file, readyTimeoutMs: 180_000 });
      rmSync(file);
      const backfill = { samples, fileBytes, seconds: (performance.now() - started) / 1000 };
      ctx.progress(`watcher: ${services} services: ${samples} samples (${mb(fileBytes)} of OpenMetrics) backfilled and Prometheus ready in ${backfill.seconds.toFixed(1)} s`);
      let recorded: RunningPrometheus | undefined;
      try {
        sizes.push({ services, mode: 'raw', backfill, ...(await measure(ctx, prometheus.url, services, cycles, 'raw')) });
        const rulesStarted = performance.now();
        const blocks = await backfillRules(groups, prometheus.url, { startSeconds: AT_SECONDS - HISTORY_SECONDS + 60, endSeconds: AT_SECONDS }, dir);
        const ruleEvaluationMs = await ruleCost(prometheus.url, groups);
        // The raw history's blocks beside the recorded ones: the same data, plus the rules' series.
        recorded = await startPrometheus({ blocks: [join(prometheus.dir, 'data'), blocks], readyTimeoutMs: 180_000 });
        ctx.progress(`watcher: ${services} services: recording rules backfilled in ${((performance.now() - rulesStarted) / 1000).toFixed(1)} s; one evaluation of them costs Prometheus ${ms(ruleEvaluationMs, 0)} ms`);
        sizes.push({ services, mode: 'recorded', backfill, ruleEvaluationMs, ...(await measure(ctx, recorded.url, services, cycles, 'recorded')) });
      } finally {
        await recorded?.stop();
        await prometheus.stop();
      }
      sizes.push({ services, mode: 'thanos', backfill, ...(await throughThanos(ctx, dir, services, cycles)) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  printWatcher(sizes, cycles);
  const results = { pinned: canPin(), sizes };
  ctx.progress(`watcher: results in ${saveJson(ctx, 'watcher', results)}`);
  return results;
}

/** One watcher process's cycles over `services` against the Prometheus at `url`. */
async function measure(ctx: BenchContext, url: string, services: number, cycles: number, mode: QueryMode): Promise<Pick<WatcherSize, 'cycles' | 'rssBytes' | 'peakRssBytes'>> {
  const input: WatcherProcessInput = { prometheusUrl: url, services, atSeconds: AT_SECONDS, cycles, recordingRules: mode === 'recorded' };
  const child = await BenchChild.start<WatcherProcessResult>({
    script: 'watcher/watcher-process.ts',
    input,
    cpus: WATCHER_CPU,
    ...(ctx.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=watcher-${services}-${mode}.cpuprofile`] } : {}),
    readyTimeoutMs: 600_000,
  });
  await child.stop();
  const r = child.ready;
  ctx.progress(`watcher: ${services} services, ${mode} queries: cycles ${r.cycles.map((c) => ms(c.durationMs, 0)).join(', ')} ms; ${r.cycles[0]?.queries ?? '?'} queries each`);
  return { cycles: r.cycles, rssBytes: r.rssBytes, peakRssBytes: r.peakRssBytes };
}

/** The same history split over two Prometheus servers (alternate services on each), each with a sidecar, read through Thanos Query. */
async function throughThanos(ctx: BenchContext, dir: string, services: number, cycles: number): Promise<Pick<WatcherSize, 'cycles' | 'rssBytes' | 'peakRssBytes'>> {
  const started = performance.now();
  const mesh = meshServices(services);
  const shards = [0, 1].map((shard) => {
    const file = join(dir, `shard-${shard}.om`);
    writeMeshHistory(file, { services: mesh.filter((_, i) => i % 2 === shard), startSeconds: AT_SECONDS - HISTORY_SECONDS, endSeconds: AT_SECONDS, stepSeconds: 15 });
    return { backfillFile: file };
  });
  const thanos = await startThanos({ shards, readyTimeoutMs: 300_000 });
  try {
    for (const s of shards) rmSync(s.backfillFile);
    ctx.progress(`watcher: ${services} services: two Prometheus servers with sidecars and Thanos Query ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return await measure(ctx, thanos.url, services, cycles, 'thanos');
  } finally {
    await thanos.stop();
  }
}

/** Each recording rule's expression as an instant query at AT, timed: the work Prometheus does once per rule interval. */
async function ruleCost(url: string, groups: RuleGroup[]): Promise<number> {
  let total = 0;
  for (const rule of groups.flatMap((g) => g.rules)) {
    const started = performance.now();
    const res = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: rule.expr, time: String(AT_SECONDS) }) });
    await res.text();
    if (!res.ok) throw new Error(`recording rule ${rule.record ?? rule.expr}: Prometheus answered HTTP ${res.status}`);
    total += performance.now() - started;
  }
  return total;
}

function printWatcher(sizes: WatcherSize[], cycles: number): void {
  print(`Each size: its own Prometheus holding only those services (v1 and v2 each, 10 requests/s, 10 % of candidates failing, 5 % slow); ${cycles} cycles at one instant, the first cold, with the raw queries, with the recorded ones ("rules" is what one evaluation of the chart's recording rules costs Prometheus, once per 15 s), and with the raw ones through Thanos Query over two Prometheus servers holding half the services each. Evaluator ${canPin() ? `pinned to CPU ${WATCHER_CPU}` : 'not pinned'}, Prometheus on any core.\n`);
  const rows = sizes.map((s) => {
    const warm = s.cycles.slice(1);
    const pick = (f: (c: CycleMeasurement) => number): number => median(warm.map(f));
    const queries = [...new Set(s.cycles.map((c) => c.queries))].join('/');
    return [
      s.services,
      s.mode === 'recorded' ? `recorded (rules ${ms(s.ruleEvaluationMs ?? Number.NaN, 0)} ms / 15 s)` : s.mode === 'thanos' ? 'raw, through Thanos' : 'raw',
      ms(s.cycles[0]?.durationMs ?? Number.NaN, 0),
      ms(pick((c) => c.durationMs), 0),
      ms(Math.max(...warm.map((c) => c.durationMs)), 0),
      queries,
      ms(pick((c) => c.slowestQueryMs), 0),
      ms(pick((c) => c.evaluateMs), 1),
      mb(pick((c) => c.bytesRead)),
      (s.cycles[1] ?? s.cycles[0])?.bytesPerQuery.map((b) => `${(b / 1024).toFixed(1)} KiB`).join(' + ') ?? '?',
      mb(s.rssBytes),
      `${s.cycles[0]?.verdicts.breached ?? 0} breached`,
    ];
  });
  print(table(['services', 'queries', 'first ms', 'median ms', 'max ms', 'queries/cycle', 'slowest query ms', 'evaluate ms', 'read/cycle', 'bytes per query', 'RSS', 'verdicts'], rows));
  const queryCounts = new Set(sizes.flatMap((s) => s.cycles.map((c) => c.queries)));
  print(`\nQueries per cycle: ${[...queryCounts].join(', ')} at every size (${queryCounts.size === 1 ? 'constant' : 'NOT constant'}).`);
  for (const target of TARGETS) {
    for (const mode of ['raw', 'recorded', 'thanos'] as const) {
      const at = sizes.find((s) => s.services === target.services && s.mode === mode);
      if (!at) continue;
      const m = median(at.cycles.slice(1).map((c) => c.durationMs));
      print(`Target: one cycle over ${target.services} services with ${mode} queries in ${ms(m, 0)} ms (median; target < ${target.cycleMs} ms: ${m < target.cycleMs ? 'MET' : 'MISSED'}).`);
    }
  }
}
