// The whole product loop on one machine, for the end-to-end tests, the demo and
// the benchmarks. In order:
//
//   1. control plane    etcd + kube-apiserver with Istio's CRDs (control-plane.ts)
//   2. prometheus       the real binary, scraping every second: the mesh
//                       simulators' Istio metrics, the product's /metrics, and
//                       an `up` per simulated pod (for the metrics-scraped rule)
//   3. alertmanager     the real binary; the watcher reads and posts alerts there
//   4. certificates     certs/make-certs.sh: a CA and a serving cert, SAN IP:127.0.0.1
//   5. chart            `helm template charts/bluegreen-guard` (stage-chart.ts)
//   6. identities       the chart's ServiceAccounts and least-privilege RBAC
//   7. webhook          `bin/bluegreen-guard webhook` with the chart's webhook.yaml,
//                       ready once its caches synced, registered by the chart's
//                       ValidatingWebhookConfiguration at https://127.0.0.1:PORT/validate
//   8. watcher(s)       `bin/bluegreen-guard watcher` with the chart's watcher.yaml,
//                       several processes sharing the chart's Lease
//
// and then, per service, `stage.seed()` (stage-scene.ts): a guarded namespace,
// the Service, v1 ready with probes, the DestinationRule and VirtualService
// (green 100), and a mesh simulator sending traffic by the weights.
//
//   const stage = await startStage({ onProgress: (s) => console.log(s.step, s.detail) });
//   const scene = await stage.seed();
//   ...
//   await stage.stop();          // afterAll: everything, in reverse, also after a failure
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlertmanager, type RunningAlertmanager } from './alertmanager.js';
import { ensureCliBuilt } from './built-cli.js';
import { startControlPlane, type ControlPlane, type StaticUser } from './control-plane.js';
import { MeshSimulator } from './mesh-simulator.js';
import { startPrometheus, type RunningPrometheus } from './prometheus.js';
import { ProductProcess } from './product-process.js';
import { installChartIdentities, registerChartWebhook, renderChart, RELEASE_NAMESPACE, type FailurePolicy, type InstalledIdentities, type RenderedChart } from './stage-chart.js';
import { startWatcherProcess, startWebhookProcess, type ThresholdProfile, type WebhookProcess } from './stage-processes.js';
import { Scene, VS_API, type V2Options } from './stage-scene.js';
import { makeServingCertificate, type ServingCertificateFiles } from './tls.js';
import { waitUntil } from './wait-until.js';
import { createService, createWorkload, type Workload } from './workloads.js';

export interface StageStep {
  /** `control plane`, `prometheus`, `webhook`, `seed reviews`... */
  step: string;
  /** What came up, where: URLs, versions, identities. */
  detail: string;
  startedAtMs: number;
  durationMs: number;
}

export interface StageOptions {
  /** Run the webhook (default true). */
  webhook?: boolean;
  /** Watcher processes sharing one Lease (default 1; 0 runs none). */
  watchers?: number;
  /** Overrides the chart's webhook.failurePolicy; default: what charts/bluegreen-guard/values.yaml says. */
  failurePolicy?: FailurePolicy;
  /** `short` (default): the seed's ratios with windows a tenth as long, so a story ends in minutes. `seed`: the seed's own. */
  thresholds?: ThresholdProfile;
  /** Merged over the generated watcher configuration (top-level keys replace). */
  watcherConfig?: Record<string, unknown>;
  /** Merged over the generated webhook configuration (top-level keys replace). */
  webhookConfig?: Record<string, unknown>;
  /** Prometheus scrape interval (default 1 s). */
  scrapeIntervalSeconds?: number;
  /** Called as each step completes (the demo prints them). */
  onProgress?: (step: StageStep) => void;
  /** Extra identities for the API server's token file (e.g. a member of a break-glass group); bind them with RBAC yourself. */
  users?: StaticUser[];
  /** Appended to kube-apiserver's flags (e.g. an audit policy and log). */
  apiServerArgs?: string[];
  /** The chart's `mesh:` values; the scenes and mesh simulators follow them (stable subset, cluster domain). */
  mesh?: Record<string, string>;
}

export interface SeedOptions {
  /** Namespace prefix (default `shop`); a random suffix is added. */
  namespacePrefix?: string;
  /** Service and app label (default `reviews`). */
  service?: string;
  /** Deploy v2 now (default: yes, ready with probes); false leaves it to the test (scene.deployV2). */
  v2?: V2Options | false;
  /** Start a mesh simulator for the service (default true). */
  traffic?: boolean | { requestsPerSecond: number };
  /** Name the host in the routes and the DestinationRule by its FQDN in the chart's cluster domain (default: the short name). */
  fqdnHost?: boolean;
}

