// Turn full API objects (as the API server or `kubectl get -o yaml` gives them)
// into the slim shapes the rules read. Everything else is dropped on purpose:
// the webhook caches 20,000 pods and must stay small.
import type {
  ClusterObject,
  ContainerProbes,
  Deployment,
  DestinationRule,
  Job,
  Labels,
  ObjectMeta,
  OwnerReference,
  Pod,
  PodRestart,
  PodTrouble,
  ReplicaSet,
  Service,
  VirtualService,
} from '../istio/types.js';
import { BEFORE_CUTOVER, BLOCKS_CUTOVER } from '../istio/annotations.js';
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
    const probes: ContainerProbes = {
      name: asString(o.name),
      hasReadinessProbe: o.readinessProbe != null,
      hasLivenessProbe: o.livenessProbe != null,
    };
    const readinessPath = httpGetPath(o.readinessProbe);
    const livenessPath = httpGetPath(o.livenessProbe);
    if (readinessPath !== undefined) probes.readinessPath = readinessPath;
    if (livenessPath !== undefined) probes.livenessPath = livenessPath;
    return probes;
  });
}

function httpGetPath(probe: unknown): string | undefined {
  const httpGet = asObject(asObject(probe).httpGet);
  if (Object.keys(httpGet).length === 0) return undefined;
  // Kubernetes defaults an HTTP probe's path to "/".
  return typeof httpGet.path === 'string' && httpGet.path !== '' ? httpGet.path : '/';
}

function condition(status: Json, type: string): Json | undefined {
  const found = asArray(status.conditions).find((c) => asObject(c).type === type);
  return found === undefined ? undefined : asObject(found);
}

/** The first container that keeps a pod from being Ready, init containers first (they run first). */
function podTrouble(status: Json): PodTrouble | undefined {
  const groups: [unknown, boolean][] = [
    [status.initContainerStatuses, true],
    [status.containerStatuses, false],
  ];
  for (const [statuses, init] of groups) {
    for (const raw of asArray(statuses)) {
      const c = asObject(raw);
      const state = asObject(c.state);
      const base = { container: asString(c.name), ...(init ? { init } : {}), ...restartFields(c) };
      const waiting = asObject(state.waiting);
      const terminated = asObject(state.terminated);
      if (state.waiting != null) return { state: 'waiting', ...base, ...reasonFields(waiting) };
      // A finished init container is fine if it exited 0; a finished app container never is.
      if (state.terminated != null && (!init || asNumber(terminated.exitCode) !== 0)) {
        const exitCode = asNumber(terminated.exitCode);
        return { state: 'terminated', ...base, ...reasonFields(terminated), ...(exitCode !== undefined ? { exitCode } : {}) };
      }
      if (!init && state.running != null && c.ready !== true) return { state: 'unready', ...base };
    }
  }
  const scheduled = condition(status, 'PodScheduled');
  if (scheduled?.status === 'False') return { state: 'unscheduled', ...reasonFields(scheduled) };
  return undefined;
}

function reasonFields(o: Json): { reason?: string; message?: string } {
  return { ...(typeof o.reason === 'string' && o.reason !== '' ? { reason: o.reason } : {}), ...(typeof o.message === 'string' && o.message !== '' ? { message: o.message } : {}) };
}

function restartFields(c: Json): { restartCount?: number; exitCode?: number } {
  const restartCount = asNumber(c.restartCount) ?? 0;
  if (restartCount === 0) return {};
  const exitCode = asNumber(asObject(asObject(c.lastState).terminated).exitCode);
  return { restartCount, ...(exitCode !== undefined ? { exitCode } : {}) };
}

