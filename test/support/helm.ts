// helm, built from helm.sh/helm/v3 by test/helm/build.sh (cached by go.sum),
// and the real CRDs of the kinds the chart's options add (cert-manager,
// Prometheus Operator) from test/helm/third-party-crds.sh.
//
//   const helm = await Helm.build();
//   const out = await helm.template({ namespace: 'bgg', values: { tls: { mode: 'certManager' } } });
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HELM_DIR = join(REPO, 'test', 'helm');
export const CHART_DIR = join(REPO, 'charts', 'bluegreen-guard');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

// A helm command still running when this process exits (a demo interrupted while it renders the
// chart) would outlive it: helm is short-lived, so it is not tethered, but it is killed on exit.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function run(command: string, args: readonly string[], options: { streamStderr?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    running.add(child);
    child.on('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (options.streamStderr) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`${command} ${args.join(' ')} was killed (${signal}); stderr: ${stderr}`));
      else resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function script(name: string, timeoutMs: number): Promise<string[]> {
  const r = await run('bash', [join(HELM_DIR, name)], { streamStderr: true, timeoutMs });
  if (r.code !== 0) throw new Error(`test/helm/${name} failed (exit ${r.code}):\n${r.stderr.trimEnd().split('\n').slice(-20).join('\n')}`);
  return r.stdout.trim().split('\n').filter(Boolean);
}

/** Paths of the cert-manager and Prometheus Operator CRDs the chart's options need. */
export function thirdPartyCrdPaths(): Promise<string[]> {
  return script('third-party-crds.sh', 300_000);
}

export interface TemplateOptions {
  releaseName?: string;
  namespace: string;
  /** Written to a values file and passed with -f. */
  values?: Record<string, unknown>;
}

export class Helm {
  private constructor(readonly binary: string, private readonly home: string) {}

  /** Builds helm on first use (about a minute and a half cold, instant warm). */
  static async build(): Promise<Helm> {
    const [dir] = await script('build.sh', 900_000);
    if (!dir) throw new Error('test/helm/build.sh printed no directory');
    return new Helm(join(dir, 'helm'), mkdtempSync(join(tmpdir(), 'bluegreen-guard-helm-')));
  }

  /** helm with its config, cache and data in a private directory: nothing of the user's is read or written. */
  run(args: readonly string[]): Promise<RunResult> {
    const env = {
      ...process.env,
      HELM_CONFIG_HOME: join(this.home, 'config'),
      HELM_CACHE_HOME: join(this.home, 'cache'),
      HELM_DATA_HOME: join(this.home, 'data'),
      KUBECONFIG: join(this.home, 'no-kubeconfig'),
    };
    return run(this.binary, args, { env });
  }

  private valuesArgs(values: Record<string, unknown> | undefined): string[] {
    if (!values) return [];
    const dir = mkdtempSync(join(this.home, 'values-'));
    const file = join(dir, 'values.yaml');
    writeFileSync(file, stringify(values));
    return ['-f', file];
  }

  lint(values?: Record<string, unknown>): Promise<RunResult> {
    return this.run(['lint', '--strict', CHART_DIR, ...this.valuesArgs(values)]);
  }

  /** `helm template`; the result's stdout is the rendered manifests. */
  template(options: TemplateOptions): Promise<RunResult> {
    return this.run(['template', options.releaseName ?? 'bgg', CHART_DIR, '--namespace', options.namespace, ...this.valuesArgs(options.values)]);
  }

  dispose(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
