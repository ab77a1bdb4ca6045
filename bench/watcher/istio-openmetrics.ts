// Istio's standard metrics for thousands of services, written as OpenMetrics
// to a file for promtool to backfill (test/support/istio-history.ts does the
// same for a handful of services, as one string; 5,000 services make some
// 800 MB, more than a string can hold). Same metric names, labels and
// buckets as the Istio sidecar reports with reporter="destination".
//
// Every service has a stable v1 and a candidate v2 taking traffic, 10 requests
// per second each. Some candidates misbehave so the evaluation has breaches to
// describe: every 10th answers 8 % 5xx, every 20th (offset) is slow (p99 above
// 2 s); the rest are healthy.
import { closeSync, openSync, writeSync } from 'node:fs';
import { ISTIO_BUCKETS_MS } from '../../test/support/istio-history.js';

export interface MeshService {
  namespace: string;
  service: string;
  /** Its place in the whole mesh, which decides its behaviour (behaviourOf), also when a history holds only some services. */
  index: number;
}

export interface MeshHistory {
  services: MeshService[];
  startSeconds: number;
  endSeconds: number;
  stepSeconds: number;
}

export function meshServices(count: number): MeshService[] {
  return Array.from({ length: count }, (_, i) => ({ namespace: `team-${String(Math.floor(i / 5)).padStart(4, '0')}`, service: `svc-${String(i).padStart(5, '0')}`, index: i }));
}

export type Behaviour = 'healthy' | 'errors' | 'slow';

export function behaviourOf(index: number): Behaviour {
  if (index % 10 === 3) return 'errors';
  if (index % 20 === 7) return 'slow';
  return 'healthy';
}

interface Interval {
  requests: number;
  errors: number;
  /** [bucket upper bound ms, count] */
  latency: Array<[number, number]>;
}

function interval(behaviour: Behaviour, version: string): Interval {
  const candidate = version === 'v2';
  if (candidate && behaviour === 'errors') return { requests: 150, errors: 12, latency: [[25, 90], [50, 45], [250, 13], [1000, 2]] };
  if (candidate && behaviour === 'slow') return { requests: 150, errors: 0, latency: [[250, 100], [5000, 50]] };
  return { requests: 150, errors: 0, latency: [[25, 90], [50, 45], [250, 13], [1000, 2]] };
}

class Writer {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}
  line(text: string): void {
    this.chunks.push(text);
    this.size += text.length + 1;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.chunks.length === 0) return;
    writeSync(this.fd, `${this.chunks.join('\n')}\n`);
    this.chunks = [];
    this.size = 0;
  }
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
}

/** Writes the history to `file`; returns the number of samples. */
export function writeMeshHistory(file: string, spec: MeshHistory): number {
  const fd = openSync(file, 'w');
  const out = new Writer(fd);
  let samples = 0;
  const steps: number[] = [];
  for (let t = spec.startSeconds; t <= spec.endSeconds; t += spec.stepSeconds) steps.push(t);
  const versions = ['v1', 'v2'];
  const base = (s: MeshService, version: string): Record<string, string> => ({
    reporter: 'destination',
    source_workload: 'istio-ingressgateway',
    source_workload_namespace: 'istio-system',
    destination_service: `${s.service}.${s.namespace}.svc.cluster.local`,
    destination_service_name: s.service,
    destination_service_namespace: s.namespace,
    destination_workload: `${s.service}-${version}`,
    destination_workload_namespace: s.namespace,
    destination_version: version,
    request_protocol: 'http',
  });
  try {
    out.line('# HELP istio_requests Total requests.');
    out.line('# TYPE istio_requests counter');
    spec.services.forEach((s) => {
      for (const version of versions) {
        const traffic = interval(behaviourOf(s.index), version);
        const labels = base(s, version);
        for (const [code, perInterval] of [['200', traffic.requests - traffic.errors], ['503', traffic.errors]] as const) {
          const prefix = `istio_requests_total{${labelText({ ...labels, response_code: code })}} `;
          steps.forEach((t, n) => out.line(`${prefix}${n * perInterval} ${t}`));
          samples += steps.length;
        }
      }
    });
    out.line('# HELP istio_request_duration_milliseconds Request duration.');
    out.line('# TYPE istio_request_duration_milliseconds histogram');
    spec.services.forEach((s) => {
      for (const version of versions) {
        const traffic = interval(behaviourOf(s.index), version);
        const labels = base(s, version);
        const text = labelText(labels);
        const perBucket = [...ISTIO_BUCKETS_MS, Number.POSITIVE_INFINITY].map((bound) => traffic.latency.filter(([ms]) => ms <= bound).reduce((a, [, c]) => a + c, 0));
        [...ISTIO_BUCKETS_MS.map(String), '+Inf'].forEach((le, b) => {
          const prefix = `istio_request_duration_milliseconds_bucket{${text},le="${le}"} `;
          steps.forEach((t, n) => out.line(`${prefix}${n * (perBucket[b] ?? 0)} ${t}`));
        });
        const sumPerInterval = traffic.latency.reduce((a, [ms, c]) => a + ms * c, 0);
        steps.forEach((t, n) => out.line(`istio_request_duration_milliseconds_count{${text}} ${n * traffic.requests} ${t}`));
        steps.forEach((t, n) => out.line(`istio_request_duration_milliseconds_sum{${text}} ${n * sumPerInterval} ${t}`));
        samples += steps.length * (ISTIO_BUCKETS_MS.length + 3);
      }
    });
    out.line('# EOF');
    out.flush();
  } finally {
    closeSync(fd);
  }
  return samples;
}
