// subset-in-use: a DestinationRule change (update, delete, or a create that
// shadows another rule) may not leave undefined a subset that a
// VirtualService still names, at any weight or as a mirror: drop the
// reference first (make-before-break). Judged as Istio resolves it: a
// reference that resolved before the change and does not after.
import { findHostRules, findSubset } from '../../istio/destination-rules.js';
import type { VirtualService } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import { describeOperation, type DrChange, type Reference } from './dr-change.js';
import type { Issue } from './issue.js';

export function checkSubsetInUse(operation: 'CREATE' | 'UPDATE' | 'DELETE', change: DrChange, config: RulesConfig): Issue[] {
  const broken = new Map<VirtualService, Reference[]>();
  for (const [host, refs] of change.references) {
    for (const ref of refs) {
      const from = ref.vs.metadata.namespace;
      if (!findSubset(findHostRules(host, from, change.before, config).rules, ref.subset)) continue; // already broken: not this change's doing
      if (findSubset(findHostRules(host, from, change.after, config).rules, ref.subset)) continue;
      let list = broken.get(ref.vs);
      if (!list) broken.set(ref.vs, (list = []));
      list.push(ref);
    }
  }

  const object = `DestinationRule/${change.namespace}/${change.name}`;
  const what = describeOperation(operation, change);
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
      ? `${what} leaves ${only[0]} undefined${why}, but VirtualService ${vsName} still names it (${only[1].join(', ')})`
      : `${what} leaves ${groups.size} subsets undefined${why} that VirtualService ${vsName} still names: ${[...groups].map(([k, places]) => `${k} (${places.join(', ')})`).join('; ')}`;
    const subsets = [...new Set(refs.map((r) => r.subset))].join(', ');
    return {
      rule: 'subset-in-use' as const,
      object,
      message: `${problem}. Fix: first remove subset ${subsets} from VirtualService ${vsName}'s routes and mirrors (make-before-break), then change the DestinationRule.`,
    };
  });
}
