// Where the control-plane binaries and Istio's CRDs come from: the scripts in
// test/kube build or download them into caches outside git and print the path.
// The e2e global set-up resolves them once and hands the paths to the test
// files through the environment (see e2eGlobalSetup below); anything else
// (demo, benchmarks) asks here.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const KUBE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'kube');
export const KUBE_BIN_ENV = 'BLUEGREEN_GUARD_KUBE_BIN';
export const ISTIO_CRDS_ENV = 'BLUEGREEN_GUARD_ISTIO_CRDS';
export const KUBE_BINARIES = ['etcd', 'kube-apiserver', 'kubectl'] as const;

function hasAllBinaries(dir: string): boolean {
  return KUBE_BINARIES.every((b) => existsSync(join(dir, b)));
}

/** Runs one of the test/kube scripts; its stdout is a path, its stderr progress or the reason it failed. */
function runScript(script: string, streamProgress: boolean): Promise<string> {
  return new Promise((resolvePath, reject) => {
    const child = spawn('bash', [join(KUBE_DIR, script)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (streamProgress) process.stderr.write(chunk);
    });
    child.on('error', (error) => reject(new Error(`could not run test/kube/${script}: ${error.message}`)));
    child.on('close', (code) => {
      const path = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && path) return resolvePath(path);
      const tail = stderr.trimEnd().split('\n').slice(-20).join('\n');
      reject(new Error(`test/kube/${script} failed with exit code ${String(code)}:\n${tail}`));
    });
  });
}

/**
 * The directory holding etcd, kube-apiserver and kubectl. Built by
 * test/kube/build.sh on first use (several minutes cold, instant warm).
 */
export async function kubeBinDir(options: { streamProgress?: boolean } = {}): Promise<string> {
  const fromEnv = process.env[KUBE_BIN_ENV];
  if (fromEnv && hasAllBinaries(fromEnv)) return fromEnv;
  const dir = await runScript('build.sh', options.streamProgress ?? false);
  if (!hasAllBinaries(dir)) {
    throw new Error(`test/kube/build.sh printed ${dir}, which lacks one of ${KUBE_BINARIES.join(', ')}; delete it and run the script again`);
  }
  return dir;
}

/** Path of istio.io/api's customresourcedefinitions.gen.yaml at the pinned version. */
export async function istioCrdsPath(): Promise<string> {
  const fromEnv = process.env[ISTIO_CRDS_ENV];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return runScript('istio-crds.sh', false);
}

/**
 * Jest globalSetup of the e2e project: runs once before the test files. A cold
 * build takes minutes, more than any beforeAll should wait; here it has no
 * timeout and shows its progress. The paths reach the test workers through
 * the environment. (This module imports nothing local: Jest loads a global
 * set-up's own imports without its module mapping.)
 */
export default async function e2eGlobalSetup(): Promise<void> {
  process.env[KUBE_BIN_ENV] = await kubeBinDir({ streamProgress: true });
  process.env[ISTIO_CRDS_ENV] = await istioCrdsPath();
}
