// One service's blue-green story on the stage: a guarded namespace, the
// Service, v1 ("green") ready with probes, v2 ("blue") as the test wants it,
// the DestinationRule and VirtualService the seed applies with kubectl, and a
// mesh simulator that sends traffic by the VirtualService's weights.
//
//   const scene = await stage.seed();                      // v1 live, VirtualService green 100
//   await scene.cutOver();                                 // the seed's sequence, each step admitted
//   scene.mesh.setBehaviour('v2', { errorRatio: 0.2 });    // the fault
import { stringify } from 'yaml';
import { DEFAULT_CANDIDATE_SUBSET, DEFAULT_STABLE_SUBSET } from '../../src/istio/annotations.js';
import type { ControlPlane } from './control-plane.js';
import type { KubeObject } from './kube-api.js';
import type { KubectlResult } from './kubectl.js';
import type { MeshSimulator } from './mesh-simulator.js';
import { waitUntil } from './wait-until.js';
import { createWorkload, rollOutRevision, setWorkloadReady, type Workload } from './workloads.js';

export const VS_API = 'networking.istio.io/v1';

/** subset → weight, in route order: `{ green: 0, blue: 100 }`. */
export type Weights = Record<string, number>;

export interface V2Options {
  /** Pods Ready and the rollout complete (default true). */
  ready?: boolean;
  /** Readiness and liveness probes on every container (default true). */
  probes?: boolean;
  replicas?: number;
}

export interface ApplyOptions {
  /** `kubectl apply --dry-run=server`: the API server (and the webhook) judge it, nothing is stored. */
  dryRun?: boolean;
  /** Another identity's kubeconfig. */
  kubeconfigPath?: string;
}

export class AdmissionRefused extends Error {
  constructor(
    readonly step: string,
    readonly result: KubectlResult,
  ) {
    super(`${step} was refused (kubectl exit ${result.code}): ${result.stderr.trim()}`);
    this.name = 'AdmissionRefused';
  }
}

export class Scene {
  /** The chart's mesh.defaultStableSubset (v1's subset); the stage sets it from the rendered config. */
  stableSubset: string = DEFAULT_STABLE_SUBSET;
  /** v2's subset: the other of blue and green. */
  candidateSubset: string = DEFAULT_CANDIDATE_SUBSET;
  /** The host the routes and the DestinationRule name: the Service's short name unless the stage sets an FQDN. */
  fqdnHost: string | undefined;

  constructor(
    private readonly cp: ControlPlane,
    readonly namespace: string,
    readonly service: string,
    readonly v1: Workload,
    public v2: Workload | undefined,
    /** Undefined when the scene was seeded without traffic. */
    public mesh: MeshSimulator | undefined,
    /** Called with each workload the scene deploys: the stage has Prometheus scrape its pods. */
    private readonly onDeployed: (scene: Scene, workload: Workload) => Promise<void> = () => Promise.resolve(),
  ) {}

  /** The VirtualService's name: the seed names it after the service. */
  get virtualServiceName(): string {
    return this.service;
  }

  get host(): string {
    return this.fqdnHost ?? this.service;
  }

  /** Seed step 1: `kubectl apply -f deploy/v2-deployment.yaml` (with its ReplicaSet and Pods, as controllers would make them). */
  async deployV2(options: V2Options = {}): Promise<Workload> {
    if (this.v2) throw new Error(`${this.namespace}/${this.service}-v2 already exists`);
    this.v2 = await createWorkload(this.cp.api, {
      namespace: this.namespace,
      app: this.service,
      version: 'v2',
      replicas: options.replicas ?? 2,
      probes: options.probes ?? true,
      ready: options.ready ?? true,
    });
    await this.onDeployed(this, this.v2);
    return this.v2;
  }

  /** A new revision of v2 (a changed pod template: another image), its pods Ready and scraped, the old pods gone. */
  async rollOutV2(image: string): Promise<Workload> {
    if (!this.v2) throw new Error(`${this.namespace} has no v2 Deployment yet; call deployV2 first`);
    this.v2 = await rollOutRevision(this.cp.api, this.v2, { image });
    await this.onDeployed(this, this.v2);
    return this.v2;
  }

  /** Blue's pods become Ready (true), fail their readiness probes (false), or n of them are Ready. */
  async setV2Ready(ready: boolean | number): Promise<void> {
    if (!this.v2) throw new Error(`${this.namespace} has no v2 Deployment yet; call deployV2 first`);
    this.v2 = await setWorkloadReady(this.cp.api, this.v2, ready);
  }

  /** The DestinationRule with named subsets: green → version v1, blue → version v2. */
  destinationRule(subsets: readonly string[] = [this.stableSubset, this.candidateSubset]): string {
    const version: Record<string, string> = { [this.stableSubset]: 'v1', [this.candidateSubset]: 'v2' };
    return stringify({
      apiVersion: VS_API,
      kind: 'DestinationRule',
      metadata: { name: this.service, namespace: this.namespace },
      spec: { host: this.host, subsets: subsets.map((name) => ({ name, labels: { version: version[name] ?? name } })) },
    });
  }