/** The container that restarted last, by the end time of its previous run. */
function lastRestart(status: Json): PodRestart | undefined {
  let latest: PodRestart | undefined;
  for (const raw of [...asArray(status.initContainerStatuses), ...asArray(status.containerStatuses)]) {
    const c = asObject(raw);
    const restartCount = asNumber(c.restartCount) ?? 0;
    if (restartCount === 0) continue;
    const last = asObject(asObject(c.lastState).terminated);
    const atMs = typeof last.finishedAt === 'string' ? Date.parse(last.finishedAt) : NaN;
    const restart: PodRestart = { container: asString(c.name), restartCount };
    if (Number.isFinite(atMs)) restart.atMs = atMs;
    const exitCode = asNumber(last.exitCode);
    if (exitCode !== undefined) restart.exitCode = exitCode;
    if (typeof last.reason === 'string' && last.reason !== '') restart.reason = last.reason;
    if (!latest || (restart.atMs ?? -1) > (latest.atMs ?? -1)) latest = restart;
  }
  return latest;
}

export function slimPod(raw: Json): Pod {
  const status = asObject(raw.status);
  const ready = condition(status, 'Ready')?.status === 'True';
  const meta = asObject(raw.metadata);
  const pod: Pod = { kind: 'Pod', metadata: slimMeta(meta), ready };
  if (typeof status.phase === 'string') pod.phase = status.phase;
  if (meta.deletionTimestamp != null) pod.deleting = true;
  if (!ready) {
    const trouble = podTrouble(status);
    if (trouble) pod.trouble = trouble;
  }
  const restart = lastRestart(status);
  if (restart) pod.lastRestart = restart;
  return pod;
}

const JOB_CONTROLLER_LABELS = new Set(['controller-uid', 'job-name']);

export function slimJob(raw: Json): Job {
  const meta = asObject(raw.metadata);
  const annotations = asObject(meta.annotations);
  const status = asObject(raw.status);
  const complete = condition(status, 'Complete');
  const failed = condition(status, 'Failed');
  const metadata = slimMeta(meta);
  if (metadata.labels) {
    // The job controller's own labels carry the Job's uid twice or four times and no meaning for the rules.
    const kept = Object.entries(metadata.labels).filter(([k]) => !JOB_CONTROLLER_LABELS.has(k) && !k.startsWith('batch.kubernetes.io/'));
    if (kept.length > 0) metadata.labels = Object.fromEntries(kept);
    else delete metadata.labels;
  }
  const job: Job = {
    kind: 'Job',
    metadata,
    beforeCutover: annotations[BEFORE_CUTOVER] === 'true',
    blocksCutover: annotations[BLOCKS_CUTOVER] === 'true',
    outcome: complete?.status === 'True' ? 'succeeded' : failed?.status === 'True' ? 'failed' : 'running',
    active: asNumber(status.active) ?? 0,
    succeeded: asNumber(status.succeeded) ?? 0,
    failed: asNumber(status.failed) ?? 0,
  };
  if (job.outcome === 'failed' && failed) Object.assign(job, reasonFields(failed));
  if (asObject(raw.spec).suspend === true) job.suspended = true;
  return job;
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
  const spec = asObject(raw.spec);
  const selector = labels(spec.selector);
  const ports = asArray(spec.ports).map((p) => asNumber(asObject(p).port)).filter((n): n is number => n !== undefined);
  const slimSpec: Service['spec'] = {};
  if (selector) slimSpec.selector = selector;
  // A copy of exact length: filter()'s result keeps room to grow, and there is one per Service.
  if (ports.length > 0) slimSpec.ports = ports.slice();
  return { kind: 'Service', metadata: slimMeta(raw.metadata), spec: slimSpec };
}

export function slimReplicaSet(raw: Json): ReplicaSet {
  return { kind: 'ReplicaSet', metadata: slimMeta(raw.metadata) };
}

export function slimNamespace(raw: Json): Namespace {
  const meta = slimMeta(raw.metadata, true);
  const ns: Namespace = { kind: 'Namespace', metadata: { ...meta, namespace: '' } };
  // Its objects are being removed by the namespace controller; denying those deletes would wedge it.
  if (asObject(raw.metadata).deletionTimestamp != null || asObject(raw.status).phase === 'Terminating') ns.terminating = true;
  return ns;
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

export const SUPPORTED_KINDS = ['VirtualService', 'DestinationRule', 'Service', 'Deployment', 'ReplicaSet', 'Pod', 'Job', 'Namespace'] as const;
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
    case 'Job':
      return slimJob(raw);
    case 'Namespace':
      return slimNamespace(raw);
    default:
      return undefined;
  }
}