const PROMETHEUS_JOBS = { mesh: 'istio-mesh', product: 'bluegreen-guard', pods: 'kubernetes-pods' } as const;

export class Stage {
  readonly timeline: StageStep[] = [];
  cp!: ControlPlane;
  prometheus!: RunningPrometheus;
  alertmanager!: RunningAlertmanager;
  certificates!: ServingCertificateFiles;
  /** What `helm template` of charts/bluegreen-guard rendered: RBAC, webhook configuration, config files. */
  chart!: RenderedChart;
  identities!: InstalledIdentities;
  webhook: WebhookProcess | undefined;
  readonly watchers: ProductProcess[] = [];
  /** The configuration each watcher runs with (the chart's watcher.yaml, this machine's endpoints, the profile). */
  readonly watcherConfigs: Record<string, unknown>[] = [];
  readonly scenes: Scene[] = [];
  private readonly meshTargets = new Map<string, string>();
  private readonly productTargets = new Map<string, string>();
  private readonly podTargets = new Map<string, Record<string, string>>();
  private stopped = false;

  /** @internal use startStage */
  constructor(
    readonly options: StageOptions,
    /** Config files, logs, certificates, Prometheus's file_sd targets. */
    readonly workDir: string,
  ) {}

  /** The `mesh:` section of the chart's webhook.yaml (the same as its watcher.yaml's). */
  get meshConfig(): { defaultStableSubset: string; clusterDomain: string } {
    const mesh = this.chart.webhookConfig.mesh as { defaultStableSubset?: string; clusterDomain?: string } | undefined;
    if (!mesh?.defaultStableSubset || !mesh.clusterDomain) throw new Error('the chart rendered webhook.yaml without mesh.defaultStableSubset and mesh.clusterDomain');
    return { defaultStableSubset: mesh.defaultStableSubset, clusterDomain: mesh.clusterDomain };
  }

  /** Runs one named step, records its timing and reports it. */
  async step<T>(step: string, run: () => Promise<T>, detail: (result: T) => string): Promise<T> {
    const startedAtMs = Date.now();
    const result = await run();
    const record = { step, detail: detail(result), startedAtMs, durationMs: Date.now() - startedAtMs };
    this.timeline.push(record);
    this.options.onProgress?.(record);
    return result;
  }

  /** Seeds one service (see SeedOptions); its pods and traffic are scraped by Prometheus from now on. */
  async seed(options: SeedOptions = {}): Promise<Scene> {
    const service = options.service ?? 'reviews';
    return this.step(
      `seed ${service}`,
      async () => {
        const api = this.cp.api;
        const namespace = await this.cp.newNamespace(options.namespacePrefix ?? 'shop', { guard: true });
        await createService(api, namespace, service);
        const v1 = await createWorkload(api, { namespace, app: service, version: 'v1', replicas: 2 });
        const scene = new Scene(this.cp, namespace, service, v1, undefined, undefined, (sc, workload) => this.scrapePods(sc.namespace, workload));
        // The scene's roles and hosts are the chart's mesh, as the webhook and the watcher read it.
        const meshConfig = this.meshConfig;
        scene.stableSubset = meshConfig.defaultStableSubset;
        scene.candidateSubset = meshConfig.defaultStableSubset === 'blue' ? 'green' : 'blue';
        if (options.fqdnHost) scene.fqdnHost = `${service}.${namespace}.svc.${meshConfig.clusterDomain}`;
        await this.scrapePods(namespace, v1);
        // The seed's starting point: green serves everything, blue is not routed yet.
        await scene.mustApply('DestinationRule with green', scene.destinationRule([scene.stableSubset]));
        await scene.mustApply('VirtualService green=100', scene.virtualService({ [scene.stableSubset]: 100 }));
        if (options.v2 !== false) await scene.deployV2(options.v2 ?? {});
        let mesh: MeshSimulator | undefined;
        if (options.traffic !== false) {
          mesh = await MeshSimulator.start({
            api,
            namespace,
            virtualService: scene.virtualServiceName,
            service,
            requestsPerSecond: typeof options.traffic === 'object' ? options.traffic.requestsPerSecond : 50,
            versions: [
              { version: 'v1', subset: scene.stableSubset },
              { version: 'v2', subset: scene.candidateSubset },
            ],
            clusterDomain: meshConfig.clusterDomain,
          });
          this.meshTargets.set(namespace, mesh.metricsTarget);
        }
        scene.mesh = mesh;
        this.scenes.push(scene);
        this.writeTargets();
        return scene;
      },
      (s) => `namespace ${s.namespace} (guarded): Service ${s.service}, ${s.v1.name} ready, ${s.v2 ? `${s.v2.name}, ` : ''}VirtualService green=100${s.mesh ? `, traffic ${s.mesh.metricsUrl}` : ''}`,
    );
  }

