// host-conflict (Istio IST0109): a VirtualService claims a host on the mesh
// gateway that another VirtualService already claims for the same namespaces.
// Which of the two a sidecar applies is undefined, so a second VirtualService
// can send traffic to blue behind the guarded one's back. Introduced by this
// change: judged at the rule's mode; already there before it: a warning, so
// a cutover or a rollback of either is not held hostage by an old conflict.
import { conflictingHosts, meshHostConflicts } from '../../istio/mesh-hosts.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkHostConflict({ vs, old, lookup, config, object, name }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const [other, hosts] of meshHostConflicts(vs, lookup.state.virtualServices(), config.clusterDomain)) {
    const before = old ? conflictingHosts(old, other, config.clusterDomain) : [];
    const introduced = hosts.some((h) => !before.includes(h));
    const otherName = `VirtualService ${other.metadata.namespace}/${other.metadata.name}`;
    issues.push({
      rule: 'host-conflict',
      object,
      ...(introduced ? {} : { advisory: true }),
      message:
        `${name} claims host${hosts.length === 1 ? '' : 's'} ${hosts.join(', ')} on the mesh gateway, as ${otherName} already does for the same namespaces (Istio IST0109): ` +
        `which of the two a sidecar applies is undefined, so traffic can bypass the guarded routes` +
        (introduced ? '. ' : ` (a conflict that existed before this change). `) +
        `Fix: merge the routes into one VirtualService (e.g. ${otherName}), or remove the host from one of them, or narrow them with exportTo or gateways.`,
    });
  }
  return issues;
}
