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
  private readonly rulesMemo = new Map<string, HostRules>();
  private readonly backendMemo = new Map<string, Backend>();

  constructor(
    readonly state: ClusterState,
    readonly config: RulesConfig,
    /** DestinationRules of a namespace; defaults to the state's, overridden to judge a DestinationRule change. */
    readonly rulesIn: (namespace: string) => readonly DestinationRule[] = (ns) => state.destinationRules(ns),
  ) {}

  hostRules(host: string, fromNamespace: string): HostRules {
    const key = `${fromNamespace}|${host}`;
    let found = this.rulesMemo.get(key);
    if (!found) this.rulesMemo.set(key, (found = findHostRules(host, fromNamespace, this.rulesIn, this.config)));
    return found;
  }

  /** The backend of a routed subset, or of every version behind the Service for a destination without subset. */
  backendFor(s: Pick<RoutedSubset, 'host' | 'subset' | 'allVersions'>, fromNamespace: string): Backend {
    if (!s.allVersions) return this.backend(s.host, s.subset, fromNamespace);
    const key = `${fromNamespace}|${s.host}|*${s.allVersions.exceptStable}`;
    let found = this.backendMemo.get(key);
    if (!found) {
      found = findAllVersions(this.state, s.host, s.allVersions.exceptStable, this.hostRules(s.host, fromNamespace), this.config.clusterDomain);
      this.backendMemo.set(key, found);
    }
    return found;
  }

  backend(host: string, subset: string, fromNamespace: string): Backend {
    const key = `${fromNamespace}|${host}|${subset}`;
    let found = this.backendMemo.get(key);
    if (!found) {
      found = findBackend(this.state, host, subset, this.hostRules(host, fromNamespace), this.config.clusterDomain);
      this.backendMemo.set(key, found);
    }
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
