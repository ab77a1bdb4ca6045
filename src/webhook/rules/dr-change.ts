// What a DestinationRule change does to the VirtualServices that name its
// host: the DestinationRules of every namespace before and after the change,
// and the references (route destinations and mirrors) that could be affected.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { ruleHost } from '../../istio/destination-rules.js';
import { hostCovers } from '../../istio/hosts.js';
import { formatPercent, routesOf } from '../../istio/routes.js';
import type { DestinationRule, VirtualService } from '../../istio/types.js';

export interface Reference {
  vs: VirtualService;
  host: string;
  subset: string;
  /** `0% in http[2] "primary"`, `mirror of http[2] "primary"`. */
  place: string;
  /** Share of the route's traffic; 0 for a mirror (mirrored traffic is a copy). */
  sharePercent: number;
}

export interface DrChange {
  namespace: string;
  name: string;
  /** DestinationRules of a namespace before and after the change. */
  before: (namespace: string) => readonly DestinationRule[];
  after: (namespace: string) => readonly DestinationRule[];
  /** References to the hosts the rule covered before or covers after, by host. */
  references: [string, Reference[]][];
}

/** VirtualService references by host, rebuilt only when the state's list of VirtualServices changes. */
const indexes = new WeakMap<readonly VirtualService[], { clusterDomain: string; byHost: Map<string, Reference[]> }>();

function referencesByHost(all: readonly VirtualService[], clusterDomain: string): Map<string, Reference[]> {
  const cached = indexes.get(all);
  if (cached && cached.clusterDomain === clusterDomain) return cached.byHost;
  const byHost = new Map<string, Reference[]>();
  const add = (r: Reference) => {
    let list = byHost.get(r.host);
    if (!list) byHost.set(r.host, (list = []));
    list.push(r);
  };
  for (const vs of all) {
    for (const route of routesOf(vs, clusterDomain)) {
      for (const d of route.destinations) {
        if (d.subset !== undefined) add({ vs, host: d.host, subset: d.subset, place: `${formatPercent(d.sharePercent)} in ${route.label}`, sharePercent: d.sharePercent });
      }
      for (const m of route.mirrors) if (m.subset !== undefined) add({ vs, host: m.host, subset: m.subset, place: `${m.field} of ${route.label}`, sharePercent: 0 });
    }
  }
  indexes.set(all, { clusterDomain, byHost });
  return byHost;
}

export function analyseDrChange(next: DestinationRule | undefined, previous: DestinationRule | undefined, state: ClusterState, clusterDomain: string): DrChange | undefined {
  const subject = next ?? previous;
  if (!subject) return undefined;
  const { namespace, name } = subject.metadata;
  const others = () => state.destinationRules(namespace).filter((r) => r.metadata.name !== name);
  const before = (ns: string) => (ns === namespace ? [...others(), ...(previous ? [previous] : [])] : state.destinationRules(ns));
  const after = (ns: string) => (ns === namespace ? [...others(), ...(next ? [next] : [])] : state.destinationRules(ns));

  const hosts = [...new Set([next, previous].filter((r): r is DestinationRule => r !== undefined).map((r) => ruleHost(r, clusterDomain)))];
  const byHost = referencesByHost(state.virtualServices(), clusterDomain);
  // An exact rule host is one map lookup; only a wildcard host needs the whole index.
  const references = hosts.some((h) => h.includes('*'))
    ? [...byHost].filter(([host]) => hosts.some((h) => hostCovers(h, host)))
    : hosts.map((h): [string, Reference[]] => [h, byHost.get(h) ?? []]);
  return { namespace, name, before, after, references };
}

export function describeOperation(operation: 'CREATE' | 'UPDATE' | 'DELETE', change: DrChange): string {
  const rule = `DestinationRule ${change.namespace}/${change.name}`;
  return operation === 'DELETE' ? `Deleting ${rule}` : operation === 'CREATE' ? `Creating ${rule}` : `This change to ${rule}`;
}
