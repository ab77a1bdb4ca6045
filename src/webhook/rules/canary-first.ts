// canary-first: a candidate goes from 0% to a small canary share (default 1%)
// before a full switch (runbook best practice: "route 1% of production
// traffic to v2 before full blue-green").
import { formatPercent } from '../../istio/routes.js';
import { subsetName } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkCanaryFirst({ object, name, change, config }: VsRuleInput): Issue[] {
  const max = config.canaryMaxWeightPercent;
  const issues: Issue[] = [];
  for (const s of change.subsets) {
    if (s.role !== 'candidate') continue;
    for (const p of s.placements) {
      if (p.oldShare > 0 || p.newShare <= max) continue;
      issues.push({
        rule: 'canary-first',
        object,
        message:
          `${name} raises ${subsetName(s)} from 0% to ${formatPercent(p.newShare)} in ${p.route.label} without a canary step. ` +
          `Fix: give ${s.subset} at most ${formatPercent(max)} first, watch it, then switch.`,
      });
    }
  }
  return issues;
}
