// A real scale-out PromQL layer for integration tests and benchmarks: Thanos
// Query over several Prometheus servers, each with a Thanos sidecar, as a large
// mesh runs it. The `thanos` binary is built from the Go module proxy by
// test/thanos/build.sh (cached outside git, minutes cold, instant warm).
//
//   const mesh = await startThanos({ shards: [historyA, historyB] });  // beforeAll
//   new PrometheusMetricsSource({ url: mesh.url, … })                   // Thanos Query's HTTP API
//   await mesh.stores[1].stop();                                        // one store down: partial answers
//   const lenient = await mesh.addQuery({ partialResponse: true });     // a second Query over the same stores
//   await mesh.stop();                                                  // afterAll
//
// - Each shard is one Prometheus (its history backfilled with promtool, see
//   prometheus.ts) whose external labels are `{ replica: <a|b|…> }`, and one
//   `thanos sidecar` serving its TSDB over the gRPC store API.
// - `thanos query` names every sidecar with `--endpoint-strict`: a store that
//   stops answering stays in the set, so a query touching it says so
//   (partial response) instead of quietly answering from the others.
//   `--query.replica-label=replica` deduplicates series that several shards
//   hold (an HA pair), as `dedup=true` asks.
// - Resolves once Query lists every store as healthy; rejects with the end of
//   the failing process's log otherwise.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { ManagedProcess } from './managed-process.js';
import { startPrometheus, type RunningPrometheus } from './prometheus.js';
import { removeDir, waitReady } from './ready-on-free-port.js';
import { waitUntil } from './wait-until.js';

const BUILD_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'thanos', 'build.sh');
export const THANOS_BIN_ENV = 'BLUEGREEN_GUARD_THANOS_BIN';
/** The external label that tells the shards apart, and that Query deduplicates over. */
export const REPLICA_LABEL = 'replica';

export interface ThanosShard {
  /** OpenMetrics text ending in `# EOF` (or `backfillFile`): this shard's history. */
  backfill?: string;
  backfillFile?: string;
}

export interface ThanosQueryOptions {
  /** Thanos Query's own `--query.timeout` (a Prometheus duration, `1ms` at the least); default 2m, as Thanos ships. */
  queryTimeout?: string;
  /**
   * `--query.partial-response` / `--no-query.partial-response`: whether a
   * query that names no `partial_response` answers from the stores that
   * responded (HTTP 200 with `warnings`). Unset: Thanos's default.
   */
  partialResponse?: boolean;
}

export interface ThanosOptions extends ThanosQueryOptions {
  shards: ThanosShard[];
  readyTimeoutMs?: number;
}

export interface ThanosQuery {
  /** Thanos Query's Prometheus-compatible HTTP API, `http://127.0.0.1:PORT`. */
  url: string;
  process: ManagedProcess;
}

export interface ThanosStore {
  prometheus: RunningPrometheus;
  sidecar: ManagedProcess;
  /** `127.0.0.1:PORT` of the sidecar's gRPC store API. */
  grpcAddress: string;
  /** Stops the sidecar and its Prometheus. */
  stop(): Promise<void>;
}

export interface RunningThanos {
  /** Thanos Query's Prometheus-compatible HTTP API, `http://127.0.0.1:PORT`. */
  url: string;
  query: ManagedProcess;
  stores: ThanosStore[];
  /**
   * Another `thanos query` over the same stores, with its own flags; ready
   * once it lists every store as healthy (start it before stopping one).
   * Stopped by stop().
   */
  addQuery(options: ThanosQueryOptions): Promise<ThanosQuery>;
  stop(): Promise<void>;
}

/** Path of the `thanos` binary: built by test/thanos/build.sh on first use. */
export async function thanosBinary(): Promise<string> {
  const fromEnv = process.env[THANOS_BIN_ENV];
  if (fromEnv) return fromEnv;
  const path = await new Promise<string>((resolvePath, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (error) => reject(new Error(`could not run test/thanos/build.sh: ${error.message}`)));
    child.on('close', (code) => {
      const printed = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && printed) return resolvePath(printed);
      reject(new Error(`test/thanos/build.sh failed with exit code ${String(code)} (Thanos is built from the Go module proxy; run 'bash scripts/setup.sh'):\n${stderr.trimEnd().split('\n').slice(-20).join('\n')}`));
    });
  });
  process.env[THANOS_BIN_ENV] = path;
  return path;
}

