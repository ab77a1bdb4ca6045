// Istio's data plane, simulated for tests (not product code). It follows one
// VirtualService through the API server, as istiod would push it to the
// sidecars, and sends a steady stream of HTTP requests to two simulated
// versions of a service, split by the route's current weights. Each version
// is a real HTTP server whose error ratio and latency a test sets at runtime;
// like Istio's destination sidecar it records every request it serves in
// `istio_requests_total` and `istio_request_duration_milliseconds` with
// Istio's standard labels, on a /metrics endpoint a real Prometheus scrapes.
//
// The split is deterministic (smooth weighted round robin) and so are the
// errors (an error ratio of 0.2 fails exactly every fifth request), so a test
// gets the same numbers on every run.
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import type { KubeApi, KubeObject } from './kube-api.js';
import { sleep, waitUntil } from './wait-until.js';

/** Istio's default buckets for istio_request_duration_milliseconds. */
export const ISTIO_DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export interface SimulatedVersion {
  /** `version` label and destination_version: `v1`. */
  version: string;
  /** The DestinationRule subset that selects it: `green`. */
  subset: string;
  /** destination_workload; default `<service>-<version>`. */
  workload?: string;
}

export interface VersionBehaviour {
  /** Share of requests answered with errorStatus, 0..1. */
  errorRatio: number;
  /** Time the version takes to answer. */
  latencyMs: number;
  /** Status of a failed request; default 503. */
  errorStatus: number;
}

export interface MeshSimulatorOptions {
  api: KubeApi;
  namespace: string;
  /** The VirtualService to follow. */
  virtualService: string;
  /** Short name of the Kubernetes Service, the routes' host and destination_service_name. */
  service: string;
  /** Default: v1 behind subset green, v2 behind subset blue. */
  versions?: SimulatedVersion[];
  /** Default 50. */
  requestsPerSecond?: number;
  /** The cluster domain hosts resolve in (`destination_service`); default cluster.local. */
  clusterDomain?: string;
}

/** version → share of requests sent there, 0..1, summing to 1 (or empty: nothing routable). */
export type TrafficShare = Record<string, number>;

export interface ShareChange {
  atMs: number;
  share: TrafficShare;
  resourceVersion?: string;
}

interface RouteDestination {
  destination?: { host?: string; subset?: string };
  weight?: number;
}

interface HttpRoute {
  match?: Record<string, unknown>[];
  route?: RouteDestination[];
}

const DEFAULT_VERSIONS: SimulatedVersion[] = [
  { version: 'v1', subset: 'green' },
  { version: 'v2', subset: 'blue' },
];
const TICK_MS = 20;

