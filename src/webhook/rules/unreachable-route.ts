// unreachable-route (advisory, like Istio's IST0130): a route that never
// receives a request, because Istio takes the first route whose match fits
// and one in front of it takes them all: a catch-all of its kind (no match, or
// an empty match entry), or routes whose entries take each of its entries.
// ineffective-match (advisory, like Istio's IST0131): one entry of a route's
// match that never takes a request, because an entry in front of it (of an
// earlier route, or earlier in the same route) has the same conditions or
// wider ones (src/istio/traffic.ts: matchShadowing).
import { matchShadowing, trafficOf, type IneffectiveMatch } from '../../istio/traffic.js';
import type { Route } from '../../istio/routes.js';
import type { VirtualService } from '../../istio/types.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkUnreachableRoutes({ vs, object, name, config }: VsRuleInput): Issue[] {
  const traffic = trafficOf(vs, config.clusterDomain);
  const issues: Issue[] = traffic
    .filter((t) => t.shadowedBy)
    .map((t) => ({
      rule: 'unreachable-route' as const,
      object,
      advisory: true,
      message:
        `${name}: ${t.route.label} is unreachable, because ${t.shadowedBy?.label} in front of it has no match and takes every ${t.route.kind === 'http' ? 'request' : 'connection'} (Istio's analyzer: IST0130). ` +
        `Fix: move ${t.route.label} in front of ${t.shadowedBy?.label}, or give ${t.shadowedBy?.label} a match.`,
    }));
  const shadowing = matchShadowing(traffic);
  for (const [route, taken] of shadowing.unreachable) {
    const fronts = [...new Set(taken.map((m) => m.by))];
    const by = taken.map((m) => `${entryLabel(vs, route, m.entry)} by ${fronts.length > 1 ? `${m.by.label} ` : ''}${entryLabel(vs, m.by, m.byEntry)}`).join(', ');
    const front = fronts.map((r) => r.label).join(' and ');
    issues.push({
      rule: 'unreachable-route',
      object,
      advisory: true,
      message:
        `${name}: ${route.label} is unreachable, because ${front} in front of it ${fronts.length > 1 ? 'take' : 'takes'} every ${unit(route)} its match entries fit (${by}) (Istio's analyzer: IST0130). ` +
        `Fix: remove ${route.label}, or move it in front of ${fronts[0]?.label ?? 'them'}, or narrow the match in front.`,
    });
  }
  for (const m of shadowing.ineffective) issues.push({ rule: 'ineffective-match', object, advisory: true, message: ineffectiveMessage(vs, name, m) });
  return issues;
}

function ineffectiveMessage(vs: VirtualService, name: string, m: IneffectiveMatch): string {
  const entry = entryLabel(vs, m.route, m.entry);
  const front = entryLabel(vs, m.by, m.byEntry);
  const how = m.duplicate ? 'has the same conditions' : `takes every ${unit(m.route)} it fits`;
  if (m.by === m.route) {
    return (
      `${name}: ${m.route.label} ${entry} never decides anything, because ${front} of the same route, in front of it, ${how} (Istio's analyzer: IST0131). ` +
      `Fix: remove ${entry}; the route takes those ${unit(m.route)}s through ${front} already.`
    );
  }
  return (
    `${name}: ${m.route.label} ${entry} never takes a ${unit(m.route)}, because ${m.by.label} ${front} in front of it ${how} (Istio's analyzer: IST0131). ` +
    `Fix: remove ${entry}, or move ${m.route.label} in front of ${m.by.label}, or narrow ${m.by.label} ${front}.`
  );
}

function unit(route: Route): string {
  return route.kind === 'http' ? 'request' : 'connection';
}

/** `match[1]` or `match[1] "legacy"` (HTTPMatchRequest.name). */
function entryLabel(vs: VirtualService, route: Route, entry: number): string {
  const list = vs.spec[route.kind];
  const raw = Array.isArray(list) ? (list[route.index] as { match?: unknown } | undefined)?.match : undefined;
  const e = Array.isArray(raw) ? (raw[entry] as { name?: unknown } | null | undefined) : undefined;
  const label = typeof e?.name === 'string' && e.name !== '' ? e.name : undefined;
  return `match[${entry}]${label !== undefined ? ` "${label}"` : ''}`;
}
