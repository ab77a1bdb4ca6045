// A realistic cluster for the admission benchmark, as the API server would list
// it: full objects (managedFields, sidecar annotations, probes, statuses), so
// the webhook's slimming and memory are measured on what it really receives.
//
// Shape (defaults): 200 guarded namespaces × 5 services; each service has a
// Service, a DestinationRule (green → version v1, blue → version v2), a
// VirtualService (green 100, blue 0) and two Deployments of 10 replicas (v1,
// v2), each with its current ReplicaSet and an old one scaled to 0. That is
// 1,000 VirtualServices and DestinationRules, 2,000 Deployments, 4,000
// ReplicaSets and 20,000 Pods, plus one finished schema-migration Job per
// candidate version (1,000 Jobs), as a team using the `jobs` rule keeps them.
//
// The last service of every namespace (`payments`) has a broken candidate:
// v2 has no livenessProbe, 3 of its 10 pods are not Ready, and one v1 pod
// carries the typo `version: v2`, so the blue subset selects pods of two
// workloads. A cutover to it fails several rules at once.
import { createHash } from 'node:crypto';

type Json = Record<string, unknown>;

export interface ClusterShape {
  namespaces: number;
  servicesPerNamespace: number;
  replicas: number;
}

export const FULL_CLUSTER: ClusterShape = { namespaces: 200, servicesPerNamespace: 5, replicas: 10 };

export const SERVICE_NAMES = ['reviews', 'ratings', 'checkout', 'catalog', 'payments', 'search', 'cart', 'ledger'];
/** The service whose candidate is broken in every namespace. */
export const BROKEN_SERVICE = 'payments';

export function namespaceName(i: number): string {
  return `team-${String(i).padStart(3, '0')}`;
}

export function serviceNames(shape: ClusterShape): string[] {
  const names = SERVICE_NAMES.slice(0, shape.servicesPerNamespace);
  // With fewer than five services per namespace the last one is still the broken one.
  if (!names.includes(BROKEN_SERVICE)) names[names.length - 1] = BROKEN_SERVICE;
  return names;
}

export function objectCounts(shape: ClusterShape): Record<string, number> {
  const services = shape.namespaces * shape.servicesPerNamespace;
  return {
    Namespace: shape.namespaces + 1,
    Service: services,
    VirtualService: services,
    DestinationRule: services,
    Deployment: services * 2,
    ReplicaSet: services * 4,
    Pod: services * 2 * shape.replicas,
    Job: services,
  };
}

const hash = (s: string, n = 10): string => createHash('sha1').update(s).digest('hex').slice(0, n);
const uid = (s: string): string => {
  const h = createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};
const created = '2025-11-03T09:14:07Z';
let resourceVersion = 1000;
const nextRv = (): string => String(++resourceVersion);

