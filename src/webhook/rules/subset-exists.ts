// subset-exists: every subset a route or mirror names is defined by the
// DestinationRule Istio applies to that host.
import { findSubset, isVisibleFrom, ruleHost, subsetNames } from '../../istio/destination-rules.js';
import { hostCovers } from '../../istio/hosts.js';
import { formatPercent } from '../../istio/routes.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

interface Missing {
  host: string;
  subset: string;
  places: { kind: 'route' | 'mirror'; text: string; label: string; share: number }[];
}

export function checkSubsetExists({ vs, object, name, change, lookup }: VsRuleInput): Issue[] {
  const namespace = vs.metadata.namespace;
  const missing = new Map<string, Missing>();
  const note = (host: string, subset: string, place: Missing['places'][number]) => {
    if (findSubset(lookup.hostRules(host, namespace).rules, subset)) return;
    const key = `${host}|${subset}`;
    let m = missing.get(key);
    if (!m) missing.set(key, (m = { host, subset, places: [] }));
    m.places.push(place);
  };
  for (const route of change.routes) {
    for (const d of route.destinations) {
      if (d.subset !== undefined) note(d.host, d.subset, { kind: 'route', text: `${formatPercent(d.sharePercent)} in ${route.label}`, label: route.label, share: d.sharePercent });
    }
    for (const m of route.mirrors) {
      if (m.subset !== undefined) note(m.host, m.subset, { kind: 'mirror', text: `${m.field} of ${route.label}`, label: route.label, share: 0 });
    }
  }
  return [...missing.values()].map((m) => ({ rule: 'subset-exists', object, message: message(name, namespace, m, lookup) }));
}

function message(name: string, namespace: string, m: Missing, lookup: VsRuleInput['lookup']): string {
  const found = lookup.hostRules(m.host, namespace);
  const only = m.places.length === 1 ? m.places[0] : undefined;
  const what =
    only?.kind === 'route'
      ? `routes ${formatPercent(only.share)} (${only.label}) to subset ${m.subset} of ${m.host}`
      : only?.kind === 'mirror'
        ? `mirrors ${only.label} to subset ${m.subset} of ${m.host}`
        : `names subset ${m.subset} of ${m.host} (${m.places.map((p) => p.text).join(', ')})`;
  const looked = `looked in ${found.looked.join(', ')}`;
  const first = found.rules[0];
  if (!first) {
    return (
      `${name} ${what}, but no DestinationRule for that host defines subset ${m.subset} (${looked}). ` +
      `Fix: create a DestinationRule for host ${m.host} in namespace ${namespace} with subset ${m.subset}, or route to an existing subset.`
    );
  }
  const ruleNames = found.rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ');
  const defined = subsetNames(found.rules);
  const shadow = shadowedDefinition(m, found.namespace ?? '', found.looked, namespace, lookup);
  return (
    `${name} ${what}, but no DestinationRule for that host defines subset ${m.subset} (${looked}): ` +
    `DestinationRule ${ruleNames}, which Istio applies to that host, defines ${defined.length > 0 ? `only ${defined.join(', ')}` : 'no subsets'}` +
    (shadow ? `; ${shadow} defines ${m.subset}, but Istio uses the rule in the first namespace that has one` : '') +
    `. Fix: add subset ${m.subset} to DestinationRule ${first.metadata.namespace}/${first.metadata.name}, or route to an existing subset.`
  );
}

/** A rule further down the lookup order that would define the subset, were it not shadowed. */
function shadowedDefinition(m: Missing, usedNamespace: string, looked: readonly string[], from: string, lookup: VsRuleInput['lookup']): string | undefined {
  for (const ns of looked.slice(looked.indexOf(usedNamespace) + 1)) {
    for (const rule of lookup.rulesIn(ns)) {
      if (!isVisibleFrom(rule, from) || !hostCovers(ruleHost(rule, lookup.config.clusterDomain), m.host)) continue;
      if (findSubset([rule], m.subset)) return `DestinationRule ${rule.metadata.namespace}/${rule.metadata.name}`;
    }
  }
  return undefined;
}
