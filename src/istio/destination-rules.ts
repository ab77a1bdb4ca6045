// Which DestinationRule Istio applies to a host, as seen from a namespace
// (PushContext.destinationRule): the most specific visible rule for the host
// in the client's namespace, else one exported from the service's namespace,
// else one exported from the mesh root namespace. The first namespace that
// has one wins outright: a rule there shadows rules further down the list.
import { hostCovers, hostSpecificity, resolveHost, serviceOfHost } from './hosts.js';
import type { DestinationRule, Subset } from './types.js';

export interface HostRules {
  /** Namespaces searched, in order, without repeats. */
  looked: string[];
  /** Namespace the rules were found in, if any. */
  namespace: string | undefined;
  /** Rules Istio merges for the host there (same host, same namespace); empty when none. */
  rules: DestinationRule[];
}

export interface RuleLookupOptions {
  rootNamespace: string;
  clusterDomain: string;
}

/** A rule's `exportTo`, the way Istio reads it: empty or absent means everywhere. */
export function isVisibleFrom(rule: DestinationRule, namespace: string): boolean {
  const exportTo = Array.isArray(rule.spec.exportTo) ? rule.spec.exportTo : [];
  if (exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || e === namespace || (e === '.' && rule.metadata.namespace === namespace));
}

/** The fully qualified host a DestinationRule applies to. */
export function ruleHost(rule: DestinationRule, clusterDomain: string): string {
  return resolveHost(typeof rule.spec.host === 'string' ? rule.spec.host : '', rule.metadata.namespace, clusterDomain);
}

export function lookupNamespaces(host: string, fromNamespace: string, options: RuleLookupOptions): string[] {
  const service = serviceOfHost(host, options.clusterDomain);
  const order = [fromNamespace, ...(service ? [service.namespace] : []), options.rootNamespace];
  return [...new Set(order)];
}

/**
 * The DestinationRules that decide `host`'s subsets for clients in `fromNamespace`.
 * `rulesIn` lists the DestinationRules of one namespace.
 */
export function findHostRules(
  host: string,
  fromNamespace: string,
  rulesIn: (namespace: string) => readonly DestinationRule[],
  options: RuleLookupOptions,
): HostRules {
  const looked = lookupNamespaces(host, fromNamespace, options);
  for (const namespace of looked) {
    let best = -1;
    let found: DestinationRule[] = [];
    for (const rule of rulesIn(namespace)) {
      if (!isVisibleFrom(rule, fromNamespace)) continue;
      const h = ruleHost(rule, options.clusterDomain);
      if (!hostCovers(h, host)) continue;
      const specificity = hostSpecificity(h);
      if (specificity > best) {
        best = specificity;
        found = [rule];
      } else if (specificity === best) {
        found.push(rule);
      }
    }
    if (found.length > 0) return { looked, namespace, rules: found };
  }
  return { looked, namespace: undefined, rules: [] };
}

/** The subset of that name and the rule defining it; when rules merge, the first definition wins. */
export function findSubset(rules: readonly DestinationRule[], name: string): { rule: DestinationRule; subset: Subset } | undefined {
  for (const rule of rules) {
    const subsets = Array.isArray(rule.spec.subsets) ? rule.spec.subsets : [];
    const subset = subsets.find((s) => s?.name === name);
    if (subset) return { rule, subset };
  }
  return undefined;
}

export function subsetNames(rules: readonly DestinationRule[]): string[] {
  const names = new Set<string>();
  for (const rule of rules) for (const s of Array.isArray(rule.spec.subsets) ? rule.spec.subsets : []) if (typeof s?.name === 'string') names.add(s.name);
  return [...names];
}
