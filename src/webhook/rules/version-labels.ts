// version-labels: the pods behind a routed subset carry `app` and `version`
// labels, share one version, and belong to one workload. A version-label typo
// that lets a subset select another workload's pods is the runbook's
// "partial rollout due to mislabeled pods".
import { promotionNote, routedSubsets, routingSentence } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { plural, podList } from './pods-text.js';
import { workloadName } from './subset-backend.js';

export function checkVersionLabels({ vs, object, name, change, lookup }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const s of routedSubsets(change)) {
    // Every version behind a Service carries several versions by design; probes and pods-ready judge each.
    if (s.allVersions) continue;
    const backend = lookup.backendFor(s, vs.metadata.namespace);
    if (backend.kind !== 'pods' || backend.pods.length === 0) continue;
    const namespace = backend.service.metadata.namespace;
    const problems: string[] = [];
    const unlabeled = backend.pods.filter((p) => !p.metadata.labels?.app || !p.metadata.labels.version);
    if (unlabeled.length > 0) problems.push(`${plural(unlabeled.length, 'pod')} lack an app or version label (${podList(unlabeled)})`);
    const versions = new Map<string, number>();
    for (const p of backend.pods) {
      const v = p.metadata.labels?.version;
      if (v) versions.set(v, (versions.get(v) ?? 0) + 1);
    }
    if (versions.size > 1) {
      problems.push(`they carry ${versions.size} versions (${[...versions].map(([v, n]) => `version=${v}: ${plural(n, 'pod')}`).join(', ')})`);
    }
    if (backend.workloads.length > 1) {
      const sorted = [...backend.workloads].sort((a, b) => b.pods.length - a.pods.length);
      const detail = sorted.map((w) => `${workloadName(w)}: ${plural(w.pods.length, 'pod')}${w === sorted[0] ? '' : ` (${podList(w.pods)})`}`).join('; ');
      problems.push(`they belong to ${backend.workloads.length} workloads (${detail})`);
    }
    if (problems.length === 0) continue;
    issues.push({
      rule: 'version-labels',
      object,
      message:
        `${routingSentence(name, s)}, whose pods are mislabeled: ${problems.join('; ')}. Traffic meant for one version reaches another (partial rollout due to mislabeled pods). ` +
        `Fix: correct the app/version labels in the pod template of the workload that does not belong, redeploy it, and check with 'kubectl get pods -n ${namespace} -L app,version'.` +
        promotionNote(s),
    });
  }
  return issues;
}
