// The rule core of several source trees side by side, in one process, taking
// turns: `review()` of each tree over the same generated cluster (20,000 pods,
// 1,000 VirtualServices) and the same reviews, in short rounds that alternate
// between the trees, so a change in the machine's load touches every tree
// alike. What part 4 cannot do across runs on a shared machine: say whether a
// change made the rules faster or slower.
//
//   git worktree add /tmp/before <commit>
//   taskset -c 1 node --import ./bench/ts-loader.ts bench/rules/compare-trees.ts /tmp/before .
//
// Each tree's own src/ is loaded (cluster state, slimmers, decoder, rules), and
// every verdict is compared across trees before timing. A tree that has
// judgeAdmission (Deployment, Pod and Service label changes) warms it up too,
// as the webhook's process does. ROUNDS (default 15) × 400 ms per tree.
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FULL_CLUSTER, clusterObjects, namespaceName, type FixtureKind } from '../lib/cluster-fixture.js';
import { reviewMix } from '../lib/reviews.js';
import { workloadReviews } from '../lib/workload-reviews.js';

const KINDS: FixtureKind[] = ['Namespace', 'Service', 'VirtualService', 'DestinationRule', 'Deployment', 'ReplicaSet', 'Pod', 'Job'];

/** What this tool needs of a tree's src/, loosely typed: older trees differ in their types. */
interface TreeModules {
  state: { upsert(o: unknown): void };
  slim: (raw: unknown) => unknown;
  decode: (body: unknown) => unknown;
  review: (input: unknown, state: unknown, config: unknown) => { allowed: boolean; findings: unknown[] };
  judgeAdmission: ((input: unknown, state: unknown, config: unknown) => { findings: unknown[] }) | undefined;
  config: unknown;
}

async function load(tree: string): Promise<TreeModules> {
  const m = (path: string) => import(pathToFileURL(resolve(tree, 'src', path)).href) as Promise<Record<string, unknown>>;
  const { MemoryClusterState } = (await m('cluster/memory-cluster-state.ts')) as { MemoryClusterState: new () => TreeModules['state'] };
  const { slim } = (await m('cluster/slim.ts')) as { slim: TreeModules['slim'] };
  const { decodeAdmissionReview } = (await m('webhook/admission.ts')) as { decodeAdmissionReview: (body: unknown, nowMs: number) => { review?: { input?: unknown } } };
  const { defaultRulesConfig } = (await m('webhook/rules-config.ts')) as { defaultRulesConfig: () => unknown };
  const { review } = (await m('webhook/review.ts')) as { review: TreeModules['review'] };
  const workload = await m('webhook/workload-review.ts').catch(() => undefined);
  return {
    state: new MemoryClusterState(),
    slim,
    decode: (body) => decodeAdmissionReview(body, 0).review?.input,
    review,
    judgeAdmission: workload?.judgeAdmission as TreeModules['judgeAdmission'],
    config: defaultRulesConfig(),
  };
}

function measure(ms: number, op: (i: number) => void): number {
  let n = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 100; i++) op(n++);
    elapsed = performance.now() - started;
  }
  return (elapsed * 1000) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const trees = process.argv.slice(2);
  if (trees.length === 0) {
    console.error('usage: node --import ./bench/ts-loader.ts bench/rules/compare-trees.ts TREE [TREE ...]   (each a checkout of this repository, e.g. a git worktree)');
    process.exit(2);
  }
  const rounds = Number(process.env.ROUNDS ?? 15);
  const objects = KINDS.map((kind) => [...clusterObjects(FULL_CLUSTER, kind)]);
  const bodies = reviewMix(FULL_CLUSTER, 1000).map((r) => JSON.parse(r.body.toString('utf8')) as unknown);
  const workloadBodies = Array.from({ length: 20 }, (_, n) => workloadReviews(FULL_CLUSTER, namespaceName(n * 10))).flat().map((w) => w.body as unknown);
  let sink = 0;
  const runs: Array<{ tree: string; review: (i: number) => void; workload: ((i: number) => void) | undefined; verdicts: string }> = [];
  for (const tree of trees) {
    const t = await load(tree);
    for (const list of objects) {
      for (const raw of list) {
        const slimmed = t.slim(structuredClone(raw));
        if (slimmed) t.state.upsert(slimmed); // an older tree may not cache every kind
      }
    }
    const inputs = bodies.map((b) => t.decode(structuredClone(b)));
    const workloadInputs = t.judgeAdmission ? workloadBodies.map((b) => t.decode(structuredClone(b))) : [];
    const verdicts = inputs.map((input) => (t.review(input, t.state, t.config).allowed ? 'a' : 'd')).join('');
    const judge = t.judgeAdmission;
    runs.push({
      tree,
      verdicts,
      review: (i) => {
        sink += t.review(inputs[i % inputs.length], t.state, t.config).findings.length;
      },
      workload: judge
        ? (i) => {
            sink += judge(workloadInputs[i % workloadInputs.length], t.state, t.config).findings.length;
          }
        : undefined,
    });
  }
  const differing = runs.filter((r) => r.verdicts !== runs[0]?.verdicts).map((r) => r.tree);
  if (differing.length > 0) throw new Error(`these trees decide the benchmark's reviews differently from ${trees[0]}: ${differing.join(', ')}; their timings would not compare`);
  for (const r of runs) {
    measure(2000, r.review);
    if (r.workload) measure(1000, r.workload);
  }
  const times = runs.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) runs.forEach((r, k) => times[k]?.push(measure(400, r.review)));
  console.log(`review() over ${FULL_CLUSTER.namespaces} namespaces (20,000 pods), half passing and half failing cutovers; ${rounds} alternating rounds of 400 ms per tree:`);
  runs.forEach((r, k) => {
    const xs = times[k] ?? [];
    console.log(`  ${r.tree.padEnd(32)} median ${median(xs).toFixed(1)} µs per review, fastest round ${Math.min(...xs).toFixed(1)} µs`);
  });
  if (sink < 0) console.log(sink); // keeps the results alive
}

await main();
