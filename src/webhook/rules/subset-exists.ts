// subset-exists: every subset a route or mirror names is defined by the
// DestinationRule Istio applies to that host, and so is a subset the change
// names stable that no route names yet.
import { findSubset, isVisibleFrom, ruleHost, subsetNames } from '../../istio/destination-rules.js';
import { hostCovers } from '../../istio/hosts.js';
import { formatPercent } from '../../istio/routes.js';
import { promotionNote, routingPhrase, type RoutedSubset } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

interface Missing {
  host: string;
  subset: string;
  places: { kind: 'route' | 'mirror'; text: string; label: string; share: number }[];
  /** Named stable by the change, and by no route. */
  promoted?: RoutedSubset;
}

export function checkSubsetExists({ vs, object, name, change, lookup }: VsRuleInput): Issue[] {
  const namespace = vs.metadata.namespace;
  const missing = new Map<string, Missing>();
  /** The entry of an undefined subset; undefined when the subset is defined. */
  const undefinedSubset = (host: string, subset: string): Missing | undefined => {
    if (findSubset(lookup.hostRules(host, namespace).rules, subset)) return undefined;
    const key = `${host}|${subset}`;
    let m = missing.get(key);
    if (!m) missing.set(key, (m = { host, subset, places: [] }));
    return m;
  };
  for (const route of change.routes) {
    for (const d of route.destinations) {
      if (d.subset === undefined) continue;
      undefinedSubset(d.host, d.subset)?.places.push({ kind: 'route', text: `${formatPercent(d.sharePercent)} in ${route.label}`, label: route.label, share: d.sharePercent });
    }
    for (const m of route.mirrors) {
      if (m.subset === undefined) continue;
      undefinedSubset(m.host, m.subset)?.places.push({ kind: 'mirror', text: `${m.field} of ${route.label}`, label: route.label, share: 0 });
    }
  }
  for (const s of change.subsets) {
    if (!s.promotion || s.placements.length > 0) continue;
    const m = undefinedSubset(s.host, s.subset);
    if (m) m.promoted = s;
  }
  return [...missing.values()].map((m) => ({ rule: 'subset-exists', object, message: message(name, namespace, m, lookup) }));
}

function message(name: string, namespace: string, m: Missing, lookup: VsRuleInput['lookup']): string {
  const found = lookup.hostRules(m.host, namespace);
  const only = m.places.length === 1 ? m.places[0] : undefined;
  const what = m.promoted
    ? routingPhrase(m.promoted)
    : only?.kind === 'route'
      ? `routes ${formatPercent(only.share)} (${only.label}) to subset ${m.subset} of ${m.host}`
      : only?.kind === 'mirror'
        ? `mirrors ${only.label} to subset ${m.subset} of ${m.host}`
        : `names subset ${m.subset} of ${m.host} (${m.places.map((p) => p.text).join(', ')})`;
  const looked = `looked in ${found.looked.join(', ')}`;
  const instead = m.promoted ? 'or name an existing subset stable' : 'or route to an existing subset';
  const note = m.promoted ? promotionNote(m.promoted) : '';
  const first = found.rules[0];
  if (!first) {
    return (
      `${name} ${what}, but no DestinationRule for that host defines subset ${m.subset} (${looked}). ` +
      `Fix: create a DestinationRule for host ${m.host} in namespace ${namespace} with subset ${m.subset}, ${instead}.${note}`
    );
  }
  const ruleNames = found.rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ');
  const defined = subsetNames(found.rules);
  const shadow = shadowedDefinition(m, found.namespace ?? '', found.looked, namespace, lookup);
  return (
    `${name} ${what}, but no DestinationRule for that host defines subset ${m.subset} (${looked}): ` +
    `DestinationRule ${ruleNames}, which Istio applies to that host, defines ${defined.length > 0 ? `only ${defined.join(', ')}` : 'no subsets'}` +
    (shadow ? `; ${shadow} defines ${m.subset}, but Istio uses the rule in the first namespace that has one` : '') +
    `. Fix: add subset ${m.subset} to DestinationRule ${first.metadata.namespace}/${first.metadata.name}, ${instead}.${note}`
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
