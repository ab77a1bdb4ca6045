// subset-selects-pods, for a DestinationRule change: a subset that carries
// traffic and whose labels (or defining rule) change must still select at
// least one pod afterwards. Re-pointing a routed subset at pods that do not
// exist moves live traffic into a black hole as surely as a bad cutover.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { findHostRules, findSubset } from '../../istio/destination-rules.js';
import { formatLabels } from '../../istio/labels.js';
import type { RulesConfig } from '../rules-config.js';
import { describeOperation, type DrChange, type Reference } from './dr-change.js';
import type { Issue } from './issue.js';
import { findBackend } from './subset-backend.js';

export function checkRelabeledSubsetsSelectPods(operation: 'CREATE' | 'UPDATE' | 'DELETE', change: DrChange, state: ClusterState, config: RulesConfig): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const [host, refs] of change.references) {
    const routed = new Map<string, Reference[]>();
    for (const ref of refs) {
      if (ref.sharePercent <= 0) continue;
      const key = `${ref.vs.metadata.namespace}|${ref.subset}`;
      routed.set(key, [...(routed.get(key) ?? []), ref]);
    }
    for (const [key, group] of routed) {
      const first = group[0];
      if (!first || seen.has(`${host}|${key}`)) continue;
      seen.add(`${host}|${key}`);
      const from = first.vs.metadata.namespace;
      const before = findSubset(findHostRules(host, from, change.before, config).rules, first.subset);
      const afterRules = findHostRules(host, from, change.after, config);
      const after = findSubset(afterRules.rules, first.subset);
      if (!before || !after) continue; // subset-exists / subset-in-use territory
      if (before.rule === after.rule && JSON.stringify(before.subset.labels ?? {}) === JSON.stringify(after.subset.labels ?? {})) continue;
      const backend = findBackend(state, host, first.subset, afterRules, config.clusterDomain);
      if (backend.kind !== 'pods' || backend.pods.length > 0) continue;
      const vsName = `${first.vs.metadata.namespace}/${first.vs.metadata.name}`;
      issues.push({
        rule: 'subset-selects-pods',
        object: `DestinationRule/${change.namespace}/${change.name}`,
        message:
          `${describeOperation(operation, change)} makes subset ${first.subset} of ${host} select no pod ` +
          `('kubectl get pods -n ${backend.service.metadata.namespace} -l ${formatLabels(backend.selector)}' finds nothing), ` +
          `but VirtualService ${vsName} routes traffic to it (${group.map((r) => r.place).join(', ')}). ` +
          `Fix: deploy pods with those labels first, or keep subset ${first.subset}'s labels until traffic has moved off it.`,
      });
    }
  }
  return issues;
}
