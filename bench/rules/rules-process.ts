// Part 4's process, pinned to one core: the rule core alone, then the whole
// in-process admission path without HTTP, over the generated cluster held in a
// MemoryClusterState filled through the caches' slimmers.
import { performance } from 'node:perf_hooks';
import { MemoryClusterState } from '../../src/cluster/memory-cluster-state.js';
import { slim } from '../../src/cluster/slim.js';
import { decodeAdmissionReview, encodeOutcome } from '../../src/webhook/admission.js';
import { isGuarded } from '../../src/istio/guard.js';
import { DEFAULT_MESH } from '../../src/istio/mesh.js';
import { review } from '../../src/webhook/review.js';
import { defaultRulesConfig } from '../../src/webhook/rules-config.js';
import type { ReviewInput } from '../../src/webhook/verdict.js';
import { childInput, serveParent } from '../lib/bench-child.js';
import { clusterObjects, namespaceName, type ClusterShape, type FixtureKind } from '../lib/cluster-fixture.js';
import { EXPECTED_ALLOWED, reviewMix, type ReviewKind } from '../lib/reviews.js';
import { workloadReviews } from '../lib/workload-reviews.js';
import { judgeAdmission } from '../../src/webhook/workload-review.js';

export interface RulesMeasurement {
  name: string;
  operations: number;
  seconds: number;
  perSecond: number;
  microsecondsEach: number;
}

const KINDS: FixtureKind[] = ['Namespace', 'Service', 'VirtualService', 'DestinationRule', 'Deployment', 'ReplicaSet', 'Pod', 'Job'];

/** Runs `op` in batches until `durationMs` has passed; returns the rate. */
function measure(name: string, durationMs: number, op: (i: number) => void): RulesMeasurement {
  let operations = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    for (let i = 0; i < 200; i++) op(operations++);
    elapsed = performance.now() - started;
  }
  const seconds = elapsed / 1000;
  return { name, operations, seconds, perSecond: operations / seconds, microsecondsEach: (seconds * 1e6) / operations };
}

function main(): void {
  const { shape, warmupMs, durationMs } = childInput<{ shape: ClusterShape; warmupMs: number; durationMs: number }>();
  const state = new MemoryClusterState();
  for (const kind of KINDS) for (const raw of clusterObjects(shape, kind)) state.upsert(slim(raw) as NonNullable<ReturnType<typeof slim>>);
  const config = defaultRulesConfig();
  const mix = reviewMix(shape, 1000);
  const inputs: Array<{ kind: ReviewKind; input: ReviewInput }> = mix.map((r) => {
    const decoded = decodeAdmissionReview(JSON.parse(r.body.toString('utf8')), 0);
    if (!decoded.ok || !decoded.review.input) throw new Error(`a benchmark review does not decode: ${decoded.ok ? decoded.review.skipReason : decoded.message}`);
    return { kind: r.kind, input: decoded.review.input };
  });
  // Every verdict must be the expected one, or the rates mean nothing.
  for (const { kind, input } of inputs) {
    if (review(input, state, config).allowed !== EXPECTED_ALLOWED[kind]) throw new Error(`a ${kind} review got the wrong verdict`);
  }
  // Deployment, Pod and Service label changes, from every tenth namespace; each verdict checked too.
  const workloads = Array.from({ length: Math.ceil(shape.namespaces / 10) }, (_, n) => workloadReviews(shape, namespaceName(n * 10))).flat();
  const workloadInputs = workloads.map((w) => {
    const decoded = decodeAdmissionReview(w.body, 0);
    if (!decoded.ok || !decoded.review.input) throw new Error(`a workload review does not decode: ${decoded.ok ? decoded.review.skipReason : decoded.message}`);
    if (judgeAdmission(decoded.review.input, state, config).allowed !== w.allowed) throw new Error(`${w.what}: wrong verdict`);
    return decoded.review.input;
  });
  const byKind = (k: ReviewKind) => inputs.filter((i) => i.kind === k).map((i) => i.input);
  const pass = byKind('pass');
  const fail = byKind('fail');
  const all = inputs.map((i) => i.input);
  const bodies = mix.map((r) => r.body);

  let sink = 0;
  const reviewOnly = (list: ReviewInput[]) => (i: number) => {
    sink += review(list[i % list.length] as ReviewInput, state, config).findings.length;
  };
  // What the server does around the rules, minus HTTP and TLS: parse, decode, guard filter, judge, encode, serialise.
  const inProcess = (i: number) => {
    const decoded = decodeAdmissionReview(JSON.parse((bodies[i % bodies.length] as Buffer).toString('utf8')), performance.now());
    if (!decoded.ok || !decoded.review.input) throw new Error('decode failed');
    const input = decoded.review.input;
    const verdict = isGuarded(input.object ?? (input.oldObject as NonNullable<ReviewInput['oldObject']>), state, DEFAULT_MESH)
      ? review(input, state, config)
      : { allowed: true, findings: [], auditAnnotations: {} };
    sink += JSON.stringify(encodeOutcome(decoded.review.subject, { kind: 'verdict', verdict }).body).length;
  };

  const cases: Array<[string, (i: number) => void]> = [
    ['review(): passing cutover', reviewOnly(pass)],
    ['review(): failing cutover (5 denials)', reviewOnly(fail)],
    ['review(): half and half', reviewOnly(all)],
    ['parse + decode + review + encode (no HTTP)', inProcess],
    ['judgeAdmission(): Deployment/Pod/Service label changes', (i) => {
      sink += judgeAdmission(workloadInputs[i % workloadInputs.length] as ReviewInput, state, config).findings.length;
    }],
  ];
  for (const [, op] of cases) measure('warm-up', warmupMs, op);
  const results = cases.map(([name, op]) => measure(name, durationMs, op));
  serveParent({ results, sink, objects: { pods: state.count('Pod'), virtualServices: state.count('VirtualService') } }, {});
}

main();
