// dr-host (Istio IST0174, UnknownDestinationRuleHost): a DestinationRule whose
// host is a Service of this cluster that does not exist applies to nothing, so
// the subsets a cutover relies on are never defined for the real host (a typo
// in the host, or the rule written before the Service). Default `warn`, as
// Istio's level. Hosts outside the cluster's Services (ServiceEntries,
// wildcards) are not checked: the webhook does not cache ServiceEntries.
import { ruleHost } from '../../istio/destination-rules.js';
import { serviceOfHost } from '../../istio/hosts.js';
import type { DestinationRule } from '../../istio/types.js';
import type { ClusterState } from '../../cluster/cluster-state.js';
import type { RulesConfig } from '../rules-config.js';
import type { Issue } from './issue.js';

export function checkDrHost(dr: DestinationRule, state: ClusterState, config: RulesConfig, object: string): Issue[] {
  const host = ruleHost(dr, config.clusterDomain);
  const ref = serviceOfHost(host, config.clusterDomain);
  if (!ref || state.service(ref.namespace, ref.name)) return [];
  return [
    {
      rule: 'dr-host',
      object,
      message:
        `DestinationRule ${dr.metadata.namespace}/${dr.metadata.name} is for host ${host}, but Service ${ref.namespace}/${ref.name} does not exist, so the rule and its subsets apply to nothing (Istio IST0174). ` +
        `Fix: correct spec.host to the Service's name (e.g. <service>.${ref.namespace}.svc.${config.clusterDomain}), or create Service ${ref.namespace}/${ref.name} first.`,
    },
  ];
}