  /**
   * The VirtualService as a team writes it: the weights under test plus
   * fields a rollback must leave alone (labels, an annotation, timeout,
   * retries, headers, a header-matched route that pins testers to blue).
   */
  virtualService(weights: Weights): string {
    const host = this.host;
    return stringify({
      apiVersion: VS_API,
      kind: 'VirtualService',
      metadata: {
        name: this.service,
        namespace: this.namespace,
        labels: { app: this.service, team: 'shop' },
        annotations: { 'shop.example.com/owner': 'reviews-team' },
      },
      spec: {
        hosts: [host],
        http: [
          {
            name: 'testers',
            match: [{ headers: { 'x-tester': { exact: 'true' } } }],
            route: [{ destination: { host, subset: this.stableSubset } }],
          },
          {
            name: 'primary',
            route: Object.entries(weights).map(([subset, weight]) => ({ destination: { host, subset, port: { number: 80 } }, weight })),
            timeout: '10s',
            retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure' },
            headers: { response: { set: { 'x-served-by': 'bluegreen' } } },
          },
        ],
      },
    });
  }

  /** `kubectl apply -f -` with a manifest, as the runbook does it; the result says whether it was admitted. */
  apply(manifest: string, options: ApplyOptions = {}): Promise<KubectlResult> {
    return this.cp.kubectl(['apply', ...(options.dryRun ? ['--dry-run=server'] : []), '-f', '-'], { stdin: manifest, kubeconfigPath: options.kubeconfigPath });
  }

  /** Applies and throws AdmissionRefused (with kubectl's output) unless it was admitted. */
  async mustApply(step: string, manifest: string, options: ApplyOptions = {}): Promise<KubectlResult> {
    const result = await this.apply(manifest, options);
    if (result.code !== 0) throw new AdmissionRefused(step, result);
    return result;
  }

  /**
   * The seed's deployment procedure from an idle service: v2 Deployment ready
   * with probes (made if missing), DestinationRule with blue and green,
   * VirtualService blue=0, then blue=100. Each step must be admitted.
   */
  async cutOver(): Promise<void> {
    if (!this.v2) await this.deployV2();
    await this.mustApply('DestinationRule with green and blue', this.destinationRule());
    await this.mustApply('VirtualService blue=0', this.virtualService({ [this.stableSubset]: 100, [this.candidateSubset]: 0 }));
    await this.waitUntilScraped();
    await this.mustApply('VirtualService blue=100', this.virtualService({ [this.stableSubset]: 0, [this.candidateSubset]: 100 }));
  }

  /**
   * The checklist's critical line "Prometheus metrics endpoints exposed and
   * scraped for v2", as the webhook sees it: a server-side dry run of the full
   * switch stops being refused by metrics-scraped (Prometheus scrapes a new
   * pod within a scrape interval, the webhook reads `up` in the background).
   * Refusals by other rules are left for the caller to see.
   */
  async waitUntilScraped(timeoutMs = 30_000): Promise<void> {
    const manifest = this.virtualService({ [this.stableSubset]: 0, [this.candidateSubset]: 100 });
    let last: KubectlResult | undefined;
    await waitUntil(
      async () => {
        last = await this.apply(manifest, { dryRun: true });
        return !last.stderr.includes('[metrics-scraped]');
      },
      { timeoutMs, intervalMs: 250, description: `the webhook seeing Prometheus scrape ${this.namespace}/${this.service}-v2 (last answer: ${last?.stderr.trim() ?? 'none'})` },
    );
  }

  async readVirtualService(): Promise<KubeObject> {
    return this.cp.api.read(VS_API, 'VirtualService', this.namespace, this.service);
  }

  /** Weights of the primary route, by subset, as stored now. */
  async primaryWeights(): Promise<Weights> {
    return primaryWeightsOf(await this.readVirtualService());
  }

  /** Events recorded on the VirtualService, oldest first. */
  async events(): Promise<KubeEvent[]> {
    const list = await this.cp.api.call<{ items: KubeEvent[] }>('GET', `/api/v1/namespaces/${this.namespace}/events`, {
      query: { fieldSelector: `involvedObject.kind=VirtualService,involvedObject.name=${this.service}` },
    });
    return list.items.sort((a, b) => eventTime(a) - eventTime(b));
  }
}

export interface KubeEvent {
  reason: string;
  type: string;
  message: string;
  count?: number;
  series?: { count: number };
  firstTimestamp?: string | null;
  eventTime?: string | null;
  metadata: { creationTimestamp?: string };
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
  involvedObject: { uid?: string; name: string };
}

function eventTime(e: KubeEvent): number {
  return Date.parse(e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? '') || 0;
}

/** How many times an Event happened, counting the repeats the recorder folds into one object. */
export function occurrences(e: KubeEvent): number {
  return Math.max(e.count ?? 1, e.series?.count ?? 1);
}

export function primaryWeightsOf(vs: KubeObject): Weights {
  type Route = { name?: string; route?: { destination?: { subset?: string }; weight?: number }[] };
  const routes = (vs.spec as { http?: Route[] }).http ?? [];
  const primary = routes.find((r) => r.name === 'primary');
  if (!primary) throw new Error(`VirtualService ${vs.metadata.namespace}/${vs.metadata.name} has no http route named primary`);
  return Object.fromEntries((primary.route ?? []).map((d) => [d.destination?.subset ?? '(no subset)', d.weight ?? 0]));
}