  /**
   * Makes Prometheus scrape a workload's pods (one target per pod, labelled
   * `namespace` and `pod` as Kubernetes pod discovery would) and waits until
   * it reports `up == 1` for each: the checklist's "metrics scraped for v2".
   */
  async scrapePods(namespace: string, workload: Workload): Promise<void> {
    for (const pod of workload.pods) this.podTargets.set(`${namespace}/${pod.metadata.name}`, { namespace, pod: pod.metadata.name });
    this.writeTargets();
    const names = workload.pods.map((p) => p.metadata.name);
    await waitUntil(
      async () => {
        const up = await this.query(`up{job="${PROMETHEUS_JOBS.pods}", namespace="${namespace}"} == 1`);
        return names.every((n) => up.some((s) => s.metric.pod === n));
      },
      { timeoutMs: 60_000, intervalMs: 200, description: `Prometheus scraping the pods of ${namespace}/${workload.name}` },
    );
  }

  /**
   * Has Prometheus scrape another source of Istio's metrics with the mesh
   * simulators (e.g. a BulkMeshExporter for many services at once), labelled
   * `simulated_namespace=<name>`. The caller starts and stops it.
   */
  addMeshTarget(name: string, target: string): void {
    if (this.meshTargets.has(name)) throw new Error(`the stage already scrapes a mesh target named ${name}`);
    this.meshTargets.set(name, target);
    this.writeTargets();
  }

  /** Stops the webhook (SIGTERM): the API server can no longer reach it. */
  async stopWebhook(): Promise<void> {
    await this.webhook?.process.stop();
  }

  /** Starts the webhook again on the same port and waits until it is ready. */
  async restartWebhook(): Promise<void> {
    if (!this.webhook) throw new Error('this stage runs no webhook');
    this.webhook.process.restart();
    await this.webhook.waitReady(120_000);
  }

  /** Where the watchers' Lease lives (the chart's watcher.yaml). */
  get leaseRef(): { namespace: string; name: string } {
    const lease = this.chart.watcherConfig.lease as { namespace?: string; name?: string } | undefined;
    return { namespace: lease?.namespace ?? RELEASE_NAMESPACE, name: lease?.name ?? 'bluegreen-guard-watcher' };
  }

  /** The watcher holding the Lease now, by the Lease's holderIdentity. */
  async leader(): Promise<ProductProcess | undefined> {
    const lease = await this.cp.api.read<{ apiVersion: string; kind: string; metadata: { name: string }; spec: { holderIdentity?: string } }>(
      'coordination.k8s.io/v1',
      'Lease',
      this.leaseRef.namespace,
      this.leaseRef.name,
    );
    return this.watchers.find((w) => w.name === lease.spec.holderIdentity);
  }

  /** `127.0.0.1:PORT` of a product process's plain-HTTP port (/metrics, /live, /ready). */
  metricsTargetOf(component: string): string {
    const target = this.productTargets.get(component);
    if (!target) throw new Error(`no process named ${component} on this stage (known: ${[...this.productTargets.keys()].join(', ')})`);
    return target;
  }

