// destination-port (Istio IST0112, and IST0101 for a port the Service lacks):
// a destination whose Service has several ports must name one, and a named
// port must be one of the Service's. Istio's DestinationHostAnalyzer
// (pkg/config/analysis/analyzers/virtualservice/destinationhosts.go) checks
// routes and mirrors alike; so does this rule. Hosts that are not this
// cluster's Services (ServiceEntries) are not checked.
import { serviceOfHost } from '../../istio/hosts.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkDestinationPorts({ change, lookup, config, object, name }: VsRuleInput): Issue[] {
  const { state } = lookup;
  const problems = new Map<string, string>(); // by where, so each destination is named once
  for (const route of change.routes) {
    const targets = [
      ...route.destinations.map((d, i) => ({ ...d, where: `${route.label} route[${i}]` })),
      ...route.mirrors.map((m) => ({ ...m, where: `${route.label} ${m.field}` })),
    ];
    for (const d of targets) {
      const ref = serviceOfHost(d.host, config.clusterDomain);
      const ports = ref ? state.service(ref.namespace, ref.name)?.spec.ports : undefined;
      if (!ref || !ports) continue;
      const svc = `Service ${ref.namespace}/${ref.name}`;
      if (d.port === undefined && ports.length > 1) {
        problems.set(d.where, `${d.where} sends to ${d.writtenHost} without a port, but ${svc} exposes ports ${ports.join(', ')} (Istio IST0112)`);
      } else if (d.port !== undefined && !ports.includes(d.port)) {
        problems.set(d.where, `${d.where} sends to ${d.writtenHost} port ${d.port}, which ${svc} does not expose (it has ${ports.join(', ')}; Istio IST0101)`);
      }
    }
  }
  if (problems.size === 0) return [];
  return [
    {
      rule: 'destination-port',
      object,
      message:
        `${name}: ${[...problems.values()].join('; ')}. Which port receives that traffic is ambiguous or nobody listens on it. ` +
        `Fix: set destination.port.number to one of the Service's ports on each of those destinations.`,
    },
  ];
}
