// A real Alertmanager (the Debian `prometheus-alertmanager` binary) for
// integration tests, end-to-end tests, the demo and the benchmarks.
//
//   const am = await startAlertmanager();          // beforeAll
//   await fetch(`${am.url}/api/v2/alerts`) …
//   await am.stop();                               // afterAll
//
// - Listens on a free loopback port with clustering off (no fixed 9094 port,
//   so several run side by side); config, silences and log live in a fresh
//   temporary directory that stop() removes (kept when KEEP_TEST_DIRS=1).
// - `config`: alertmanager.yml as an object; default: one receiver that
//   notifies nobody, so alerts are only stored and listed by the API.
// - Resolves once /-/ready answers 200; rejects with the end of its log if it
//   exits or is not ready in time. A port lost to a race is retried.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.js';
import { ManagedProcess } from './managed-process.js';
import { waitReady } from './prometheus.js';
import { systemBinary } from './system-binary.js';

export interface AlertmanagerOptions {
  /** alertmanager.yml as an object. */
  config?: Record<string, unknown>;
  extraArgs?: string[];
  /** Default 60 s. */
  readyTimeoutMs?: number;
}

export interface RunningAlertmanager {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  dir: string;
  process: ManagedProcess;
  /** Stops Alertmanager (TERM, then KILL) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export const SILENT_ALERTMANAGER_CONFIG = {
  route: { receiver: 'nobody', group_by: ['alertname', 'namespace', 'service'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
  receivers: [{ name: 'nobody' }],
};

const PORT_ATTEMPTS = 3;

export async function startAlertmanager(options: AlertmanagerOptions = {}): Promise<RunningAlertmanager> {
  const alertmanager = systemBinary('prometheus-alertmanager', 'ALERTMANAGER_BIN', 'prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'bgg-alertmanager-'));
  try {
    const storage = join(dir, 'data');
    mkdirSync(storage);
    const configPath = join(dir, 'alertmanager.yml');
    writeFileSync(configPath, stringify(options.config ?? SILENT_ALERTMANAGER_CONFIG));
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = ManagedProcess.start({
        name: 'alertmanager',
        command: alertmanager,
        args: [
          `--config.file=${configPath}`,
          `--storage.path=${storage}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--cluster.listen-address=',
          ...(options.extraArgs ?? []),
        ],
        logPath: join(dir, 'alertmanager.log'),
        cwd: dir,
      });
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
          if (process.env.KEEP_TEST_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