  /** A metric of one of the product's processes (`webhook`, `watcher-0`), read from its /metrics now: the sum of the series with these labels, 0 when there is none yet. */
  async metric(component: string, name: string, labels: Record<string, string> = {}): Promise<number> {
    const target = this.metricsTargetOf(component);
    const text = await (await fetch(`http://${target}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const wanted = Object.entries(labels);
    let sum = 0;
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
      if (!match || match[1] !== name) continue;
      const found: Record<string, string> = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']),
      );
      if (wanted.every(([k, v]) => found[k] === v)) sum += Number(match[3]);
    }
    return sum;
  }

  /** An instant PromQL query against the stage's Prometheus. */
  async query(promql: string, atSeconds?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const params = new URLSearchParams({ query: promql, ...(atSeconds === undefined ? {} : { time: String(atSeconds) }) });
    const body = (await (await fetch(`${this.prometheus.url}/api/v1/query?${params.toString()}`)).json()) as { status: string; error?: string; data: { result: never[] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error ?? 'unknown error'}`);
    return body.data.result;
  }

  /** A range query, `step` in seconds. */
  async queryRange(promql: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const params = new URLSearchParams({ query: promql, start: String(startSeconds), end: String(endSeconds), step: String(stepSeconds) });
    const body = (await (await fetch(`${this.prometheus.url}/api/v1/query_range?${params.toString()}`)).json()) as { status: string; error?: string; data: { result: never[] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error ?? 'unknown error'}`);
    return body.data.result;
  }

  /** Alerts Alertmanager holds now (active, silenced and inhibited included). */
  async alerts(): Promise<AlertmanagerAlert[]> {
    const response = await fetch(`${this.alertmanager.url}/api/v2/alerts`);
    if (!response.ok) throw new Error(`Alertmanager ${this.alertmanager.url}/api/v2/alerts answered ${response.status}`);
    return (await response.json()) as AlertmanagerAlert[];
  }

  /** Stops everything the stage started, in reverse order; each part is stopped even if another fails. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await Promise.all(this.watchers.map((w) => attempt(w.name, () => w.stop())));
    if (this.webhook) await attempt('webhook', () => this.webhook!.process.stop());
    await Promise.all(this.scenes.map((s) => attempt(`mesh simulator ${s.namespace}`, async () => s.mesh?.stop())));
    if (this.prometheus) await attempt('prometheus', () => this.prometheus.stop());
    if (this.alertmanager) await attempt('alertmanager', () => this.alertmanager.stop());
    if (this.cp) await attempt('control plane', () => this.cp.stop());
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(this.workDir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`stopping the stage: ${problems.join('; ')}`);
  }

  /** @internal the steps of startStage. */
  async start(): Promise<void> {
    const scrapeIntervalSeconds = this.options.scrapeIntervalSeconds ?? 1;
    await this.step('build', () => ensureCliBuilt(), () => 'dist/ is current (npm run build)');
    this.cp = await this.step('control plane', () => startControlPlane({ users: this.options.users, apiServerArgs: this.options.apiServerArgs }), (cp) => `kube-apiserver ${cp.server} (etcd, Istio CRDs), kubeconfig ${cp.kubeconfigPath}`);
    this.writeTargets();
    this.prometheus = await this.step(
      'prometheus',
      () => startPrometheus({ config: this.prometheusConfig(scrapeIntervalSeconds) }),
      (p) => `${p.url}, scraping every ${scrapeIntervalSeconds} s`,
    );
    this.alertmanager = await this.step('alertmanager', () => startAlertmanager(), (a) => a.url);
    this.certificates = await this.step(
      'certificates',
      () => Promise.resolve(makeServingCertificate(join(this.workDir, 'certs'), { dns: ['localhost'], ips: ['127.0.0.1'] })),
      (c) => `CA ${c.caFile}, serving certificate with SAN IP:127.0.0.1 (certs/make-certs.sh)`,
    );
    this.chart = await this.step(
      'chart',
      () => renderChart({ caPem: this.certificates.caPem, failurePolicy: this.options.failurePolicy, promotion: true, ...(this.options.mesh ? { mesh: this.options.mesh } : {}) }),
      (c) => `helm template charts/bluegreen-guard: ${c.rbac.length} RBAC objects, webhook ${c.webhookName} with failurePolicy ${c.failurePolicy}, webhook.yaml and watcher.yaml`,
    );
    this.identities = await this.step(
      'identities',
      () => installChartIdentities(this.cp, this.chart),
      () => `namespace ${RELEASE_NAMESPACE}: ServiceAccounts ${this.chart.webhookServiceAccount} and ${this.chart.watcherServiceAccount} bound to the chart's roles`,
    );
    if (this.options.webhook !== false) {
      this.webhook = await this.step(
        'webhook',
        () => this.startWebhook(),
        (w) => `${w.admissionUrl} (pid ${w.process.pid}), metrics http://${w.metricsTarget}/metrics, registered with failurePolicy ${this.chart.failurePolicy}`,
      );
    }
    const watcherCount = this.options.watchers ?? 1;
    for (let i = 0; i < watcherCount; i++) {
      const watcher = await this.step(
        `watcher-${i}`,
        () =>
          startWatcherProcess({
            name: `watcher-${i}`,
            workDir: this.workDir,
            chartConfig: this.chart.watcherConfig,
            profile: this.options.thresholds ?? 'short',
            prometheusUrl: this.prometheus.url,
            alertmanagerUrl: this.alertmanager.url,
            kubeconfig: this.identities.watcherKubeconfig,
            extra: this.options.watcherConfig,
          }),
        (w) => `pid ${w.process.pid}, metrics http://${w.metricsTarget}/metrics, Lease ${this.leaseRef.namespace}/${this.leaseRef.name}`,
      );
      this.watchers.push(watcher.process);
      this.watcherConfigs.push(watcher.config);
      this.productTargets.set(watcher.process.name, watcher.metricsTarget);
      this.writeTargets();
    }
  }

  private async startWebhook(): Promise<WebhookProcess> {
    const webhook = await startWebhookProcess({
      workDir: this.workDir,
      chartConfig: this.chart.webhookConfig,
      prometheusUrl: this.prometheus.url,
      kubeconfig: this.identities.webhookKubeconfig,
      certificates: this.certificates,
      extra: this.options.webhookConfig,
    });
    this.productTargets.set('webhook', webhook.metricsTarget);
    this.writeTargets();
    await registerChartWebhook(this.cp, this.chart, webhook.admissionUrl);
    await this.waitForRegistration();
    return webhook;
  }

  /** The API server picks a new webhook configuration up a moment later: wait until a route to a missing subset is refused. */
  private async waitForRegistration(): Promise<void> {
    const namespace = await this.cp.newNamespace('registration-probe', { guard: true });
    const probe = JSON.stringify({
      apiVersion: VS_API,
      kind: 'VirtualService',
      metadata: { name: 'probe', namespace },
      spec: { hosts: ['probe'], http: [{ route: [{ destination: { host: 'probe', subset: 'missing' } }] }] },
    });
    await waitUntil(
      async () => {
        const result = await this.cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: probe });
        return result.code !== 0 && result.stderr.includes('[subset-exists]');
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the API server calling the webhook (a dry-run route to a missing subset refused)' },
    );
  }