function managedFields(manager: string, fields: Json): Json[] {
  return [
    { manager, operation: 'Update', apiVersion: 'v1', time: created, fieldsType: 'FieldsV1', fieldsV1: fields },
    { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: created, fieldsType: 'FieldsV1', subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:replicas': {} } } },
  ];
}

function container(app: string, version: string, withLiveness: boolean): Json {
  const probe = { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
  return {
    name: app,
    image: `registry.example.com/shop/${app}:${version === 'v1' ? '1.41.2' : '1.42.0'}`,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    env: [
      { name: 'SERVICE_NAME', value: app },
      { name: 'SERVICE_VERSION', value: version },
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: { ...probe, httpGet: { ...probe.httpGet, path: '/ready' } },
    ...(withLiveness ? { livenessProbe: probe } : {}),
    volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
}

function sidecar(): Json {
  return {
    name: 'istio-proxy',
    image: 'docker.io/istio/proxyv2:1.27.1',
    args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local', '--proxyLogLevel=warning', '--log_output_level=default:info'],
    ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }],
    env: ['PILOT_CERT_PROVIDER', 'CA_ADDR', 'POD_NAME', 'POD_NAMESPACE', 'INSTANCE_IP', 'SERVICE_ACCOUNT', 'HOST_IP', 'ISTIO_CPU_LIMIT', 'PROXY_CONFIG', 'ISTIO_META_POD_PORTS', 'ISTIO_META_APP_CONTAINERS', 'ISTIO_META_CLUSTER_ID', 'ISTIO_META_WORKLOAD_NAME', 'ISTIO_META_OWNER', 'ISTIO_META_MESH_ID'].map((name) => ({ name, value: `value-of-${name.toLowerCase()}` })),
    resources: { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' }, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337 },
    volumeMounts: ['workload-socket', 'credential-socket', 'workload-certs', 'istiod-ca-cert', 'istio-data', 'istio-envoy', 'istio-token', 'istio-podinfo'].map((name) => ({ name, mountPath: `/var/run/${name}` })),
  };
}

interface WorkloadSpec {
  namespace: string;
  app: string;
  version: string;
  replicas: number;
  broken: boolean;
}

function podTemplateLabels(w: WorkloadSpec): Record<string, string> {
  return { app: w.app, version: w.version };
}

function deployment(w: WorkloadSpec): Json {
  const name = `${w.app}-${w.version}`;
  const ready = w.broken ? w.replicas - 3 : w.replicas;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: w.namespace,
      uid: uid(`${w.namespace}/${name}`),
      resourceVersion: nextRv(),
      generation: 4,
      creationTimestamp: created,
      labels: { app: w.app, version: w.version, 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'deployment.kubernetes.io/revision': '4', 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ kind: 'Deployment', metadata: { name } }) },
      managedFields: managedFields('kubectl-client-side-apply', { 'f:spec': { 'f:replicas': {}, 'f:template': {} } }),
    },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: podTemplateLabels(w) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      template: {
        metadata: { labels: podTemplateLabels(w), annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' } },
        spec: { containers: [container(w.app, w.version, !w.broken)], serviceAccountName: w.app, terminationGracePeriodSeconds: 30 },
      },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 4,
      replicas: w.replicas,
      updatedReplicas: w.replicas,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(ready < w.replicas ? { unavailableReplicas: w.replicas - ready } : {}),
      conditions: [
        { type: 'Available', status: ready === w.replicas ? 'True' : 'False', reason: 'MinimumReplicasAvailable', lastUpdateTime: created, lastTransitionTime: created },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: created, lastTransitionTime: created },
      ],
    },
  };
}

/** The candidate's schema migration, finished: labelled for its service and version, annotated as a migration. */
function migrationJob(w: WorkloadSpec): Json {
  const name = `${w.app}-${w.version}-migrate`;
  const controllerUid = uid(`${w.namespace}/${name}`);
  const jobLabels = { 'batch.kubernetes.io/controller-uid': controllerUid, 'batch.kubernetes.io/job-name': name, 'controller-uid': controllerUid, 'job-name': name };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: w.namespace,
      uid: controllerUid,
      resourceVersion: nextRv(),
      generation: 1,
      creationTimestamp: created,
      labels: { app: w.app, version: w.version, ...jobLabels },
      annotations: { 'bluegreen-guard.io/before-cutover': 'true', 'batch.kubernetes.io/job-tracking': '' },
      managedFields: managedFields('kubectl-client-side-apply', { 'f:spec': { 'f:template': {}, 'f:backoffLimit': {} } }),
    },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 2,
      completionMode: 'NonIndexed',
      suspend: false,
      podReplacementPolicy: 'TerminatingOrFailed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': controllerUid } },
      template: {
        metadata: { labels: { app: w.app, version: w.version, ...jobLabels } },
        spec: { containers: [{ name: 'migrate', image: `registry.example.com/${w.app}:${w.version}`, command: ['/app/migrate', '--up'], resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }], restartPolicy: 'Never', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', securityContext: {}, schedulerName: 'default-scheduler' },
      },
    },
    status: {
      startTime: created,
      completionTime: created,
      succeeded: 1,
      ready: 0,
      terminating: 0,
      uncountedTerminatedPods: {},
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: created, lastTransitionTime: created },
        { type: 'Complete', status: 'True', lastProbeTime: created, lastTransitionTime: created },
      ],
    },
  };
}

