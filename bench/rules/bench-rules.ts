// Part 4, the rule core alone: reviews per second on one core through
// review(), over the same generated cluster and reviews as the admission part,
// and the same again with JSON parsing, decoding and encoding (everything the
// server does except HTTP and TLS). Set against part 1, it tells rule cost from
// transport cost.
import { BenchChild, canPin } from '../lib/bench-child.js';
import { FULL_CLUSTER } from '../lib/cluster-fixture.js';
import { print, saveJson, section, table, type BenchContext } from '../lib/report.js';
import type { RulesMeasurement } from './rules-process.js';

export const RULES_CPU = '1';

export interface RulesResults {
  pinned: boolean;
  objects: { pods: number; virtualServices: number };
  results: RulesMeasurement[];
}

export async function benchRules(ctx: BenchContext): Promise<RulesResults> {
  section(`4. Rule evaluation alone, one core (${ctx.quick ? 'quick' : 'full'})`);
  const input = { shape: FULL_CLUSTER, warmupMs: ctx.quick ? 300 : 2000, durationMs: ctx.quick ? 500 : 5000 };
  const child = await BenchChild.start<{ results: RulesMeasurement[]; objects: RulesResults['objects'] }>({
    script: 'rules/rules-process.ts',
    input,
    cpus: RULES_CPU,
    ...(ctx.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, '--cpu-prof-name=rules.cpuprofile'] } : {}),
    readyTimeoutMs: 300_000,
  });
  await child.stop();
  const results: RulesResults = { pinned: canPin(), objects: child.ready.objects, results: child.ready.results };
  print(`Over ${results.objects.pods} pods and ${results.objects.virtualServices} VirtualServices in a MemoryClusterState; ${canPin() ? `pinned to CPU ${RULES_CPU}` : 'not pinned (no taskset)'}.`);
  print(table(['case', 'reviews/s', 'µs each'], results.results.map((r) => [r.name, Math.round(r.perSecond), r.microsecondsEach.toFixed(1)])));
  ctx.progress(`rules: results in ${saveJson(ctx, 'rules', results)}`);
  return results;
}