export async function startThanos(options: ThanosOptions): Promise<RunningThanos> {
  const thanos = await thanosBinary();
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const stores: ThanosStore[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bgg-thanos-query-'));
  const queries: ManagedProcess[] = [];
  const stopAll = async () => {
    await Promise.all(queries.map((q) => q.stop()));
    await Promise.all(stores.map((s) => s.stop()));
    removeDir(dir);
  };
  const addQuery = async (queryOptions: ThanosQueryOptions): Promise<ThanosQuery> => {
    const httpPort = await freePort();
    const url = `http://127.0.0.1:${httpPort}`;
    const partial = queryOptions.partialResponse;
    const query = ManagedProcess.start({
      name: `thanos query ${queries.length}`,
      command: thanos,
      args: [
        'query',
        `--http-address=127.0.0.1:${httpPort}`,
        `--grpc-address=127.0.0.1:${await freePort()}`,
        `--query.replica-label=${REPLICA_LABEL}`,
        `--query.timeout=${queryOptions.queryTimeout ?? '2m'}`,
        ...(partial === undefined ? [] : [partial ? '--query.partial-response' : '--no-query.partial-response']),
        ...stores.map((s) => `--endpoint-strict=${s.grpcAddress}`),
      ],
      logPath: join(dir, `query-${queries.length}.log`),
      cwd: dir,
    });
    queries.push(query);
    await waitReady(query, url, readyTimeoutMs);
    await waitForStores(query, url, stores.length, readyTimeoutMs);
    return { url, process: query };
  };
  try {
    for (const [i, shard] of options.shards.entries()) {
      stores.push(await startStore(thanos, shard, String.fromCharCode(97 + i), readyTimeoutMs));
    }
    const first = await addQuery(options);
    return { url: first.url, query: first.process, stores, addQuery, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function startStore(thanos: string, shard: ThanosShard, replica: string, readyTimeoutMs: number): Promise<ThanosStore> {
  const prometheus = await startPrometheus({
    ...(shard.backfill !== undefined ? { backfill: shard.backfill } : {}),
    ...(shard.backfillFile !== undefined ? { backfillFile: shard.backfillFile } : {}),
    // The sidecar refuses a Prometheus without external labels: they are what tells stores apart.
    config: { global: { scrape_interval: '15s', external_labels: { [REPLICA_LABEL]: replica } } },
    readyTimeoutMs,
  });
  try {
    const grpcPort = await freePort();
    const httpPort = await freePort();
    const sidecar = ManagedProcess.start({
      name: `thanos sidecar ${replica}`,
      command: thanos,
      args: [
        'sidecar',
        `--prometheus.url=${prometheus.url}`,
        `--tsdb.path=${join(prometheus.dir, 'data')}`,
        `--grpc-address=127.0.0.1:${grpcPort}`,
        `--http-address=127.0.0.1:${httpPort}`,
      ],
      logPath: join(prometheus.dir, `sidecar.log`),
      cwd: prometheus.dir,
    });
    let stopped = false;
    const store: ThanosStore = {
      prometheus,
      sidecar,
      grpcAddress: `127.0.0.1:${grpcPort}`,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await sidecar.stop();
        await prometheus.stop();
      },
    };
    try {
      await waitReady(sidecar, `http://127.0.0.1:${httpPort}`, readyTimeoutMs);
    } catch (error) {
      await store.stop();
      throw error;
    }
    return store;
  } catch (error) {
    await prometheus.stop();
    throw error;
  }
}

/** Query is ready before it has met its stores; a test must not start until every one answers. */
async function waitForStores(query: ManagedProcess, url: string, expected: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const res = await fetch(`${url}/api/v1/stores`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { data?: Record<string, Array<{ lastError?: string | null }>> };
      const healthy = Object.values(body.data ?? {})
        .flat()
        .filter((s) => !s.lastError).length;
      return healthy >= expected ? true : undefined;
    },
    { timeoutMs, intervalMs: 200, description: `thanos query at ${url} to list ${expected} healthy stores` },
  ).catch((error: unknown) => {
    throw query.failure(`did not list its ${expected} stores within ${timeoutMs} ms (${error instanceof Error ? error.message : String(error)})`);
  });
}
