// Workload label changes as the API server sends them (the chart sends only
// these): over the generated cluster, a v2 pod relabelled `version: v1` and a
// v2 Deployment whose pod template is relabelled `version: v1` (both denied by
// version-labels: green at 100 % already selects v1), and the Service selector
// narrowed to `version: v1` (allowed: green selects nothing new).
import { randomUUID } from 'node:crypto';
import { clusterObjects, namespaceName, serviceNames, type ClusterShape } from './cluster-fixture.js';

type Json = Record<string, unknown>;

const RESOURCES = {
  Deployment: { group: 'apps', resource: 'deployments' },
  Pod: { group: '', resource: 'pods' },
  Service: { group: '', resource: 'services' },
} as const;
type WorkloadKind = keyof typeof RESOURCES;

export interface WorkloadReview {
  what: string;
  body: Json;
  allowed: boolean;
}

/** An UPDATE AdmissionReview of a Deployment, Pod or Service. */
export function workloadUpdate(object: Json, oldObject: Json, uid: string = randomUUID()): Json {
  const kind = object.kind as WorkloadKind;
  const { group, resource } = RESOURCES[kind];
  const meta = object.metadata as { name: string; namespace: string };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource },
      name: meta.name,
      namespace: meta.namespace,
      operation: 'UPDATE',
      userInfo: { username: 'jane@example.com', groups: ['system:authenticated'] },
      object,
      oldObject,
      dryRun: false,
    },
  };
}

/** A copy of `o` with `edit` merged into the labels at `path`. */
function withLabels(o: Json, path: readonly string[], edit: Record<string, string>): Json {
  const copy = structuredClone(o);
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Json;
  const last = path[path.length - 1] as string;
  at[last] = { ...(at[last] as Record<string, string>), ...edit };
  return copy;
}

function first(shape: ClusterShape, kind: WorkloadKind, namespace: string, app: string, version?: string): Json {
  for (const o of clusterObjects(shape, kind)) {
    const m = o.metadata as { namespace: string; labels?: Record<string, string> };
    if (m.namespace === namespace && m.labels?.app === app && (version === undefined || m.labels.version === version)) return o;
  }
  throw new Error(`the generated cluster has no ${kind} of ${app} ${version ?? ''} in ${namespace}`);
}

/** The three label changes for the first (healthy) service of `namespace`. */
export function workloadReviews(shape: ClusterShape, namespace: string = namespaceName(0)): WorkloadReview[] {
  const app = serviceNames(shape)[0] as string;
  const pod = first(shape, 'Pod', namespace, app, 'v2');
  const deployment = first(shape, 'Deployment', namespace, app, 'v2');
  const service = first(shape, 'Service', namespace, app);
  return [
    { what: 'a v2 pod relabelled version=v1', body: workloadUpdate(withLabels(pod, ['metadata', 'labels'], { version: 'v1' }), pod), allowed: false },
    { what: "a v2 Deployment's pod template relabelled version=v1", body: workloadUpdate(withLabels(deployment, ['spec', 'template', 'metadata', 'labels'], { version: 'v1' }), deployment), allowed: false },
    { what: 'a Service selector narrowed to v1', body: workloadUpdate(withLabels(service, ['spec', 'selector'], { version: 'v1' }), service), allowed: true },
  ];
}
