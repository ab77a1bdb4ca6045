// Part 2, the watcher's cycle: a real Prometheus (the Debian binary) holding
// Istio's metrics for N guarded services (backfilled with promtool), and the
// watcher's evaluation round over all N, for N = 10, 100, 1,000, 5,000. The
// number of queries per cycle must not grow with N.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus } from '../../test/support/prometheus.js';
import { BenchChild, canPin } from '../lib/bench-child.js';
import { mb, ms, print, saveJson, section, table, type BenchContext } from '../lib/report.js';
import { meshServices, writeMeshHistory } from './istio-openmetrics.js';
import type { CycleMeasurement, WatcherProcessResult } from './watcher-process.js';

export const WATCHER_CPU = '1';
export const TARGETS = [
  { services: 1000, cycleMs: 1000 },
  { services: 10_000, cycleMs: 2000 },
];
/** A fixed instant in the past: the history ends there and every cycle evaluates it. */
const AT_SECONDS = 1_750_000_020;
/** History needed: the 2-minute error-rate window, the 3 one-minute p99 windows, plus their rate windows. */
const HISTORY_SECONDS = 300;

export interface WatcherSize {
  services: number;
  backfill: { samples: number; fileBytes: number; seconds: number };
  cycles: CycleMeasurement[];
  rssBytes: number;
  peakRssBytes: number;
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
  for (const services of counts) {
    const dir = mkdtempSync(join(tmpdir(), 'bgg-bench-watcher-'));
    try {
      const started = performance.now();
      const file = join(dir, 'mesh.om');
      const samples = writeMeshHistory(file, { services: meshServices(services), startSeconds: AT_SECONDS - HISTORY_SECONDS, endSeconds: AT_SECONDS, stepSeconds: 15 });
      const fileBytes = statSync(file).size;
      const prometheus = await startPrometheus({ backfillFile: file, readyTimeoutMs: 180_000 });
      rmSync(file);
      const backfillSeconds = (performance.now() - started) / 1000;
      ctx.progress(`watcher: ${services} services: ${samples} samples (${mb(fileBytes)} of OpenMetrics) backfilled and Prometheus ready in ${backfillSeconds.toFixed(1)} s`);
      try {
        const child = await BenchChild.start<WatcherProcessResult>({
          script: 'watcher/watcher-process.ts',
          input: { prometheusUrl: prometheus.url, services, atSeconds: AT_SECONDS, cycles },
          cpus: WATCHER_CPU,
          ...(ctx.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=watcher-${services}.cpuprofile`] } : {}),
          readyTimeoutMs: 600_000,
        });
        await child.stop();
        const r = child.ready;
        sizes.push({ services, backfill: { samples, fileBytes, seconds: backfillSeconds }, cycles: r.cycles, rssBytes: r.rssBytes, peakRssBytes: r.peakRssBytes });
        const durations = r.cycles.map((c) => c.durationMs);
        ctx.progress(`watcher: ${services} services: cycles ${durations.map((d) => ms(d, 0)).join(', ')} ms; ${r.cycles[0]?.queries ?? '?'} queries each`);
      } finally {
        await prometheus.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  printWatcher(sizes, cycles);
  const results = { pinned: canPin(), sizes };
  ctx.progress(`watcher: results in ${saveJson(ctx, 'watcher', results)}`);
  return results;
}

function printWatcher(sizes: WatcherSize[], cycles: number): void {
  print(`Each size: its own Prometheus holding only those services (v1 and v2 each, 10 requests/s, 10 % of candidates failing, 5 % slow); ${cycles} cycles at one instant, the first cold. Evaluator ${canPin() ? `pinned to CPU ${WATCHER_CPU}` : 'not pinned'}, Prometheus on any core.\n`);
  const rows = sizes.map((s) => {
    const warm = s.cycles.slice(1);
    const pick = (f: (c: CycleMeasurement) => number): number => median(warm.map(f));
    const queries = [...new Set(s.cycles.map((c) => c.queries))].join('/');
    return [
      s.services,
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
  print(table(['services', 'first ms', 'median ms', 'max ms', 'queries/cycle', 'slowest query ms', 'evaluate ms', 'read/cycle', 'bytes per query', 'RSS', 'verdicts'], rows));
  const queryCounts = new Set(sizes.flatMap((s) => s.cycles.map((c) => c.queries)));
  print(`\nQueries per cycle: ${[...queryCounts].join(', ')} at every size (${queryCounts.size === 1 ? 'constant' : 'NOT constant'}).`);
  for (const target of TARGETS) {
    const at = sizes.find((s) => s.services === target.services);
    if (!at) continue;
    const m = median(at.cycles.slice(1).map((c) => c.durationMs));
    print(`Target: one cycle over ${target.services} services in ${ms(m, 0)} ms (median; target < ${target.cycleMs} ms: ${m < target.cycleMs ? 'MET' : 'MISSED'}).`);
  }
}
