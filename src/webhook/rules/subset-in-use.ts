// subset-in-use: a DestinationRule change (update, delete, or a create that
// shadows another rule) may not leave undefined a subset that a
// VirtualService still names, at any weight or as a mirror: drop the
// reference first (make-before-break). Judged as Istio resolves it: a
// reference that resolved before the change and does not after.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { findHostRules, findSubset, ruleHost } from '../../istio/destination-rules.js';
import { hostCovers } from '../../istio/hosts.js';
import { formatPercent, routesOf } from '../../istio/routes.js';
import type { DestinationRule, VirtualService } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import type { Issue } from './issue.js';

interface Reference {
  vs: VirtualService;
  host: string;
  subset: string;
  place: string;
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
      for (const d of route.destinations) if (d.subset !== undefined) add({ vs, host: d.host, subset: d.subset, place: `${formatPercent(d.sharePercent)} in ${route.label}` });
      for (const m of route.mirrors) if (m.subset !== undefined) add({ vs, host: m.host, subset: m.subset, place: `${m.field} of ${route.label}` });
    }
  }
  indexes.set(all, { clusterDomain, byHost });
  return byHost;
}

export function checkSubsetInUse(
  operation: 'CREATE' | 'UPDATE' | 'DELETE',
  next: DestinationRule | undefined,
  previous: DestinationRule | undefined,
  state: ClusterState,
  config: RulesConfig,
): Issue[] {
  const subject = next ?? previous;
  if (!subject) return [];
  const { namespace, name } = subject.metadata;
  const others = () => state.destinationRules(namespace).filter((r) => r.metadata.name !== name);
  const before = (ns: string) => (ns === namespace ? [...others(), ...(previous ? [previous] : [])] : state.destinationRules(ns));
  const after = (ns: string) => (ns === namespace ? [...others(), ...(next ? [next] : [])] : state.destinationRules(ns));

  const hosts = [next, previous].filter((r): r is DestinationRule => r !== undefined).map((r) => ruleHost(r, config.clusterDomain));
  const byHost = referencesByHost(state.virtualServices(), config.clusterDomain);
  const broken = new Map<VirtualService, Reference[]>();
  // An exact rule host is one map lookup; only a wildcard host needs the whole index.
  const candidates = hosts.some((h) => h.includes('*'))
    ? [...byHost].filter(([host]) => hosts.some((h) => hostCovers(h, host)))
    : [...new Set(hosts)].map((h): [string, Reference[]] => [h, byHost.get(h) ?? []]);
  for (const [host, refs] of candidates) {
    for (const ref of refs) {
      const from = ref.vs.metadata.namespace;
      const resolvedBefore = findSubset(findHostRules(host, from, before, config).rules, ref.subset);
      if (!resolvedBefore) continue; // already broken: not this change's doing
      if (findSubset(findHostRules(host, from, after, config).rules, ref.subset)) continue;
      let list = broken.get(ref.vs);
      if (!list) broken.set(ref.vs, (list = []));
      list.push(ref);
    }
  }

  const object = `DestinationRule/${namespace}/${name}`;
  const change =
    operation === 'DELETE' ? `Deleting DestinationRule ${namespace}/${name}` : operation === 'CREATE' ? `Creating DestinationRule ${namespace}/${name}` : `This change to DestinationRule ${namespace}/${name}`;
  return [...broken].map(([vs, refs]) => {
    const groups = new Map<string, string[]>();
    for (const r of refs) {
      const key = `subset ${r.subset} of ${r.host}`;
      groups.set(key, [...(groups.get(key) ?? []), r.place]);
    }
    const vsName = `${vs.metadata.namespace}/${vs.metadata.name}`;
    const why = operation === 'CREATE' ? ` (the new rule takes precedence for clients in ${vs.metadata.namespace} and does not define ${groups.size === 1 ? 'it' : 'them'})` : '';
    const [only] = groups.size === 1 ? [...groups] : [];
    const problem = only
      ? `${change} leaves ${only[0]} undefined${why}, but VirtualService ${vsName} still names it (${only[1].join(', ')})`
      : `${change} leaves ${groups.size} subsets undefined${why} that VirtualService ${vsName} still names: ${[...groups].map(([k, places]) => `${k} (${places.join(', ')})`).join('; ')}`;
    const subsets = [...new Set(refs.map((r) => r.subset))].join(', ');
    return {
      rule: 'subset-in-use' as const,
      object,
      message: `${problem}. Fix: first remove subset ${subsets} from VirtualService ${vsName}'s routes and mirrors (make-before-break), then change the DestinationRule.`,
    };
  });
}