function replicaSets(w: WorkloadSpec): Json[] {
  const dep = `${w.app}-${w.version}`;
  return [4, 3].map((revision) => {
    const name = `${dep}-${hash(`${w.namespace}/${dep}/${revision}`)}`;
    const replicas = revision === 4 ? w.replicas : 0;
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: w.namespace,
        uid: uid(`${w.namespace}/${name}`),
        resourceVersion: nextRv(),
        generation: 2,
        creationTimestamp: created,
        labels: { ...podTemplateLabels(w), 'pod-template-hash': hash(name) },
        annotations: { 'deployment.kubernetes.io/desired-replicas': String(w.replicas), 'deployment.kubernetes.io/max-replicas': String(w.replicas + 3), 'deployment.kubernetes.io/revision': String(revision) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: dep, uid: uid(`${w.namespace}/${dep}`), controller: true, blockOwnerDeletion: true }],
        managedFields: managedFields('kube-controller-manager', { 'f:metadata': { 'f:ownerReferences': {} }, 'f:spec': { 'f:replicas': {} } }),
      },
      spec: { replicas, selector: { matchLabels: { ...podTemplateLabels(w), 'pod-template-hash': hash(name) } }, template: { metadata: { labels: podTemplateLabels(w) }, spec: { containers: [container(w.app, w.version, !w.broken)] } } },
      status: { replicas, fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 2 },
    };
  });
}

function pods(w: WorkloadSpec): Json[] {
  const dep = `${w.app}-${w.version}`;
  const rs = `${dep}-${hash(`${w.namespace}/${dep}/4`)}`;
  const out: Json[] = [];
  for (let i = 0; i < w.replicas; i++) {
    const name = `${rs}-${hash(`${rs}/${i}`, 5)}`;
    const ready = !(w.broken && i < 3);
    // The mislabeled pod: a v1 pod of the broken service that says version v2.
    const typo = w.app === BROKEN_SERVICE && w.version === 'v1' && i === 0;
    const labels = { ...podTemplateLabels(w), ...(typo ? { version: 'v2' } : {}), 'pod-template-hash': hash(rs), 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': w.app, 'service.istio.io/canonical-revision': w.version };
    const condition = (type: string, status: boolean): Json => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: created });
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        generateName: `${rs}-`,
        namespace: w.namespace,
        uid: uid(`${w.namespace}/${name}`),
        resourceVersion: nextRv(),
        creationTimestamp: created,
        labels,
        annotations: {
          'istio.io/rev': 'default',
          'kubectl.kubernetes.io/default-container': w.app,
          'prometheus.io/path': '/stats/prometheus',
          'prometheus.io/port': '15020',
          'prometheus.io/scrape': 'true',
          'sidecar.istio.io/status': JSON.stringify({ initContainers: ['istio-init'], containers: ['istio-proxy'], volumes: ['workload-socket', 'credential-socket', 'workload-certs', 'istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert'], imagePullSecrets: null, revision: 'default' }),
        },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: uid(`${w.namespace}/${rs}`), controller: true, blockOwnerDeletion: true }],
        managedFields: managedFields('kube-controller-manager', { 'f:metadata': { 'f:generateName': {}, 'f:labels': {}, 'f:ownerReferences': {} }, 'f:spec': { 'f:containers': {} } }),
      },
      spec: {
        initContainers: [{ name: 'istio-init', image: 'docker.io/istio/proxyv2:1.27.1', args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'] }],
        containers: [container(w.app, w.version, !w.broken), sidecar()],
        volumes: ['workload-socket', 'credential-socket', 'workload-certs', 'istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert', 'kube-api-access'].map((v) => ({ name: v, emptyDir: {} })),
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        serviceAccountName: w.app,
        nodeName: `node-${hash(name, 2)}`,
        securityContext: { fsGroup: 1337 },
        schedulerName: 'default-scheduler',
        tolerations: [
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        ],
        priority: 0,
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
      },
      status: {
        phase: 'Running',
        conditions: [condition('PodReadyToStartContainers', true), condition('Initialized', true), condition('Ready', ready), condition('ContainersReady', ready), condition('PodScheduled', true)],
        hostIP: '10.0.3.17',
        podIP: `10.244.${i}.${out.length + 10}`,
        podIPs: [{ ip: `10.244.${i}.${out.length + 10}` }],
        startTime: created,
        containerStatuses: [w.app, 'istio-proxy'].map((c) => ({ name: c, ready, restartCount: 0, image: c, imageID: `sha256:${hash(c, 40)}`, containerID: `containerd://${hash(name + c, 40)}`, started: true, state: { running: { startedAt: created } } })),
        qosClass: 'Burstable',
      },
    });
  }
  return out;
}

