import type {
  Deployment,
  DestinationRule,
  Job,
  Labels,
  Pod,
  ReplicaSet,
  Service,
  VirtualService,
} from '../istio/types.js';

export interface Namespace {
  kind: 'Namespace';
  metadata: { name: string; namespace?: string; labels?: Labels; annotations?: Labels };
  /** Being deleted (deletionTimestamp set, phase Terminating). */
  terminating?: boolean;
}

/**
 * What the rules may know about the cluster. Read-only and synchronous: the
 * webhook backs it with watch caches, `preflight` with files. Nothing behind
 * it may call the API server.
 */
export interface ClusterState {
  namespace(name: string): Namespace | undefined;
  destinationRules(namespace: string): readonly DestinationRule[];
  virtualServices(): readonly VirtualService[];
  /**
   * The VirtualServices that carry this annotation, whatever its value: kept
   * as the cache changes, so a rule that reads one annotation (the rollback
   * latch) does not walk every VirtualService on every review.
   */
  virtualServicesAnnotated(key: string): readonly VirtualService[];
  service(namespace: string, name: string): Service | undefined;
  pods(namespace: string): readonly Pod[];
  /**
   * The pods of a namespace whose labels carry every `key: value` of the
   * selector (equality, as a Service selector or a subset selects); an empty
   * selector selects them all. Answered from a label index, never a scan.
   */
  podsMatching(namespace: string, selector: Labels): readonly Pod[];
  replicaSet(namespace: string, name: string): ReplicaSet | undefined;
  deployment(namespace: string, name: string): Deployment | undefined;
  /** batch/v1 Jobs of a namespace (migrations, backfills), for the `jobs` rule. */
  jobs(namespace: string): readonly Job[];
}