  private prometheusConfig(scrapeIntervalSeconds: number): Record<string, unknown> {
    const interval = `${scrapeIntervalSeconds}s`;
    const timeout = `${Math.round(Math.max(500, scrapeIntervalSeconds * 900))}ms`;
    const fileSd = (job: string) => ({ file_sd_configs: [{ files: [join(this.workDir, 'targets', `${job}.json`)] }] });
    return {
      global: { scrape_interval: interval, scrape_timeout: timeout, evaluation_interval: interval },
      scrape_configs: [
        { job_name: PROMETHEUS_JOBS.mesh, ...fileSd(PROMETHEUS_JOBS.mesh) },
        { job_name: PROMETHEUS_JOBS.product, ...fileSd(PROMETHEUS_JOBS.product) },
        {
          // One target per simulated pod, labelled the way Kubernetes pod
          // discovery labels them, so `up{namespace, pod}` is what the
          // metrics-scraped rule reads. The pods have no endpoint of their own:
          // each scrapes Prometheus's /metrics and keeps only `up`.
          job_name: PROMETHEUS_JOBS.pods,
          ...fileSd(PROMETHEUS_JOBS.pods),
          metric_relabel_configs: [{ source_labels: ['__name__'], regex: '.+', action: 'drop' }],
        },
      ],
    };
  }

  /** Prometheus re-reads these files when they change (file_sd), so targets come and go without a restart. */
  private writeTargets(): void {
    const dir = join(this.workDir, 'targets');
    mkdirSync(dir, { recursive: true });
    const write = (job: string, groups: unknown[]) => {
      const path = join(dir, `${job}.json`);
      writeFileSync(`${path}.tmp`, JSON.stringify(groups));
      // rename: Prometheus never reads a half-written file.
      renameSync(`${path}.tmp`, path);
    };
    write(PROMETHEUS_JOBS.mesh, [...this.meshTargets].map(([namespace, target]) => ({ targets: [target], labels: { simulated_namespace: namespace } })));
    write(PROMETHEUS_JOBS.product, [...this.productTargets].map(([component, target]) => ({ targets: [target], labels: { component } })));
    const self = this.prometheus ? `127.0.0.1:${this.prometheus.port}` : undefined;
    write(PROMETHEUS_JOBS.pods, self ? [...this.podTargets.values()].map((labels) => ({ targets: [self], labels })) : []);
  }
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

/** Starts the stage (see the top of this file); on any failure stops what was started and rethrows. */
export async function startStage(options: StageOptions = {}): Promise<Stage> {
  const stage = new Stage(options, mkdtempSync(join(tmpdir(), 'bgg-stage-')));
  try {
    await stage.start();
    return stage;
  } catch (error) {
    await stage.stop().catch(() => undefined);
    throw error;
  }
}
