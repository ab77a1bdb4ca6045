// Turn full API objects (as the API server or `kubectl get -o yaml` gives them)
// into the slim shapes the rules read. Everything else is dropped on purpose:
// the webhook caches 20,000 pods and must stay small.
import type {
  ClusterObject,
  ContainerProbes,
  Deployment,
  DestinationRule,
  Labels,
  ObjectMeta,
  OwnerReference,
  Pod,
  ReplicaSet,
  Service,
  VirtualService,
} from '../istio/types.js';
import type { Namespace } from './cluster-state.js';

type Json = Record<string, unknown>;

const asObject = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const asString = (v: unknown): string => (typeof v === 'string' ? v : '');

function labels(v: unknown): Labels | undefined {
  const o = asObject(v);
  const entries = Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

export function slimMeta(raw: unknown, keepAnnotations = false): ObjectMeta {
  const m = asObject(raw);
  const owners: OwnerReference[] = asArray(m.ownerReferences).map((r) => {
    const o = asObject(r);
    return { kind: asString(o.kind), name: asString(o.name), controller: o.controller === true };
  });
  const meta: ObjectMeta = { name: asString(m.name), namespace: asString(m.namespace) };
  if (typeof m.resourceVersion === 'string') meta.resourceVersion = m.resourceVersion;
  const l = labels(m.labels);
  if (l) meta.labels = l;
  if (keepAnnotations) {
    const a = labels(m.annotations);
    if (a) meta.annotations = a;
  }
  if (owners.length > 0) meta.ownerReferences = owners;
  return meta;
}

function containerProbes(podSpec: Json): ContainerProbes[] {
  return asArray(podSpec.containers).map((c) => {
    const o = asObject(c);
    return {
      name: asString(o.name),
      hasReadinessProbe: o.readinessProbe != null,
      hasLivenessProbe: o.livenessProbe != null,
    };
  });
}

export function slimPod(raw: Json): Pod {
  const status = asObject(raw.status);
  const ready = asArray(status.conditions).some((c) => {
    const o = asObject(c);
    return o.type === 'Ready' && o.status === 'True';
  });
  const meta = asObject(raw.metadata);
  const pod: Pod = { kind: 'Pod', metadata: slimMeta(meta), ready };
  if (typeof status.phase === 'string') pod.phase = status.phase;
  if (meta.deletionTimestamp != null) pod.deleting = true;
  return pod;
}

export function slimDeployment(raw: Json): Deployment {
  const spec = asObject(raw.spec);
  const status = asObject(raw.status);
  const meta = asObject(raw.metadata);
  const podSpec = asObject(asObject(spec.template).spec);
  const templateLabels = labels(asObject(asObject(spec.template).metadata).labels);
  const matchLabels = labels(asObject(spec.selector).matchLabels);
  const generation = asNumber(meta.generation);
  const d: Deployment = {
    kind: 'Deployment',
    metadata: { ...slimMeta(meta), ...(generation !== undefined ? { generation } : {}) },
    spec: {
      replicas: asNumber(spec.replicas) ?? 1,
      containers: containerProbes(podSpec),
      ...(matchLabels ? { selector: { matchLabels } } : {}),
      ...(templateLabels ? { templateLabels } : {}),
    },
    status: {},
  };
  for (const k of ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas'] as const) {
    const n = asNumber(status[k]);
    if (n !== undefined) d.status[k] = n;
  }
  return d;
}

export function slimService(raw: Json): Service {
  const selector = labels(asObject(raw.spec).selector);
  return { kind: 'Service', metadata: slimMeta(raw.metadata), spec: selector ? { selector } : {} };
}

export function slimReplicaSet(raw: Json): ReplicaSet {
  return { kind: 'ReplicaSet', metadata: slimMeta(raw.metadata) };
}

export function slimNamespace(raw: Json): Namespace {
  const meta = slimMeta(raw.metadata, true);
  return { kind: 'Namespace', metadata: { ...meta, namespace: '' } };
}

/** Istio objects are kept whole (minus managedFields): rules and patches read their spec. */
export function slimIstio<T extends VirtualService | DestinationRule>(raw: Json): T {
  const meta = asObject(raw.metadata);
  return {
    ...(typeof raw.apiVersion === 'string' ? { apiVersion: raw.apiVersion } : {}),
    kind: raw.kind,
    metadata: { ...slimMeta(meta, true), ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}) },
    spec: asObject(raw.spec),
  } as T;
}

export const SUPPORTED_KINDS = ['VirtualService', 'DestinationRule', 'Service', 'Deployment', 'ReplicaSet', 'Pod', 'Namespace'] as const;
export type SupportedKind = (typeof SUPPORTED_KINDS)[number];

/** Slim any supported object; `undefined` for kinds the rules never read. */
export function slim(raw: Json): ClusterObject | Namespace | undefined {
  switch (raw.kind) {
    case 'VirtualService':
      return slimIstio<VirtualService>(raw);
    case 'DestinationRule':
      return slimIstio<DestinationRule>(raw);
    case 'Service':
      return slimService(raw);
    case 'Deployment':
      return slimDeployment(raw);
    case 'ReplicaSet':
      return slimReplicaSet(raw);
    case 'Pod':
      return slimPod(raw);
    case 'Namespace':
      return slimNamespace(raw);
    default:
      return undefined;
  }
}
