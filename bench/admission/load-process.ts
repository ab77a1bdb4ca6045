// The load generator's process, pinned to its own core: keeps keep-alive
// connection pools to the servers under test and runs open-loop loads on
// command, returning summaries (percentiles, errors, its own lag and CPU).
import { reviewMix, EXPECTED_ALLOWED, type ReviewKind } from '../lib/reviews.js';
import { childInput, serveParent } from '../lib/bench-child.js';
import type { ClusterShape } from '../lib/cluster-fixture.js';
import { Http1Connection, postRequest, type Http1Response } from '../lib/http1-connection.js';
import { percentile, runOpenLoop, type OpenLoopRun, type PreparedRequest } from '../lib/open-loop.js';

export interface ConnectArgs {
  target: string;
  port: number;
  path: string;
  /** PEM of the CA that signed the server's certificate: the client verifies it, as the API server does. */
  ca: string;
  connections: number;
  /** `admission`: each answer must echo the uid and allow or deny as the rules must; `status`: HTTP 200 is enough (the floor). */
  check: 'admission' | 'status';
}

export interface RunArgs {
  target: string;
  ratePerSecond: number;
  warmupMs: number;
  durationMs: number;
  drainTimeoutMs: number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface RunSummary extends LatencySummary {
  target: string;
  ratePerSecond: number;
  durationMs: number;
  sent: number;
  completed: number;
  errorCount: number;
  errors: Record<string, number>;
  achievedPerSecond: number;
  maxQueued: number;
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  generatorCpuShare: number;
  byKind: Record<ReviewKind, LatencySummary>;
}

interface Pool {
  connections: Http1Connection[];
  requests: PreparedRequest[];
  kinds: ReviewKind[];
}

export function summarize(sorted: Float64Array): LatencySummary {
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    p999Ms: percentile(sorted, 99.9),
    maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
    meanMs: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

function checker(check: ConnectArgs['check'], kind: ReviewKind, uid: string): (r: Http1Response) => string | undefined {
  return (r) => {
    if (r.status !== 200) return `HTTP ${r.status}`;
    if (check === 'status') return undefined;
    let body: { response?: { uid?: string; allowed?: boolean } };
    try {
      body = JSON.parse(r.body.toString('utf8')) as typeof body;
    } catch {
      return 'response is not JSON';
    }
    if (body.response?.uid !== uid) return 'response uid does not echo the request';
    if (body.response.allowed !== EXPECTED_ALLOWED[kind]) return `a ${kind} review was ${body.response.allowed ? 'allowed' : 'denied'}`;
    return undefined;
  };
}

function byKind(run: OpenLoopRun, pool: Pool): Record<ReviewKind, LatencySummary> {
  const values: Record<ReviewKind, number[]> = { pass: [], fail: [] };
  run.byRequestMs.forEach((ms, i) => {
    if (!Number.isNaN(ms)) values[pool.kinds[(run.firstRequest + i) % pool.kinds.length] as ReviewKind].push(ms);
  });
  return { pass: summarize(Float64Array.from(values.pass).sort()), fail: summarize(Float64Array.from(values.fail).sort()) };
}

function main(): void {
  const { shape, reviews } = childInput<{ shape: ClusterShape; reviews: number }>();
  const mix = reviewMix(shape, reviews);
  const pools = new Map<string, Pool>();

  serveParent({ reviews: mix.length }, {
    connect: async (args: ConnectArgs) => {
      const connections = await Promise.all(Array.from({ length: args.connections }, () => Http1Connection.open({ host: '127.0.0.1', port: args.port, ca: args.ca })));
      const requests = mix.map((r) => {
        const uid = (JSON.parse(r.body.toString('utf8')) as { request: { uid: string } }).request.uid;
        return { bytes: postRequest('127.0.0.1', args.port, args.path, r.body), check: checker(args.check, r.kind, uid) };
      });
      pools.set(args.target, { connections, requests, kinds: mix.map((r) => r.kind) });
      return { connections: connections.length };
    },
    run: async (args: RunArgs): Promise<RunSummary> => {
      const pool = pools.get(args.target);
      if (!pool) throw new Error(`no connections to ${args.target}: connect first`);
      const run = await runOpenLoop({ ...args, connections: pool.connections, requests: pool.requests });
      return {
        target: args.target,
        ratePerSecond: run.ratePerSecond,
        durationMs: run.durationMs,
        sent: run.sent,
        completed: run.completed,
        errorCount: run.errorCount,
        errors: run.errors,
        achievedPerSecond: run.achievedPerSecond,
        maxQueued: run.maxQueued,
        sendLagP99Ms: percentile(run.sendLagMs, 99),
        sendLagMaxMs: run.sendLagMs.length > 0 ? (run.sendLagMs[run.sendLagMs.length - 1] as number) : Number.NaN,
        generatorCpuShare: run.generatorCpuShare,
        ...summarize(run.latenciesMs),
        byKind: byKind(run, pool),
      };
    },
    close: (args: { target: string }) => {
      for (const c of pools.get(args.target)?.connections ?? []) c.close();
      pools.delete(args.target);
    },
  });
}

main();
