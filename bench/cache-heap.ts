// The heap the webhook's slim cache holds for the benchmark cluster, kind by
// kind: every object slimmed as the watch caches slim it, into one
// MemoryClusterState, with a full GC before and after each kind. Steadier than
// the process's RSS for comparing what a slim shape costs.
//
//   node --expose-gc --import ./bench/ts-loader.ts bench/cache-heap.ts [--dist /path/to/other/dist]
//
// `--dist` measures another build's slimmers (e.g. before a change) over the same cluster.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { clusterObjects, FULL_CLUSTER, type FixtureKind } from './lib/cluster-fixture.js';

const KINDS: FixtureKind[] = ['Namespace', 'Service', 'VirtualService', 'DestinationRule', 'Deployment', 'ReplicaSet', 'Pod', 'Job'];

type Slim = (raw: Record<string, unknown>) => { kind: string } | undefined;
interface State {
  upsert(o: unknown): void;
}

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench/cache-heap.ts needs --expose-gc: node --expose-gc --import ./bench/ts-loader.ts bench/cache-heap.ts');
  const at = process.argv.indexOf('--dist');
  const base = at > 0 && process.argv[at + 1] ? pathToFileURL(resolve(process.argv[at + 1] as string)).href : new URL('../src', import.meta.url).href;
  const ext = at > 0 ? 'js' : 'ts';
  const { slim, SUPPORTED_KINDS } = (await import(`${base}/cluster/slim.${ext}`)) as { slim: Slim; SUPPORTED_KINDS: readonly string[] };
  const { MemoryClusterState } = (await import(`${base}/cluster/memory-cluster-state.${ext}`)) as { MemoryClusterState: new () => State };
  const state = new MemoryClusterState();
  const rows: string[] = [];
  let total = 0;
  for (const kind of KINDS) {
    if (!SUPPORTED_KINDS.includes(kind)) {
      rows.push(`${kind.padEnd(16)} ${'not cached'.padStart(10)}`);
      continue;
    }
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    let n = 0;
    for (const raw of clusterObjects(FULL_CLUSTER, kind)) {
      const o = slim(raw);
      if (!o) continue;
      state.upsert(o);
      n++;
    }
    gc();
    gc();
    const mib = (process.memoryUsage().heapUsed - before) / 1048576;
    total += mib;
    rows.push(`${kind.padEnd(16)} ${String(n).padStart(10)} ${mib.toFixed(2).padStart(9)} MiB`);
  }
  console.log(`slim cache heap, ${at > 0 ? process.argv[at + 1] : 'src/'}:\nkind                objects      heap\n${rows.join('\n')}\n${'total'.padEnd(27)} ${total.toFixed(2).padStart(9)} MiB`);
}

await main();
