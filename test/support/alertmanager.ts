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
// - halt() stops the process and keeps its directory and port; resume()
//   starts it again there (an outage, as the watcher sees it: connection
//   refused, then the same URL answering again with no alerts in memory).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ManagedProcess } from './managed-process.js';
import { readyOnFreePort, removeDir, waitReady, type ReadyServer } from './ready-on-free-port.js';
import { systemBinary } from './system-binary.js';

export interface AlertmanagerOptions {
  /** alertmanager.yml as an object. */
  config?: Record<string, unknown>;
  extraArgs?: string[];
  /** Default 60 s. */
  readyTimeoutMs?: number;
}

/** `dir` holds `alertmanager.yml`, `data/` (silences) and `alertmanager.log`. */
export interface RunningAlertmanager extends ReadyServer {
  /** Stops the process (TERM, then KILL), keeping its directory and its port for resume(). */
  halt(): Promise<void>;
  /** Starts it again on the same port, with the same directory; resolves once /-/ready answers 200. */
  resume(): Promise<void>;
}

export const SILENT_ALERTMANAGER_CONFIG = {
  route: { receiver: 'nobody', group_by: ['alertname', 'namespace', 'service'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
  receivers: [{ name: 'nobody' }],
};

export async function startAlertmanager(options: AlertmanagerOptions = {}): Promise<RunningAlertmanager> {
  const alertmanager = systemBinary('prometheus-alertmanager', 'ALERTMANAGER_BIN', 'prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'bgg-alertmanager-'));
  const storage = join(dir, 'data');
  const configPath = join(dir, 'alertmanager.yml');
  try {
    mkdirSync(storage);
    writeFileSync(configPath, stringify(options.config ?? SILENT_ALERTMANAGER_CONFIG));
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const launch = (port: number): ManagedProcess =>
    ManagedProcess.start({
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
  const server = await readyOnFreePort(dir, readyTimeoutMs, launch);
  let current = server.process;
  return {
    url: server.url,
    port: server.port,
    dir: server.dir,
    get process() {
      return current;
    },
    halt: async () => {
      await current.stop();
    },
    resume: async () => {
      if (current.isRunning) throw new Error(`alertmanager is still running (pid ${current.pid}); halt it before resuming`);
      // Go listeners set SO_REUSEADDR, so the port is free again at once unless another process took it.
      current = launch(server.port);
      await waitReady(current, server.url, readyTimeoutMs);
    },
    stop: async () => {
      await current.stop();
      await server.stop();
    },
  };
}
