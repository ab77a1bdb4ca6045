// `kubectl bluegreen ARGS` run as a user's shell runs it: bin/ on PATH, the
// stage's kubectl and its admin KUBECONFIG.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './built-cli.js';
import type { Stage } from './stage.js';

export function kubectlBluegreen(stage: Stage, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(stage.cp.binDir, 'kubectl'), ['bluegreen', ...args], { env: { ...process.env, PATH: `${join(REPO, 'bin')}:${process.env.PATH ?? ''}`, KUBECONFIG: stage.cp.kubeconfigPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
