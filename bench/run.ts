// `npm run bench [-- --quick] [--only admission,watcher,rollback,rules] [--profile] [--webhook-node-args ARGS] [--webhook-main PATH] [--webhook-config JSON]`
//
// Runs the benchmark parts in order, prints a table per part, and writes the
// figures as JSON under bench/results/<timestamp>/ (ignored by git). --quick
// is a smoke run of every part (small sizes, short runs), for CI.
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchAdmission } from './admission/bench-admission.js';
import { canPin } from './lib/bench-child.js';
import { machine } from './lib/machine.js';
import { print, saveJson, section, type BenchContext } from './lib/report.js';
import { benchRollback } from './rollback/bench-rollback.js';
import { benchRules } from './rules/bench-rules.js';
import { benchWatcher } from './watcher/bench-watcher.js';

const PARTS = {
  admission: benchAdmission,
  watcher: benchWatcher,
  rollback: benchRollback,
  rules: benchRules,
} as const;
type Part = keyof typeof PARTS;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, profile: { type: 'boolean', default: false }, 'webhook-node-args': { type: 'string' }, 'webhook-main': { type: 'string' }, 'webhook-config': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    print('usage: npm run bench [-- --quick] [-- --only admission,watcher,rollback,rules] [-- --profile]\n  --profile: the processes under test write V8 CPU profiles (.cpuprofile) into the results folder\n  --webhook-node-args "...": Node/V8 options for the webhook under test, to compare settings\n  --webhook-main PATH: another build\'s dist/cli/main.js as the webhook under test, to compare a change\n  --webhook-config JSON: merged into the webhook\'s config file, e.g. \'{"prometheus":{"url":null}}\'');
    return 0;
  }
  const only = values.only?.split(',').map((s) => s.trim()) ?? Object.keys(PARTS);
  const unknown = only.filter((p) => !(p in PARTS));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown part(s) ${unknown.join(', ')}; choose from ${Object.keys(PARTS).join(', ')}\n`);
    return 2;
  }
  const quick = values.quick ?? false;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const root = resolve(dirname(fileURLToPath(import.meta.url)), 'results');
  const resultsDir = join(root, `${stamp}${quick ? '-quick' : ''}`);
  const ctx: BenchContext = {
    quick,
    resultsDir,
    ...(values.profile ? { profileDir: join(resultsDir, 'profiles') } : {}),
    ...(values['webhook-node-args'] ? { webhookNodeArgs: values['webhook-node-args'].split(/\s+/).filter(Boolean) } : {}),
    ...(values['webhook-main'] ? { webhookMain: resolve(values['webhook-main']) } : {}),
    ...(values['webhook-config'] ? { webhookConfig: JSON.parse(values['webhook-config']) as Record<string, unknown> } : {}),
    progress: (line) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  };

  const m = machine();
  section('Machine');
  print(`${m.cpuModel}, ${m.nproc} CPUs (nproc), ${m.memoryGiB} GiB; Node ${m.node}; ${m.kernel}; pinning: ${canPin() ? 'taskset' : 'unavailable'}${quick ? '; QUICK run (smoke sizes, not for comparison)' : ''}`);
  if (cpus().length < 2) print('Fewer than 2 CPUs: servers and load generator share a core; latencies include that contention.');

  const startedMs = Date.now();
  const results: Record<string, unknown> = { machine: m, quick, startedAt: new Date(startedMs).toISOString() };
  let failed = 0;
  for (const part of only as Part[]) {
    const partStarted = Date.now();
    try {
      results[part] = await PARTS[part](ctx);
    } catch (e) {
      failed++;
      results[part] = { error: e instanceof Error ? e.message : String(e) };
      process.stderr.write(`bench: part ${part} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    ctx.progress(`${part} took ${Math.round((Date.now() - partStarted) / 1000)} s`);
  }
  results.durationSeconds = Math.round((Date.now() - startedMs) / 1000);
  const file = saveJson(ctx, 'summary', results);
  print(`\nAll figures: ${ctx.resultsDir} (summary: ${file}); total ${results.durationSeconds as number} s.`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
