// What the controllers and kubelets of a real cluster would create, made by
// hand: no controller-manager or kubelet runs beside the test API server. A
// workload is a Deployment, the ReplicaSet it owns and that ReplicaSet's Pods,
// linked by ownerReferences, with statuses written through the status
// subresource, so the webhook's caches see what they would see in a cluster
// where the rollout finished (or did not).
import { createHash } from 'node:crypto';
import type { KubeApi, KubeObject } from './kube-api.js';

export interface WorkloadSpec {
  namespace: string;
  /** `app` label and Service name: `reviews`. */
  app: string;
  /** `version` label: `v1`, `v2`. */
  version: string;
  /** Deployment name; default `<app>-<version>`. */
  name?: string;
  replicas?: number;
  /** Give every container readiness and liveness probes (default true). */
  probes?: boolean | { readiness: boolean; liveness: boolean };
  /** Pods Ready and the rollout complete (default true). */
  ready?: boolean;
  /** Extra pod labels, or a `version` label that differs from the Deployment's (a mislabeled pod). */
  podLabels?: Record<string, string>;
}

export interface Workload {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  deployment: KubeObject;
  replicaSet: KubeObject;
  pods: KubeObject[];
}

const PROBE = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 };

function podTemplateSpec(spec: WorkloadSpec, labels: Record<string, string>): Record<string, unknown> {
  const probes = spec.probes ?? true;
  const readiness = typeof probes === 'boolean' ? probes : probes.readiness;
  const liveness = typeof probes === 'boolean' ? probes : probes.liveness;
  return {
    metadata: { labels },
    spec: {
      containers: [
        {
          name: spec.app,
          image: `example.com/${spec.app}:${spec.version}`,
          ports: [{ containerPort: 8080 }],
          ...(readiness ? { readinessProbe: PROBE } : {}),
          ...(liveness ? { livenessProbe: PROBE } : {}),
        },
      ],
    },
  };
}

