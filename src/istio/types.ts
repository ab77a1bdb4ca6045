// The slice of Istio's and Kubernetes' objects that bluegreen-guard reads.
// Cluster caches keep only these fields (see src/cluster/slim.ts), so what a
// rule can look at is visible here, and memory stays flat on large clusters.

export type Labels = Readonly<Record<string, string>>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Labels;
  annotations?: Labels;
  ownerReferences?: readonly OwnerReference[];
}

export interface OwnerReference {
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

// ---- Istio networking.istio.io (v1, v1beta1, v1alpha3 share this shape) ----

export interface Destination {
  host: string;
  subset?: string;
  port?: { number?: number };
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
  headers?: unknown;
}

export interface HttpRoute {
  name?: string;
  match?: unknown[];
  route?: RouteDestination[];
  mirror?: Destination;
  mirrors?: { destination: Destination; percentage?: unknown }[];
  [field: string]: unknown;
}

export interface TcpTlsRoute {
  match?: unknown[];
  route?: RouteDestination[];
  [field: string]: unknown;
}

export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HttpRoute[];
  tcp?: TcpTlsRoute[];
  tls?: TcpTlsRoute[];
  exportTo?: string[];
  [field: string]: unknown;
}

export interface VirtualService {
  apiVersion?: string;
  kind: 'VirtualService';
  metadata: ObjectMeta;
  spec: VirtualServiceSpec;
}

export interface Subset {
  name: string;
  labels?: Labels;
  [field: string]: unknown;
}

export interface DestinationRuleSpec {
  host: string;
  subsets?: Subset[];
  exportTo?: string[];
  [field: string]: unknown;
}

export interface DestinationRule {
  apiVersion?: string;
  kind: 'DestinationRule';
  metadata: ObjectMeta;
  spec: DestinationRuleSpec;
}

export type IstioObject = VirtualService | DestinationRule;

// ---- Kubernetes core/apps, slimmed ----

export interface Service {
  kind: 'Service';
  metadata: ObjectMeta;
  /** `ports`: the port numbers (with several, a destination must name one: IST0112). */
  spec: { selector?: Labels; ports?: number[] };
}

export interface ContainerProbes {
  name: string;
  hasReadinessProbe: boolean;
  hasLivenessProbe: boolean;
  /** The probes' `httpGet.path`, when they are HTTP probes. */
  readinessPath?: string;
  livenessPath?: string;
}

export interface Deployment {
  kind: 'Deployment';
  metadata: ObjectMeta & { generation?: number };
  /** `templateLabels`: the pod template's labels, which every pod of the next rollout carries. */
  spec: { replicas?: number; selector?: { matchLabels?: Labels }; templateLabels?: Labels; containers: ContainerProbes[] };
  status: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
}

export interface ReplicaSet {
  kind: 'ReplicaSet';
  metadata: ObjectMeta;
}

/**
 * Why a pod is not Ready, from its own status: the first container (init
 * containers first) that is waiting, terminated or running unready, or, when
 * no container explains it, a PodScheduled=False condition. Kept only for pods
 * that are not Ready, so a healthy pod costs nothing.
 */
export interface PodTrouble {
  /** `waiting` (e.g. CrashLoopBackOff), `terminated` (e.g. Error), `unready` (running, readiness failing), `unscheduled`. */
  state: 'waiting' | 'terminated' | 'unready' | 'unscheduled';
  /** The container; absent for `unscheduled`. */
  container?: string;
  init?: boolean;
  /** Kubernetes' reason: CreateContainerConfigError, CrashLoopBackOff, ImagePullBackOff, Unschedulable... */
  reason?: string;
  message?: string;
  /** Exit code of the container's last termination. */
  exitCode?: number;
  restartCount?: number;
}

/** The pod's most recent container restart, kept only for pods whose containers restarted. */
export interface PodRestart {
  container: string;
  restartCount: number;
  /** When the last run before the restart ended (lastState.terminated.finishedAt), epoch ms. */
  atMs?: number;
  exitCode?: number;
  reason?: string;
}

export interface Pod {
  kind: 'Pod';
  metadata: ObjectMeta;
  ready: boolean;
  phase?: string;
  deleting?: boolean;
  trouble?: PodTrouble;
  lastRestart?: PodRestart;
}

/**
 * A batch/v1 Job, slimmed to what the `jobs` rule reads: its labels, the two
 * annotations that give it a role in a cutover, and its outcome.
 */
export interface Job {
  kind: 'Job';
  metadata: ObjectMeta;
  /** `bluegreen-guard.io/before-cutover: "true"`: a migration that must succeed before its version gets traffic. */
  beforeCutover: boolean;
  /** `bluegreen-guard.io/blocks-cutover: "true"`: while it runs, no cutover of its service. */
  blocksCutover: boolean;
  /** From the Complete / Failed conditions; `running` until one is True. */
  outcome: 'succeeded' | 'failed' | 'running';
  active: number;
  succeeded: number;
  failed: number;
  /** The Failed condition's reason and message (BackoffLimitExceeded...). */
  reason?: string;
  message?: string;
  suspended?: boolean;
}

export type ClusterObject = IstioObject | Service | Deployment | ReplicaSet | Pod | Job;

/** `Kind/namespace/name`, the way findings and logs name an object. */
export function objectRef(o: { kind: string; metadata: { namespace?: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