function service(namespace: string, app: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace, uid: uid(`${namespace}/svc/${app}`), resourceVersion: nextRv(), creationTimestamp: created, labels: { app, service: app } },
    spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP', targetPort: 8080 }], selector: { app }, clusterIP: '10.96.14.3', clusterIPs: ['10.96.14.3'], type: 'ClusterIP', sessionAffinity: 'None', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster' },
    status: { loadBalancer: {} },
  };
}

export function destinationRule(namespace: string, app: string): Json {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: app, namespace, uid: uid(`${namespace}/dr/${app}`), resourceVersion: nextRv(), generation: 1, creationTimestamp: created },
    spec: {
      host: app,
      trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: 1024 } }, outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' } },
      subsets: [
        { name: 'green', labels: { version: 'v1' } },
        { name: 'blue', labels: { version: 'v2' } },
      ],
    },
  };
}

/** The VirtualService with the given weights on green and blue (and any extra destinations). */
export function virtualService(namespace: string, app: string, weights: Record<string, number> = { green: 100, blue: 0 }): Json {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: {
      name: app,
      namespace,
      uid: uid(`${namespace}/vs/${app}`),
      resourceVersion: String(5000 + app.length),
      generation: 7,
      creationTimestamp: created,
      annotations: { 'bluegreen-guard.io/stable-subset': 'green' },
    },
    spec: {
      hosts: [app],
      gateways: ['mesh'],
      http: [
        {
          name: 'primary',
          retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure,refused-stream' },
          timeout: '10s',
          route: Object.entries(weights).map(([subset, weight]) => ({ destination: { host: app, subset, port: { number: 8080 } }, weight })),
        },
      ],
    },
  };
}

function namespace(name: string, guarded: boolean): Json {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: uid(`ns/${name}`),
      resourceVersion: nextRv(),
      creationTimestamp: created,
      labels: { 'kubernetes.io/metadata.name': name, ...(guarded ? { 'bluegreen-guard.io/guard': 'enabled', 'istio-injection': 'enabled' } : {}) },
      annotations: { 'scheduler.alpha.kubernetes.io/node-selector': 'pool=apps' },
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export type FixtureKind = 'Namespace' | 'Service' | 'VirtualService' | 'DestinationRule' | 'Deployment' | 'ReplicaSet' | 'Pod' | 'Job';

/** Every object of one kind, generated namespace by namespace (the generator keeps nothing). */
export function* clusterObjects(shape: ClusterShape, kind: FixtureKind): Generator<Json> {
  if (kind === 'Namespace') {
    yield namespace('istio-system', false);
    for (let n = 0; n < shape.namespaces; n++) yield namespace(namespaceName(n), true);
    return;
  }
  for (let n = 0; n < shape.namespaces; n++) {
    const ns = namespaceName(n);
    for (const app of serviceNames(shape)) {
      const broken = app === BROKEN_SERVICE;
      const workloads: WorkloadSpec[] = [
        { namespace: ns, app, version: 'v1', replicas: shape.replicas, broken: false },
        { namespace: ns, app, version: 'v2', replicas: shape.replicas, broken },
      ];
      switch (kind) {
        case 'Service':
          yield service(ns, app);
          break;
        case 'VirtualService':
          yield virtualService(ns, app);
          break;
        case 'DestinationRule':
          yield destinationRule(ns, app);
          break;
        case 'Deployment':
          for (const w of workloads) yield deployment(w);
          break;
        case 'ReplicaSet':
          for (const w of workloads) yield* replicaSets(w);
          break;
        case 'Pod':
          for (const w of workloads) yield* pods(w);
          break;
        case 'Job':
          yield migrationJob(workloads[1] as WorkloadSpec);
          break;
      }
    }
  }
}
