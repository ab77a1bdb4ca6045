// zero-start: a candidate newly added to a route that has several destinations
// enters at weight 0 (runbook: "initial traffic weight set to 0% for new
// version"). Raising it afterwards is a cutover, judged by the other rules.
import { STABLE_SUBSET } from '../../istio/annotations.js';
import { formatPercent } from '../../istio/routes.js';
import { subsetName } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkZeroStart({ object, name, change }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const s of change.subsets) {
    if (s.role !== 'candidate') continue;
    for (const p of s.placements) {
      if (!p.added || p.newShare === 0 || p.route.destinations.length < 2) continue;
      const stableInRoute = p.route.destinations.some((d) => d.subset === change.stableSubset);
      issues.push({
        rule: 'zero-start',
        object,
        message:
          `${name} adds ${subsetName(s)} to ${p.route.label} at ${formatPercent(p.newShare)}; a new subset must enter a route at weight 0 ` +
          `(runbook: initial traffic weight 0% for the new version). Fix: apply the route with ${s.subset} at weight 0 first, then raise it in a later change once its pods are ready.` +
          (stableInRoute ? '' : ` If ${s.subset} is in fact the stable subset, record it with the annotation ${STABLE_SUBSET}: ${s.subset}.`),
      });
    }
  }
  return issues;
}