function hostMatches(host: string | undefined, service: string, namespace: string, clusterDomain: string): boolean {
  if (!host) return false;
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`].includes(host);
}

function catchesAll(match: Record<string, unknown>): boolean {
  const keys = Object.keys(match).filter((k) => k !== 'name');
  if (keys.length === 0) return true;
  const uri = match.uri as { prefix?: string } | undefined;
  return keys.length === 1 && uri?.prefix === '/';
}

/**
 * The share of plain requests (no headers, path /) each version gets from a
 * VirtualService, the way a sidecar would route them: the first http route
 * that matches such a request, its destinations for our host, by weight. A
 * destination without a subset spreads over every version, as the Service
 * would. No VirtualService: the Service spreads evenly.
 */
export function shareFromVirtualService(
  vs: KubeObject | undefined,
  service: string,
  namespace: string,
  versions: readonly SimulatedVersion[],
  clusterDomain = 'cluster.local',
): TrafficShare {
  const even = (): TrafficShare => Object.fromEntries(versions.map((v) => [v.version, 1 / versions.length]));
  if (!vs) return even();
  const routes = ((vs.spec as { http?: HttpRoute[] } | undefined)?.http ?? []).filter((r) =>
    (r.route ?? []).some((d) => hostMatches(d.destination?.host, service, namespace, clusterDomain)),
  );
  const route = routes.find((r) => !r.match || r.match.length === 0 || r.match.some(catchesAll));
  if (!route) return even();
  const destinations = (route.route ?? []).filter((d) => hostMatches(d.destination?.host, service, namespace, clusterDomain));
  const weightOf = (d: RouteDestination): number => d.weight ?? (destinations.length === 1 ? 100 : 0);
  const total = destinations.reduce((sum, d) => sum + weightOf(d), 0);
  const share: TrafficShare = {};
  if (total <= 0) return share;
  for (const d of destinations) {
    const targets = d.destination?.subset ? versions.filter((v) => v.subset === d.destination?.subset) : versions;
    for (const t of targets) share[t.version] = (share[t.version] ?? 0) + weightOf(d) / total / targets.length;
  }
  return share;
}

interface Backend {
  version: SimulatedVersion;
  server: Server;
  port: number;
  behaviour: VersionBehaviour;
  errorCredit: number;
  served: number;
  failed: number;
}

export class MeshSimulator {
  readonly metricsUrl: string;
  /** `127.0.0.1:PORT`, for a Prometheus static_configs target. */
  readonly metricsTarget: string;
  private share: TrafficShare = {};
  private readonly changes: ShareChange[] = [];
  private readonly credit = new Map<string, number>();
  private pendingRequests = 0;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  private ticker: NodeJS.Timeout | undefined;
  private following: Promise<void> | undefined;
  private lastResourceVersion: string | undefined;

  private constructor(
    private readonly options: MeshSimulatorOptions,
    private readonly backends: Map<string, Backend>,
    private readonly metricsServer: Server,
    private readonly registry: Registry,
  ) {
    const { port } = metricsServer.address() as AddressInfo;
    this.metricsTarget = `127.0.0.1:${port}`;
    this.metricsUrl = `http://${this.metricsTarget}/metrics`;
  }

  /** Starts the versions and the metrics endpoint, reads the VirtualService, and starts the request stream. */
  static async start(options: MeshSimulatorOptions): Promise<MeshSimulator> {
    const versions = options.versions ?? DEFAULT_VERSIONS;
    const registry = new Registry();
    const labelNames = [
      'reporter',
      'source_workload',
      'destination_service',
      'destination_service_name',
      'destination_service_namespace',
      'destination_workload',
      'destination_workload_namespace',
      'destination_version',
      'destination_canonical_service',
      'request_protocol',
      'response_code',
    ] as const;
    const requests = new Counter({ name: 'istio_requests_total', help: 'Requests served, as reported by the destination sidecar.', labelNames, registers: [registry] });
    const duration = new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Request duration in milliseconds, as reported by the destination sidecar.',
      labelNames,
      buckets: ISTIO_DURATION_BUCKETS_MS,
      registers: [registry],
    });

    const backends = new Map<string, Backend>();
    for (const version of versions) {
      const backend: Backend = {
        version,
        server: createServer(),
        port: 0,
        behaviour: { errorRatio: 0, latencyMs: 5, errorStatus: 503 },
        errorCredit: 0,
        served: 0,
        failed: 0,
      };
      const labels = {
        reporter: 'destination',
        source_workload: 'loadgen',
        destination_service: `${options.service}.${options.namespace}.svc.${options.clusterDomain ?? 'cluster.local'}`,
        destination_service_name: options.service,
        destination_service_namespace: options.namespace,
        destination_workload: version.workload ?? `${options.service}-${version.version}`,
        destination_workload_namespace: options.namespace,
        destination_version: version.version,
        destination_canonical_service: options.service,
        request_protocol: 'http',
      };
      backend.server.on('request', (req, res) => {
        const startedAt = performance.now();
        const { errorRatio, latencyMs, errorStatus } = backend.behaviour;
        // Deterministic errors: fail whenever the accumulated ratio reaches one request.
        backend.errorCredit += errorRatio;
        const fail = backend.errorCredit >= 1 - 1e-9;
        if (fail) backend.errorCredit -= 1;
        req.resume();
        setTimeout(() => {
          const status = fail ? errorStatus : 200;
          res.writeHead(status, { 'Content-Type': 'text/plain' }).end(fail ? 'upstream error\n' : `${version.version}\n`);
          backend.served++;
          if (fail) backend.failed++;
          const code = { ...labels, response_code: String(status) };
          requests.inc(code);
          duration.observe(code, performance.now() - startedAt);
        }, latencyMs);
      });
      backend.port = await listen(backend.server);
      backends.set(version.version, backend);
    }

    const metricsServer = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    });
    await listen(metricsServer);

    const simulator = new MeshSimulator(options, backends, metricsServer, registry);
    await simulator.readVirtualService();
    simulator.following = simulator.follow();
    simulator.ticker = setInterval(() => simulator.tick(), TICK_MS);
    return simulator;
  }

  /** Changes how a version answers from now on: `setBehaviour('v2', { errorRatio: 0.2 })`. */
  /** One version's pods, addressed directly (what a per-version Service or a header-matched route reaches): its base URL. */
  urlOf(version: string): string {
    const backend = this.backends.get(version);
    if (!backend) throw new Error(`the mesh simulator has no version ${version}`);
    return `http://127.0.0.1:${backend.port}`;
  }

  setBehaviour(version: string, behaviour: Partial<VersionBehaviour>): void {
    const backend = this.backends.get(version);
    if (!backend) throw new Error(`the mesh simulator has no version ${version}; it simulates ${[...this.backends.keys()].join(', ')}`);
    backend.behaviour = { ...backend.behaviour, ...behaviour };
  }

  /** What the simulator sends where right now, from the VirtualService it follows. */
  trafficShare(): TrafficShare {
    return { ...this.share };
  }

  /** resourceVersion of the VirtualService whose weights the simulator applies now. */
  get followedResourceVersion(): string | undefined {
    return this.lastResourceVersion;
  }

  /** Every share the simulator has followed, with when it saw it (Date.now()). */
  shareHistory(): readonly ShareChange[] {
    return [...this.changes];
  }

  /** Requests served and failed per version since the start. */
  served(): Record<string, { requests: number; errors: number }> {
    return Object.fromEntries([...this.backends].map(([v, b]) => [v, { requests: b.served, errors: b.failed }]));
  }

  /** Resolves once `version` gets at least `minShare` of the traffic (1 = all of it); returns when that was seen. */
  async waitForShare(version: string, minShare: number, timeoutMs: number): Promise<ShareChange> {
    return waitUntil(
      () => {
        const last = this.changes[this.changes.length - 1];
        return last && (last.share[version] ?? 0) >= minShare - 1e-9 ? last : undefined;
      },
      { timeoutMs, intervalMs: 25, description: `mesh simulator sending ≥ ${minShare * 100}% of ${this.options.service} traffic to ${version} (now ${JSON.stringify(this.share)})` },
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    this.abort.abort();
    await this.following;
    this.agent.destroy();
    await Promise.all([...[...this.backends.values()].map((b) => close(b.server)), close(this.metricsServer)]);
    this.registry.clear();
  }

  private get vsPath(): string {
    return `/apis/networking.istio.io/v1/namespaces/${this.options.namespace}/virtualservices`;
  }

  private applyShare(vs: KubeObject | undefined): void {
    const versions = [...this.backends.values()].map((b) => b.version);
    const share = shareFromVirtualService(vs, this.options.service, this.options.namespace, versions, this.options.clusterDomain);
    this.lastResourceVersion = vs?.metadata.resourceVersion ?? this.lastResourceVersion;
    const changed = JSON.stringify(share) !== JSON.stringify(this.share);
    this.share = share;
    // New weights start a new round: no version carries credit from the old split.
    if (changed) this.credit.clear();
    if (changed || this.changes.length === 0) this.changes.push({ atMs: Date.now(), share, resourceVersion: vs?.metadata.resourceVersion });
  }

  /** Lists the one VirtualService; returns the list's resourceVersion to watch from. */
  private async readVirtualService(): Promise<string> {
    const list = await this.options.api.call<{ items: KubeObject[]; metadata: { resourceVersion: string } }>('GET', this.vsPath, {
      query: { fieldSelector: `metadata.name=${this.options.virtualService}` },
    });
    this.applyShare(list.items[0]);
    return list.metadata.resourceVersion;
  }

  /** List, then watch from there; when the API server ends the watch (restart, timeout, 410), list again. */
  private async follow(): Promise<void> {
    let resourceVersion: string | undefined;
    let backoffMs = 100;
    while (!this.stopped) {
      try {
        resourceVersion ??= await this.readVirtualService();
        let expired = false;
        await this.options.api.watch(this.vsPath, {
          resourceVersion,
          query: { fieldSelector: `metadata.name=${this.options.virtualService}` },
          signal: this.abort.signal,
          onEvent: (event) => {
            backoffMs = 100;
            if (event.type === 'ERROR') {
              expired = true;
              return;
            }
            resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
            if (event.type === 'ADDED' || event.type === 'MODIFIED') this.applyShare(event.object);
            if (event.type === 'DELETED') this.applyShare(undefined);
          },
        });
        if (expired) resourceVersion = undefined;
      } catch {
        resourceVersion = undefined;
      }
      if (this.stopped) break;
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }

  private tick(): void {
    const rps = this.options.requestsPerSecond ?? 50;
    this.pendingRequests += (rps * TICK_MS) / 1000;
    while (this.pendingRequests >= 1) {
      this.pendingRequests -= 1;
      const version = this.pick();
      if (version) this.send(version);
    }
  }

  /** Smooth weighted round robin: every version gets credit by its share, the richest is picked and pays one. */
  private pick(): string | undefined {
    let best: string | undefined;
    for (const [version, share] of Object.entries(this.share)) {
      const credit = (this.credit.get(version) ?? 0) + share;
      this.credit.set(version, credit);
      if (share > 0 && (best === undefined || credit > (this.credit.get(best) ?? 0))) best = version;
    }
    if (best !== undefined) this.credit.set(best, (this.credit.get(best) ?? 0) - 1);
    return best;
  }

  private send(version: string): void {
    const backend = this.backends.get(version);
    if (!backend) return;
    const req = request({ host: '127.0.0.1', port: backend.port, path: '/', agent: this.agent }, (res) => res.resume());
    req.on('error', () => undefined);
    req.end();
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