function ownerReference(owner: KubeObject): Record<string, unknown> {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Creates the Deployment, its ReplicaSet and Pods, and sets their status (ready unless spec.ready is false). */
export async function createWorkload(api: KubeApi, spec: WorkloadSpec): Promise<Workload> {
  const name = spec.name ?? `${spec.app}-${spec.version}`;
  const replicas = spec.replicas ?? 2;
  const selector = { app: spec.app, version: spec.version };
  const podLabels = { ...selector, ...spec.podLabels };
  const template = podTemplateSpec(spec, podLabels);
  const deployment = await api.create<KubeObject>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: spec.namespace, labels: selector },
    spec: { replicas, selector: { matchLabels: selector }, template },
  });
  const templateHash = (deployment.metadata.uid ?? name).slice(0, 10).replace(/[^a-z0-9]/g, 'x');
  const rsLabels = { ...podLabels, 'pod-template-hash': templateHash };
  const replicaSet = await api.create<KubeObject>({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `${name}-${templateHash}`, namespace: spec.namespace, labels: rsLabels, ownerReferences: [ownerReference(deployment)] },
    spec: {
      replicas,
      selector: { matchLabels: { ...selector, 'pod-template-hash': templateHash } },
      template: { ...template, metadata: { labels: rsLabels } },
    },
  });
  const pods: KubeObject[] = [];
  for (let i = 0; i < replicas; i++) {
    pods.push(
      await api.create<KubeObject>({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${replicaSet.metadata.name}-${i}`,
          namespace: spec.namespace,
          labels: rsLabels,
          ownerReferences: [ownerReference(replicaSet)],
        },
        spec: (template as { spec: unknown }).spec,
      }),
    );
  }
  const workload: Workload = { namespace: spec.namespace, name, labels: podLabels, deployment, replicaSet, pods };
  await setWorkloadReady(api, workload, spec.ready ?? true);
  return workload;
}

/**
 * Sets every pod Ready or not (what kubelets report) and the Deployment's and
 * ReplicaSet's status to match (what the deployment controller reports).
 * `ready` may also be the number of ready pods.
 */
export async function setWorkloadReady(api: KubeApi, workload: Workload, ready: boolean | number): Promise<Workload> {
  const total = workload.pods.length;
  const readyCount = typeof ready === 'number' ? Math.min(ready, total) : ready ? total : 0;
  const now = new Date().toISOString();
  workload.pods = await Promise.all(
    workload.pods.map(async (pod, i) => {
      const isReady = i < readyCount ? 'True' : 'False';
      const current = await api.read('v1', 'Pod', workload.namespace, pod.metadata.name);
      const containers = ((current.spec as { containers: { name: string; image: string }[] }).containers ?? []).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: '',
        ready: isReady === 'True',
        restartCount: 0,
        started: true,
        state: { running: { startedAt: now } },
      }));
      return api.replace(
        {
          ...current,
          status: {
            phase: 'Running',
            podIP: `10.244.0.${(i % 250) + 2}`,
            hostIP: '10.0.0.1',
            startTime: now,
            conditions: [
              { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
              { type: 'Initialized', status: 'True', lastTransitionTime: now },
              { type: 'ContainersReady', status: isReady, lastTransitionTime: now },
              { type: 'Ready', status: isReady, lastTransitionTime: now },
            ],
            containerStatuses: containers,
          },
        },
        'status',
      );
    }),
  );
  const rs = await api.read('apps/v1', 'ReplicaSet', workload.namespace, workload.replicaSet.metadata.name);
  workload.replicaSet = await api.replace(
    {
      ...rs,
      status: {
        replicas: total,
        fullyLabeledReplicas: total,
        readyReplicas: readyCount,
        availableReplicas: readyCount,
        observedGeneration: rs.metadata.generation,
      },
    },
    'status',
  );
  const deployment = await api.read('apps/v1', 'Deployment', workload.namespace, workload.name);
  const complete = readyCount === total && total > 0;
  workload.deployment = await api.replace(
    {
      ...deployment,
      status: {
        observedGeneration: deployment.metadata.generation,
        replicas: total,
        updatedReplicas: total,
        readyReplicas: readyCount,
        availableReplicas: readyCount,
        ...(readyCount < total ? { unavailableReplicas: total - readyCount } : {}),
        conditions: [
          { type: 'Available', status: complete ? 'True' : 'False', reason: complete ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', lastUpdateTime: now, lastTransitionTime: now },
          { type: 'Progressing', status: 'True', reason: complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', lastUpdateTime: now, lastTransitionTime: now },
        ],
      },
    },
    'status',
  );
  return workload;
}

/** A ClusterIP Service selecting `app: <app>` on port 80 → 8080, as the seed's services do. */
export async function createService(api: KubeApi, namespace: string, app: string): Promise<KubeObject> {
  return api.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace, labels: { app } },
    spec: { selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

/**
 * A new revision of a workload, as `kubectl set image` and the deployment
 * controller would make it: the Deployment's pod template changes (here its
 * image), a new ReplicaSet named by the new pod-template-hash brings up as many
 * pods, and the old ReplicaSet and its pods go. Returns the workload as it is now.
 */
export async function rollOutRevision(api: KubeApi, workload: Workload, change: { image: string }): Promise<Workload> {
  const current = await api.read('apps/v1', 'Deployment', workload.namespace, workload.name);
  const spec = current.spec as { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { containers: { image: string }[] } } };
  const template = structuredClone(spec.template);
  for (const c of template.spec.containers) c.image = change.image;
  const deployment = await api.replace({ ...current, spec: { ...spec, template } });
  const templateHash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
  const rsLabels = { ...template.metadata.labels, 'pod-template-hash': templateHash };
  const replicaSet = await api.create<KubeObject>({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `${workload.name}-${templateHash}`, namespace: workload.namespace, labels: rsLabels, ownerReferences: [ownerReference(deployment)] },
    spec: { replicas: spec.replicas, selector: { matchLabels: { ...spec.selector.matchLabels, 'pod-template-hash': templateHash } }, template: { ...template, metadata: { labels: rsLabels } } },
  });
  const pods: KubeObject[] = [];
  for (let i = 0; i < spec.replicas; i++) {
    pods.push(
      await api.create<KubeObject>({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${replicaSet.metadata.name}-${i}`, namespace: workload.namespace, labels: rsLabels, ownerReferences: [ownerReference(replicaSet)] },
        spec: template.spec,
      }),
    );
  }
  for (const pod of workload.pods) await api.remove('v1', 'Pod', workload.namespace, pod.metadata.name);
  await api.remove('apps/v1', 'ReplicaSet', workload.namespace, workload.replicaSet.metadata.name);
  return setWorkloadReady(api, { ...workload, deployment, replicaSet, pods }, true);
}
