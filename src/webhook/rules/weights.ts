// weights: integers from 0 to 2^31-1 (Istio's weight is an int32; a larger one
// overflows in the proxy's config), and a route with several destinations has a positive
// total (Istio's weights are relative: weight / total; a lone destination takes all).
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

/** Istio's `HTTPRouteDestination.weight` is an int32. */
export const MAX_WEIGHT = 2 ** 31 - 1;

export function checkWeights({ object, name, change }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const route of change.routes) {
    const bad: string[] = [];
    for (const d of route.destinations) {
      const w = d.weight;
      if (w === undefined || (typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= MAX_WEIGHT)) continue;
      bad.push(`${d.subset !== undefined ? `subset ${d.subset} of ` : ''}${d.host} has weight ${JSON.stringify(w)}`);
    }
    if (bad.length > 0) {
      issues.push({
        rule: 'weights',
        object,
        message: `${name} ${route.label}: ${bad.join('; ')}; a weight must be a whole number from 0 to ${MAX_WEIGHT}. Fix: write integer weights, e.g. 100 and 0.`,
      });
    }
    if (route.destinations.length > 1 && route.destinations.every((d) => d.sharePercent === 0)) {
      issues.push({
        rule: 'weights',
        object,
        message:
          `${name} ${route.label} has ${route.destinations.length} destinations but their weights add up to 0, so no destination can take the traffic (Istio rejects it). ` +
          `Fix: give the stable subset a positive weight (e.g. 100) and the others 0.`,
      });
    }
  }
  return issues;
}
