// The smoke test before traffic: while a candidate subset is routed at 0 %,
// the watcher runs the configured smoke test for the candidate's version and
// records the outcome with the revisions it tested on the VirtualService
// (`bluegreen-guard.io/smoke-result`), where the webhook's smoke-passed rule
// reads it. What the test reaches is the URL template's business: rendered
// with the candidate's `{{version}}`, it must address only the candidate —
// a per-version Service, or a header-matched route to the candidate subset.
import { SMOKE_RESULT, SMOKE_TEST_URL } from '../istio/annotations.js';
import { logKeys, type LoopIO } from './loop-io.js';
import { findHostRules, findSubset } from '../istio/destination-rules.js';
import { metricsServiceOf } from '../istio/hosts.js';
import { revisionKey } from '../istio/rollback-latch.js';
import { parseSmokeRecords, withSmokeRecord, type SmokeRecord } from '../istio/smoke-result.js';
import type { VirtualService } from '../istio/types.js';
import type { CutoverState } from './cutover-state.js';
import type { RevisionSource } from './latch.js';
import { routesOf } from '../istio/routes.js';
import { smokeTestUrl, type SmokeTestResult, type SmokeTestSpec } from './smoke-test.js';
import type { MeshOptions, WatchedObjects } from './watch-targets.js';

export interface PreTrafficCandidate {
  subset: string;
  version: string;
  namespace: string;
  service: string;
  subsetLabels: Record<string, string>;
}

/** Candidate subsets the routes name at 0 % while no candidate has traffic. */
export function zeroPercentCandidates(vs: VirtualService, state: CutoverState, objects: WatchedObjects, mesh: MeshOptions): PreTrafficCandidate[] {
  if (state.active.length > 0) return [];
  const found = new Map<string, PreTrafficCandidate>();
  for (const d of routesOf(vs, mesh.clusterDomain).flatMap((r) => r.destinations)) {
    if (d.subset === undefined || !state.roles.candidateSubsets.includes(d.subset) || found.has(d.subset)) continue;
    const { rules } = findHostRules(d.host, vs.metadata.namespace, (ns) => objects.destinationRules(ns), mesh);
    const labels = findSubset(rules, d.subset)?.subset.labels;
    if (!labels) continue;
    const service = metricsServiceOf(d.host, vs.metadata.namespace, mesh.clusterDomain);
    found.set(d.subset, { subset: d.subset, version: labels[mesh.versionLabel] ?? d.subset, namespace: service.namespace, service: service.name, subsetLabels: labels });
  }
  return [...found.values()];
}

export interface PreTrafficDeps {
  smokeTest: { url: string | null; expectedStatus: number; timeoutMs: number };
  run: (spec: SmokeTestSpec) => Promise<SmokeTestResult>;
  revisions: RevisionSource;
}

/** Runs the smoke test of one candidate; the annotation to write when the result or the revisions changed. */
export async function smokeCandidate(vs: VirtualService, c: PreTrafficCandidate, deps: PreTrafficDeps, now: Date): Promise<{ record: SmokeRecord; annotations?: Record<string, string> } | undefined> {
  const url = smokeTestUrl(deps.smokeTest.url, { namespace: c.namespace, service: c.service, version: c.version }, { ...(vs.metadata.annotations ?? {}) });
  if (!url) return undefined;
  const [result, revisions] = await Promise.all([
    deps.run({ url, expectedStatus: deps.smokeTest.expectedStatus, timeoutMs: deps.smokeTest.timeoutMs }),
    deps.revisions.revisionsOf({ namespace: c.namespace, service: c.service, subsetLabels: c.subsetLabels }).then((rs) => rs.map(revisionKey)),
  ]);
  const record: SmokeRecord = { subset: c.subset, version: c.version, revisions, outcome: result.outcome, at: now.toISOString(), url, message: result.message };
  const previous = parseSmokeRecords(vs.metadata.annotations?.[SMOKE_RESULT]).find((r) => r.subset === c.subset);
  const changed = !previous || previous.outcome !== record.outcome || previous.revisions.join(',') !== record.revisions.join(',');
  return changed ? { record, annotations: { [SMOKE_RESULT]: withSmokeRecord(vs.metadata.annotations?.[SMOKE_RESULT], record) } } : { record };
}

/** A candidate at 0 % is smoke-tested at most this often; a result is written only when it or the revisions change. */
const SMOKE_RERUN_SECONDS = 60;

/** The loop's step for a VirtualService without candidate traffic: smoke-test its candidates at 0 %. */
export async function smokeBeforeTraffic(vs: VirtualService, state: CutoverState, now: Date, smokedAtMs: Map<string, number>, io: LoopIO): Promise<void> {
const { deps } = io;
  const smokeTest = deps.config.smokeTest;
  if (!smokeTest?.url && vs.metadata.annotations?.[SMOKE_TEST_URL] === undefined) return;
  if (!deps.smokeRunner || !deps.revisions || !smokeTest || deps.config.dryRun) return;
  for (const c of zeroPercentCandidates(vs, state, deps.objects, deps.mesh)) {
    const key = `${vs.metadata.uid ?? vs.metadata.name}/${c.subset}`;
    const last = smokedAtMs.get(key);
    if (last !== undefined && now.getTime() - last < SMOKE_RERUN_SECONDS * 1000) continue;
    smokedAtMs.set(key, now.getTime());
    try {
      const done = await smokeCandidate(vs, c, { smokeTest, run: deps.smokeRunner, revisions: deps.revisions }, now);
      if (done?.annotations && (await io.record(vs, done.annotations))) {
        deps.log.info({ ...logKeys(vs) }, `pre-traffic smoke test of subset ${c.subset} (${done.record.revisions.join(', ') || 'no revision read'}): ${done.record.outcome}: ${done.record.message}`);
      }
    } catch (err) {
      deps.log.warn({ ...logKeys(vs), err: err instanceof Error ? err.message : String(err) }, `pre-traffic smoke test of subset ${c.subset} not run`);
    }
    return; // one write per cycle and object: the next cycle sees the fresh resourceVersion
  }
}
