// Which DestinationRule Istio applies to a host, as seen from a namespace
// (PushContext.destinationRule): the most specific visible rule for the host
// in the client's namespace, else one exported from the service's namespace,
// else one exported from the mesh root namespace. The first namespace that
// has one wins outright: a rule there shadows rules further down the list.
// In another namespace Istio takes the most specific exported rule first and
// only then checks that it is exported to the client; a client in the root
// namespace sees the root's private rules first and its exported ones last.
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
  return [...new Set(lookupSteps(host, fromNamespace, options).map((s) => s.namespace))];
}

/**
 * One step of Istio's search. `local`: the client's own namespace, every rule
 * visible there. `root-local`: a client in the root namespace, the root's
 * private rules only. `exported`: another namespace's rules that are not
 * private, the most specific first, then kept only if exported to the client.
 */
interface LookupStep {
  namespace: string;
  scope: 'local' | 'root-local' | 'exported';
}

function lookupSteps(host: string, fromNamespace: string, options: RuleLookupOptions): LookupStep[] {
  const root = options.rootNamespace;
  const steps: LookupStep[] = [{ namespace: fromNamespace, scope: fromNamespace === root ? 'root-local' : 'local' }];
  const service = serviceOfHost(host, options.clusterDomain);
  if (service && service.namespace !== fromNamespace) steps.push({ namespace: service.namespace, scope: 'exported' });
  if (!steps.some((s) => s.namespace === root && s.scope === 'exported')) steps.push({ namespace: root, scope: 'exported' });
  return steps;
}

/** Istio's `isPrivateOnly`: exported to its own namespace alone, so kept out of the namespace's exported rules. */
function isPrivateOnly(rule: DestinationRule): boolean {
  const exportTo = Array.isArray(rule.spec.exportTo) ? rule.spec.exportTo : [];
  return exportTo.length === 1 && (exportTo[0] === '.' || exportTo[0] === rule.metadata.namespace);
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
  for (const { namespace, scope } of lookupSteps(host, fromNamespace, options)) {
    const candidates = rulesIn(namespace).filter((rule) =>
      scope === 'local' ? isVisibleFrom(rule, namespace) : scope === 'root-local' ? isPrivateOnly(rule) : !isPrivateOnly(rule),
    );
    const mostSpecific = mostSpecificRules(host, candidates, options.clusterDomain);
    const found = scope === 'exported' ? mostSpecific.filter((rule) => isVisibleFrom(rule, fromNamespace)) : mostSpecific;
    if (found.length > 0) return { looked, namespace, rules: found };
  }
  return { looked, namespace: undefined, rules: [] };
}

/** Istio's MostSpecificHostMatch: the rules with the exact host, else those with the longest covering wildcard. */
function mostSpecificRules(host: string, rules: readonly DestinationRule[], clusterDomain: string): DestinationRule[] {
  let best = -1;
  let found: DestinationRule[] = [];
  for (const rule of rules) {
    const h = ruleHost(rule, clusterDomain);
    if (!hostCovers(h, host)) continue;
    const specificity = hostSpecificity(h);
    if (specificity > best) {
      best = specificity;
      found = [rule];
    } else if (specificity === best) {
      found.push(rule);
    }
  }
  return found;
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
