// Cluster reads for one review, memoised: a review looks at a handful of
// hosts and namespaces, and reads each once however many rules ask.
import type { ClusterState } from '../../cluster/cluster-state.js';
import { findHostRules, type HostRules } from '../../istio/destination-rules.js';
import type { DestinationRule, VirtualService } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import type { RoutedSubset, VsChange } from './change.js';
import type { ScrapeStatus } from './scrape-status.js';
import { findAllVersions, findBackend, type Backend } from './subset-backend.js';

export class Lookup {
  private readonly rulesMemo = new Memo<HostRules>();
  private readonly backendMemo = new Memo<Backend>();
  private readonly allVersionsMemo = new Memo<Backend>();

  constructor(
    readonly state: ClusterState,
    readonly config: RulesConfig,
    /** DestinationRules of a namespace; defaults to the state's, overridden to judge a DestinationRule change. */
    readonly rulesIn: (namespace: string) => readonly DestinationRule[] = (ns) => state.destinationRules(ns),
  ) {}

  hostRules(host: string, fromNamespace: string): HostRules {
    return this.rulesMemo.get(fromNamespace, host, '', () => findHostRules(host, fromNamespace, this.rulesIn, this.config));
  }

  /** The backend of a routed subset, or of every version behind the Service for a destination without subset. */
  backendFor(s: Pick<RoutedSubset, 'host' | 'subset' | 'allVersions'>, fromNamespace: string): Backend {
    if (!s.allVersions) return this.backend(s.host, s.subset, fromNamespace);
    const { exceptStable } = s.allVersions;
    return this.allVersionsMemo.get(fromNamespace, s.host, exceptStable, () =>
      findAllVersions(this.state, s.host, exceptStable, this.hostRules(s.host, fromNamespace), this.config.clusterDomain),
    );
  }

  backend(host: string, subset: string, fromNamespace: string): Backend {
    return this.backendMemo.get(fromNamespace, host, subset, () => findBackend(this.state, host, subset, this.hostRules(host, fromNamespace), this.config.clusterDomain));
  }
}

/** Values by three names, in nested maps: a review reads them many times, and a key string built per read costs more than the read. */
class Memo<T> {
  private readonly byFirst = new Map<string, Map<string, Map<string, T>>>();

  get(first: string, second: string, third: string, compute: () => T): T {
    let bySecond = this.byFirst.get(first);
    if (!bySecond) this.byFirst.set(first, (bySecond = new Map<string, Map<string, T>>()));
    let byThird = bySecond.get(second);
    if (!byThird) bySecond.set(second, (byThird = new Map<string, T>()));
    let found = byThird.get(third);
    if (found === undefined) byThird.set(third, (found = compute()));
    return found;
  }
}

/** Everything a VirtualService rule reads. */
export interface VsRuleInput {
  vs: VirtualService;
  /** The object as stored before an UPDATE; undefined on a CREATE. */
  old: VirtualService | undefined;
  /** `VirtualService/shop/web`, for findings. */
  object: string;
  /** `VirtualService shop/web`, for messages. */
  name: string;
  change: VsChange;
  lookup: Lookup;
  config: RulesConfig;
  scrape: ScrapeStatus | undefined;
  /** When the review happens (epoch ms), for rules that judge how recent something is; undefined: not judged. */
  nowMs: number | undefined;
}
