// unreachable-route (advisory, like Istio's IST0130): a route behind a
// catch-all of its kind (no match, or an empty match entry) never receives a
// request, because Istio takes the first route whose match fits.
import { trafficOf } from '../../istio/traffic.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkUnreachableRoutes({ vs, object, name, config }: VsRuleInput): Issue[] {
  return trafficOf(vs, config.clusterDomain)
    .filter((t) => t.shadowedBy)
    .map((t) => ({
      rule: 'unreachable-route' as const,
      object,
      advisory: true,
      message:
        `${name}: ${t.route.label} is unreachable, because ${t.shadowedBy?.label} in front of it has no match and takes every ${t.route.kind === 'http' ? 'request' : 'connection'} (Istio's analyzer: IST0130). ` +
        `Fix: move ${t.route.label} in front of ${t.shadowedBy?.label}, or give ${t.shadowedBy?.label} a match.`,
    }));
}
