// Istio's metrics for many services at once, without a simulator per service
// (not product code): one /metrics endpoint that a real Prometheus scrapes,
// emitting `istio_requests_total` and `istio_request_duration_milliseconds`
// with the same label set as test/support/mesh-simulator.ts, for every
// version of every service, all healthy. No requests are sent: the counters
// grow with the clock (requestsPerSecond per version, every answer a 200 in
// about 6 ms), so each scrape reads a steady, increasing rate.
//
//   const exporter = await BulkMeshExporter.start({ services: [{ namespace: 'bulk-0', service: 'svc-0' }] });
//   stage.addMeshTarget('bulk', exporter.metricsTarget);
//   ...
//   await exporter.stop();
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ISTIO_DURATION_BUCKETS_MS, type SimulatedVersion } from './mesh-simulator.js';

export interface BulkService {
  namespace: string;
  service: string;
}

export interface BulkMeshExporterOptions {
  services: readonly BulkService[];
  /** Default v1 (green) and v2 (blue). */
  versions?: readonly SimulatedVersion[];
  /** Per version of each service; default 10. */
  requestsPerSecond?: number;
  /** For destination_service; default cluster.local. */
  clusterDomain?: string;
}

/** Every request lands in the 10 ms bucket, three in five already in the 5 ms one. */
const LATENCY_MS = 6;
const UNDER_5_MS = 0.6;

export class BulkMeshExporter {
  /** `127.0.0.1:PORT`, for a file_sd target. */
  readonly metricsTarget: string;
  readonly metricsUrl: string;
  /** Series in one scrape (counters, buckets, sums and counts). */
  readonly seriesCount: number;

  private constructor(
    private readonly server: Server,
    private readonly labelSets: readonly string[],
    private readonly requestsPerSecond: number,
    private readonly startedAtMs: number,
  ) {
    const { port } = server.address() as AddressInfo;
    this.metricsTarget = `127.0.0.1:${port}`;
    this.metricsUrl = `http://${this.metricsTarget}/metrics`;
    this.seriesCount = labelSets.length * (ISTIO_DURATION_BUCKETS_MS.length + 4);
  }

  static async start(options: BulkMeshExporterOptions): Promise<BulkMeshExporter> {
    const versions = options.versions ?? [
      { version: 'v1', subset: 'green' },
      { version: 'v2', subset: 'blue' },
    ];
    const domain = options.clusterDomain ?? 'cluster.local';
    // The label set of mesh-simulator.ts, in its order, with response_code 200.
    const labelSets = options.services.flatMap(({ namespace, service }) =>
      versions.map((v) => {
        const labels: Record<string, string> = {
          reporter: 'destination',
          source_workload: 'loadgen',
          destination_service: `${service}.${namespace}.svc.${domain}`,
          destination_service_name: service,
          destination_service_namespace: namespace,
          destination_workload: v.workload ?? `${service}-${v.version}`,
          destination_workload_namespace: namespace,
          destination_version: v.version,
          destination_canonical_service: service,
          request_protocol: 'http',
          response_code: '200',
        };
        return Object.entries(labels)
          .map(([k, value]) => `${k}="${value}"`)
          .join(',');
      }),
    );
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const exporter = new BulkMeshExporter(server, labelSets, options.requestsPerSecond ?? 10, Date.now());
    server.on('request', (req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(exporter.render());
    });
    return exporter;
  }

  /** The exposition text now. */
  render(): string {
    const n = Math.floor((this.requestsPerSecond * (Date.now() - this.startedAtMs)) / 1000);
    const fast = Math.floor(n * UNDER_5_MS);
    const sum = n * LATENCY_MS;
    const out: string[] = [
      '# HELP istio_requests_total Requests served, as reported by the destination sidecar.',
      '# TYPE istio_requests_total counter',
    ];
    for (const labels of this.labelSets) out.push(`istio_requests_total{${labels}} ${n}`);
    out.push('# HELP istio_request_duration_milliseconds Request duration in milliseconds, as reported by the destination sidecar.', '# TYPE istio_request_duration_milliseconds histogram');
    const buckets = ISTIO_DURATION_BUCKETS_MS.map((le) => [String(le), le < 5 ? 0 : le < 10 ? fast : n] as const);
    for (const labels of this.labelSets) {
      for (const [le, count] of buckets) out.push(`istio_request_duration_milliseconds_bucket{${labels},le="${le}"} ${count}`);
      out.push(`istio_request_duration_milliseconds_bucket{${labels},le="+Inf"} ${n}`, `istio_request_duration_milliseconds_sum{${labels}} ${sum}`, `istio_request_duration_milliseconds_count{${labels}} ${n}`);
    }
    out.push('');
    return out.join('\n');
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
