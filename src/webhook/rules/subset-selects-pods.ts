// subset-selects-pods: a subset that gets traffic selects at least one pod
// (Service selector together with the subset's labels).
import { formatLabels } from '../../istio/labels.js';
import { promotionNote, routedSubsets, routingSentence } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkSubsetSelectsPods({ vs, object, name, change, lookup, config }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const s of routedSubsets(change)) {
    // Every version behind the Service: the stable subset's pods, left out, are there too.
    if (s.allVersions) continue;
    const backend = lookup.backendFor(s, vs.metadata.namespace);
    const what = routingSentence(name, s);
    switch (backend.kind) {
      case 'no-subset':
        break; // subset-exists reports it
      case 'external':
        issues.push({
          rule: 'subset-selects-pods',
          object,
          advisory: true,
          message: `${what}, a host outside this cluster's Services (not name.namespace.svc.${config.clusterDomain}), so its pods cannot be checked. Fix: none needed if the host is a ServiceEntry; use the Service's full host name otherwise.` + promotionNote(s),
        });
        break;
      case 'no-service':
        issues.push({
          rule: 'subset-selects-pods',
          object,
          message: `${what}, but Service ${backend.namespace}/${backend.name} does not exist, so no pod can receive that traffic. Fix: create Service ${backend.namespace}/${backend.name}, or route to an existing host.` + promotionNote(s),
        });
        break;
      case 'no-selector':
        issues.push({
          rule: 'subset-selects-pods',
          object,
          advisory: true,
          message: `${what}, but Service ${backend.service.metadata.namespace}/${backend.service.metadata.name} has no selector, so which pods back the subset cannot be checked. Fix: give the Service a selector (e.g. app=<service>).` + promotionNote(s),
        });
        break;
      case 'pods':
        if (backend.pods.length > 0) break;
        issues.push({
          rule: 'subset-selects-pods',
          object,
          message:
            `${what}, but no pod matches it: Service ${backend.service.metadata.namespace}/${backend.service.metadata.name}'s selector together with subset ${s.subset}'s labels ` +
            `(DestinationRule ${backend.rule?.metadata.namespace}/${backend.rule?.metadata.name}) is ${formatLabels(backend.selector)}, and ` +
            `'kubectl get pods -n ${backend.service.metadata.namespace} -l ${formatLabels(backend.selector)}' finds nothing. ` +
            `Fix: deploy the ${s.subset} pods and wait until they are ready, or correct subset ${s.subset}'s labels.` + promotionNote(s),
        });
        break;
    }
  }
  return issues;
}
