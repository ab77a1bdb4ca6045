// pods-ready: the workload behind a candidate whose share rises is fully
// rolled out and Ready: at least one replica, every replica updated, ready
// and available, no old replica left, and every pod the subset selects Ready
// and without a recent restart. The message says why, from the pods' status.
import type { Deployment } from '../../istio/types.js';
import { nextStep, promotionNote, raisedCandidates, routingSentence } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { failingPods } from './pod-status.js';
import { podList } from './pods-text.js';
import { workloadName } from './subset-backend.js';

/** How many failing pods a message describes one by one. */
const DESCRIBED_PODS = 3;

export function checkPodsReady({ vs, object, name, change, lookup, config, nowMs }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const s of raisedCandidates(change)) {
    const backend = lookup.backendFor(s, vs.metadata.namespace);
    if (backend.kind !== 'pods' || backend.pods.length === 0) continue;
    const problems: string[] = [];
    const deployments: string[] = [];
    for (const w of backend.workloads) {
      if (w.deployment) {
        deployments.push(w.deployment.metadata.name);
        const gaps = rolloutGaps(w.deployment);
        if (gaps.length > 0) problems.push(`${workloadName(w)} is not fully rolled out (${gaps.join(', ')})`);
      }
    }
    const failing = failingPods(backend.pods, nowMs, config.restartWindowSeconds * 1000);
    // Pods whose status says nothing more than "not Ready" are listed together; the others one by one.
    const plain = failing.filter((f) => f.kind === 'unknown');
    const explained = failing.filter((f) => f.kind !== 'unknown');
    const shown = explained.slice(0, DESCRIBED_PODS);
    problems.push(...shown.map((f) => f.problem));
    if (explained.length > shown.length) problems.push(`${explained.length - shown.length} more pods are not passing`);
    if (plain.length > 0) problems.push(`pods ${podList(plain.map((f) => f.pod))} are not Ready`);
    if (problems.length === 0) continue;
    const namespace = backend.service.metadata.namespace;
    const waits = deployments.map((d) => `'kubectl rollout status deployment/${d} -n ${namespace}'`);
    const byKind = new Map<string, string>();
    for (const f of shown) if (!byKind.has(f.kind)) byKind.set(f.kind, f.fix);
    const fixes = [...byKind.values()];
    issues.push({
      rule: 'pods-ready',
      object,
      message:
        `${routingSentence(name, s)}, but ${problems.join('; ')}. ` +
        `Fix: ${fixes.length > 0 ? `${fixes.join('; ')}; then ` : ''}wait until ${waits.length > 0 ? `${waits.join(' and ')} succeeds and ` : ''}every pod of subset ${s.subset} is Ready, then ${nextStep(s)}.` +
        promotionNote(s),
    });
  }
  return issues;
}

/** What keeps a Deployment from being fully rolled out and Ready, in words; empty when it is. */
export function rolloutGaps(d: Deployment): string[] {
  const want = d.spec.replicas ?? 1;
  const st = d.status;
  const gaps: string[] = [];
  if (want === 0) return ['scaled to 0 replicas'];
  if (d.metadata.generation !== undefined && (st.observedGeneration ?? 0) < d.metadata.generation) {
    gaps.push(`its latest spec (generation ${d.metadata.generation}) is not yet observed`);
  }
  const updated = st.updatedReplicas ?? 0;
  const ready = st.readyReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  if (updated < want) gaps.push(`${updated}/${want} updated`);
  if (ready < want) gaps.push(`${ready}/${want} ready`);
  if (available < want) gaps.push(`${available}/${want} available`);
  const total = st.replicas ?? 0;
  if (total > updated && updated >= want) gaps.push(`${total - updated} old replicas still running`);
  return gaps;
}
