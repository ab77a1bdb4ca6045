// A DestinationRule change that relabels a routed subset (reachable share
// above 0 in a VirtualService) points that subset's live traffic at another
// set of pods: when the subset selects a pod it did not select before, the
// pods it selects afterwards are judged as a cutover to it, by the same
// rules as a VirtualService cutover. Empty labels select every version.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { findHostRules, findSubset } from '../../istio/destination-rules.js';
import { formatLabels } from '../../istio/labels.js';
import { stableSubsetOf } from '../../istio/roles.js';
import { formatPercent } from '../../istio/routes.js';
import { reachableDestinations } from '../../istio/traffic.js';
import type { RulesConfig } from '../rules-config.js';
import type { RoutedSubset, VsChange } from './change.js';
import { Lookup, type VsRuleInput } from './context.js';
import type { DrChange } from './dr-change.js';
import type { Issue } from './issue.js';
import type { ScrapeStatus } from './scrape-status.js';
import { findBackend } from './subset-backend.js';

export function checkRelabelCutover(
  change: DrChange,
  state: ClusterState,
  config: RulesConfig,
  scrape: ScrapeStatus | undefined,
  nowMs: number | undefined,
  judge: (input: VsRuleInput) => Issue[],
): Issue[] {
  const issues: Issue[] = [];
  const drName = `DestinationRule ${change.namespace}/${change.name}`;
  const lookup = new Lookup(state, config, change.after);
  const seen = new Set<string>();
  for (const [host, refs] of change.references) {
    for (const ref of refs) {
      const key = `${ref.vs.metadata.namespace}/${ref.vs.metadata.name}|${host}|${ref.subset}`;
      if (ref.sharePercent <= 0 || seen.has(key)) continue;
      seen.add(key);
      const reached = reachableDestinations(ref.vs, config.clusterDomain).filter((d) => d.host === host && d.subset === ref.subset);
      if (reached.length === 0) continue;
      const from = ref.vs.metadata.namespace;
      const beforeRules = findHostRules(host, from, change.before, config);
      const afterRules = findHostRules(host, from, change.after, config);
      const before = findSubset(beforeRules.rules, ref.subset);
      const after = findSubset(afterRules.rules, ref.subset);
      if (!before || !after) continue; // subset-exists / subset-in-use territory
      const beforeBackend = findBackend(state, host, ref.subset, beforeRules, config.clusterDomain);
      const afterBackend = findBackend(state, host, ref.subset, afterRules, config.clusterDomain);
      if (afterBackend.kind !== 'pods' || afterBackend.pods.length === 0) continue; // subset-selects-pods (DestinationRule form)
      const known = new Set(beforeBackend.kind === 'pods' ? beforeBackend.pods.map((p) => p.metadata.name) : []);
      if (afterBackend.pods.every((p) => known.has(p.metadata.name))) continue;
      const vsName = `VirtualService ${ref.vs.metadata.namespace}/${ref.vs.metadata.name}`;
      const share = reached.map((d) => `${formatPercent(d.sharePercent)} in ${d.route.label}`).join(', ');
      const labels = (l: Record<string, string> | undefined) => (l && Object.keys(l).length > 0 ? formatLabels(l) : 'no labels, so every version behind the Service');
      const rs: RoutedSubset = {
        host,
        writtenHost: host,
        subset: ref.subset,
        role: 'candidate',
        placements: [],
        raised: true,
        maxShare: Math.max(...reached.map((d) => d.sharePercent)),
        path: {
          phrase:
            `relabelling subset ${ref.subset} of ${host} in ${drName} (${labels(before.subset.labels)} → ${labels(after.subset.labels)}) ` +
            `sends its traffic (${share} of ${vsName}) to pods it did not select before`,
          standalone: true,
          otherwise: ` Or keep subset ${ref.subset}'s labels, and move traffic to the other version through the VirtualService (a subset of its own, a canary step first).`,
        },
      };
      const vsChange: VsChange = { stableSubset: stableSubsetOf(ref.vs, undefined, config.defaultStableSubset), routes: [], subsets: [rs], cutover: true, rollback: false };
      issues.push(
        ...judge({ vs: ref.vs, old: undefined, object: `DestinationRule/${change.namespace}/${change.name}`, name: drName, change: vsChange, lookup, config, scrape, nowMs }),
      );
    }
  }
  return issues;
}
