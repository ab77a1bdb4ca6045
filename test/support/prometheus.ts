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
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ManagedProcess } from './managed-process.js';
import { systemBinary } from './system-binary.js';
import { readyOnFreePort, removeDir, type ReadyServer } from './ready-on-free-port.js';

export interface PrometheusOptions {
  /** OpenMetrics text ending in `# EOF`, backfilled before start. */
  backfill?: string;
  /** The same, already in a file: for histories too large for one string (the benchmarks' thousands of services). */
  backfillFile?: string;
  /** Directories of TSDB blocks (e.g. `promtool tsdb create-blocks-from rules` output) copied into the TSDB before start. */
  blocks?: string[];
  /** prometheus.yml as an object; default `{ global: { scrape_interval: '15s' } }`. */
  config?: Record<string, unknown>;
  /** Appended to Prometheus's flags (e.g. `--web.enable-remote-write-receiver`). */
  extraArgs?: string[];
  /** Default 60 s: a loaded 2-core machine may be slow to open a TSDB. */
  readyTimeoutMs?: number;
}

/** `dir` holds `data/` (TSDB), `prometheus.yml`, `prometheus.log`. */
export type RunningPrometheus = ReadyServer;

export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const prometheus = systemBinary('prometheus', 'PROMETHEUS_BIN', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'bgg-prometheus-'));
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'prometheus.yml');
  try {
    mkdirSync(dataDir);
    writeFileSync(configPath, stringify(options.config ?? { global: { scrape_interval: '15s' } }));
    if (options.backfill !== undefined) await backfill(options.backfill, dir, dataDir);
    if (options.backfillFile !== undefined) await createBlocks(options.backfillFile, dataDir);
    for (const from of options.blocks ?? []) copyBlocks(from, dataDir);
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  return readyOnFreePort(dir, options.readyTimeoutMs ?? 60_000, (port) =>
    ManagedProcess.start({
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
    }),
  );
}

/** Writes exact history into an empty TSDB with promtool. */
async function backfill(openMetrics: string, dir: string, dataDir: string): Promise<void> {
  if (!openMetrics.trimEnd().endsWith('# EOF')) throw new Error('backfill: OpenMetrics text must end with "# EOF"');
  const input = join(dir, 'backfill.om');
  writeFileSync(input, openMetrics);
  await createBlocks(input, dataDir);
}

/** Every block directory (one holding a meta.json) under `from`, into the TSDB; overlapping blocks are merged by Prometheus. */
function copyBlocks(from: string, dataDir: string): void {
  const blocks = readdirSync(from, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(from, e.name, 'meta.json')));
  if (blocks.length === 0) throw new Error(`blocks: ${from} holds no TSDB block (no directory with a meta.json)`);
  for (const b of blocks) cpSync(join(from, b.name), join(dataDir, b.name), { recursive: true });
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
