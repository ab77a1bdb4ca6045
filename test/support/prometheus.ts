// A real Prometheus (the Debian `prometheus` binary) for integration tests,
// end-to-end tests, the demo and the benchmarks.
//
//   const prom = await startPrometheus({ backfill: openMetricsText });  // beforeAll
//   fetch(`${prom.url}/api/v1/query?query=up`) …
//   await prom.stop();                                                  // afterAll
//
// - Listens on a free loopback port; its TSDB, config and log live in a fresh
//   temporary directory that stop() removes (kept when KEEP_TEST_DIRS=1).
// - `backfill`: OpenMetrics text (ending in `# EOF`; or `backfillFile`, a file of it) written into the TSDB with
//   `promtool tsdb create-blocks-from openmetrics` before start, so queries see
//   exact, known history at fixed past instants (query them with `time=`).
// - `config`: prometheus.yml as an object (scrape jobs for live targets);
//   default: no scrape jobs, so backfilled history is all there is.
// - Resolves once /-/ready answers 200; rejects with the end of Prometheus's
//   log if it exits or is not ready in time. A port lost to a race is retried.
// - Retention is unlimited in practice (100 years) so old backfilled blocks are
//   never deleted under the test's feet.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.js';
import { ManagedProcess } from './managed-process.js';
import { systemBinary } from './system-binary.js';
import { waitUntil } from './wait-until.js';

export interface PrometheusOptions {
  /** OpenMetrics text ending in `# EOF`, backfilled before start. */
  backfill?: string;
  /** The same, already in a file: for histories too large for one string (the benchmarks' thousands of services). */
  backfillFile?: string;
  /** prometheus.yml as an object; default `{ global: { scrape_interval: '15s' } }`. */
  config?: Record<string, unknown>;
  /** Appended to Prometheus's flags (e.g. `--web.enable-remote-write-receiver`). */
  extraArgs?: string[];
  /** Default 60 s: a loaded 2-core machine may be slow to open a TSDB. */
  readyTimeoutMs?: number;
}

export interface RunningPrometheus {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The temporary directory: `data/` (TSDB), `prometheus.yml`, `prometheus.log`. */
  dir: string;
  process: ManagedProcess;
  /** Stops Prometheus (TERM, then KILL) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 3;

export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const prometheus = systemBinary('prometheus', 'PROMETHEUS_BIN', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'bgg-prometheus-'));
  try {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(configPath, stringify(options.config ?? { global: { scrape_interval: '15s' } }));
    if (options.backfill !== undefined) await backfill(options.backfill, dir, dataDir);
    if (options.backfillFile !== undefined) await createBlocks(options.backfillFile, dataDir);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const proc = ManagedProcess.start({
        name: 'prometheus',
        command: prometheus,
        args: [
          `--config.file=${configPath}`,
          `--storage.tsdb.path=${dataDir}`,
          '--storage.tsdb.retention.time=36500d',
          `--web.listen-address=127.0.0.1:${port}`,
          '--web.enable-lifecycle',
          ...(options.extraArgs ?? []),
        ],
        logPath: join(dir, 'prometheus.log'),
        cwd: dir,
      });
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitReady(proc, url, options.readyTimeoutMs ?? 60_000);
      } catch (error) {
        await proc.stop();
        if (attempt < PORT_ATTEMPTS && /address already in use/.test(proc.logTail())) continue;
        throw error;
      }
      let stopped = false;
      return {
        url,
        port,
        dir,
        process: proc,
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await proc.stop();
          removeDir(dir);
        },
      };
    }
  } catch (error) {
    removeDir(dir);
    throw error;
  }
}

/** Writes exact history into an empty TSDB with promtool. */
async function backfill(openMetrics: string, dir: string, dataDir: string): Promise<void> {
  if (!openMetrics.trimEnd().endsWith('# EOF')) throw new Error('backfill: OpenMetrics text must end with "# EOF"');
  const input = join(dir, 'backfill.om');
  writeFileSync(input, openMetrics);
  await createBlocks(input, dataDir);
}

async function createBlocks(input: string, dataDir: string): Promise<void> {
  const promtool = systemBinary('promtool', 'PROMTOOL_BIN', 'prometheus');
  await new Promise<void>((resolve, reject) => {
    execFile(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', input, dataDir], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`promtool could not backfill ${input}: ${error.message}\n${stderr || stdout}`));
      else resolve();
    });
  });
}

export async function waitReady(proc: ManagedProcess, url: string, timeoutMs: number): Promise<void> {
  const exited = Symbol('exited');
  const result = await waitUntil<true | typeof exited>(
    async () => {
      if (!proc.isRunning) return exited;
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, description: `${proc.name} ready at ${url}/-/ready` },
  ).catch((error: unknown) => {
    throw proc.failure(`was not ready within ${timeoutMs} ms (${error instanceof Error ? error.message : String(error)})`);
  });
  if (result === exited) throw proc.failure(`exited before it was ready at ${url}`);
}

function removeDir(dir: string): void {
  if (process.env.KEEP_TEST_DIRS === '1') return;
  rmSync(dir, { recursive: true, force: true });
}
