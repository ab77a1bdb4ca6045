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
  spec: { selector?: Labels };
}

export interface ContainerProbes {
  name: string;
  hasReadinessProbe: boolean;
  hasLivenessProbe: boolean;
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

export interface Pod {
  kind: 'Pod';
  metadata: ObjectMeta;
  ready: boolean;
  phase?: string;
  deleting?: boolean;
}

export type ClusterObject = IstioObject | Service | Deployment | ReplicaSet | Pod;

/** `Kind/namespace/name`, the way findings and logs name an object. */
export function objectRef(o: { kind: string; metadata: { namespace?: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
