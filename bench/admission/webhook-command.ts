// The webhook under test, run as it ships: `node <the chart's
// webhook.nodeOptions> dist/cli/main.js webhook` (what the chart's container
// and bin/bluegreen-guard run, on the project's Node 24), configured by
// a file and flags, its caches listing the cluster from a kubeconfig's API
// server, its metrics-scraped cache asking a Prometheus URL. Its pid is the
// node process's (taskset execs it), so /proc gives its own memory and CPU.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { ensureCliBuilt, REPO } from '../../test/support/built-cli.js';
import { freePort } from '../../test/support/free-port.js';
import { pinned } from '../lib/bench-child.js';

const MAIN = join(REPO, 'dist', 'cli', 'main.js');

/** The Node options the chart runs the webhook with (webhook.nodeOptions in its values). */
export function shippedWebhookNodeOptions(): string[] {
  const values = parse(readFileSync(join(REPO, 'charts', 'bluegreen-guard', 'values.yaml'), 'utf8')) as { webhook?: { nodeOptions?: string } };
  return (values.webhook?.nodeOptions ?? '').split(/\s+/).filter(Boolean);
}

export interface WebhookCommandOptions {
  cpus: string | undefined;
  certFile: string;
  keyFile: string;
  /** Kubernetes API server (and Prometheus) URL. */
  apiUrl: string;
  workDir: string;
  /** Extra Node/V8 options before the script (e.g. `--cpu-prof`), after the shipped ones (a later option wins). */
  nodeArgs?: string[];
  /** Another build's dist/cli/main.js, to compare a change before it is in dist/; default this checkout's. */
  main?: string;
  /** Merged into the webhook's config file (top-level keys replace). */
  config?: Record<string, unknown>;
  readyTimeoutMs?: number;
}

export interface WebhookCommand {
  pid: number;
  port: number;
  metricsPort: number;
  /** From spawn to /ready answering 200 (the caches have synced). */
  readyMs: number;
  logPath: string;
  stop(): Promise<void>;
}

export async function startWebhookCommand(options: WebhookCommandOptions): Promise<WebhookCommand> {
  if (!options.main) await ensureCliBuilt();
  const kubeconfig = join(options.workDir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP to the local stand-in; client-node requires saying so.
      clusters: [{ name: 'bench', cluster: { server: options.apiUrl, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'bench', user: { token: 'bench-token' } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
      'current-context': 'bench',
    }),
  );
  const configPath = join(options.workDir, 'webhook.yaml');
  writeFileSync(configPath, stringify({ shutdownGraceSeconds: 0, logLevel: 'info', prometheus: { url: options.apiUrl }, ...options.config }));
  const [port, metricsPort] = [await freePort(), await freePort()];
  const logPath = join(options.workDir, 'webhook.log');
  const log = openSync(logPath, 'w');
  const args = ['webhook', '--config', configPath, '--host', '127.0.0.1', '--port', String(port), '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--cert-file', options.certFile, '--key-file', options.keyFile, '--kubeconfig', kubeconfig];
  const { command, args: argv } = pinned(options.cpus, process.execPath, [...shippedWebhookNodeOptions(), ...(options.nodeArgs ?? []), options.main ?? MAIN, ...args]);
  const started = performance.now();
  const child: ChildProcess = spawn(command, argv, { stdio: ['ignore', log, log] });
  closeSync(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const tail = (): string => readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');

  const deadline = started + (options.readyTimeoutMs ?? 300_000);
  for (;;) {
    if (exited) throw new Error(`the webhook exited before it was ready; end of ${logPath}:\n${tail()}`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the webhook was not ready within ${options.readyTimeoutMs ?? 300_000} ms; end of ${logPath}:\n${tail()}`);
    }
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/ready`, { signal: AbortSignal.timeout(2000) }).then(
      async (r) => (await r.arrayBuffer(), r.status === 200),
      () => false,
    );
    if (ready) break;
    await sleep(100);
  }
  return {
    pid: child.pid ?? -1,
    port,
    metricsPort,
    readyMs: Math.round(performance.now() - started),
    logPath,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
