// Runs the kubectl built beside the test API server, the way a user would:
// tests assert on its exit code and on what it prints (a denied apply must
// carry the rule's message on stderr).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface KubectlTarget {
  binDir: string;
  kubeconfigPath: string;
  /** Discovery cache of this control plane only: ports are reused across runs. */
  kubectlCacheDir: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin: `kubectl apply -f -` with a manifest. */
  stdin?: string;
  timeoutMs?: number;
  /** Another identity's kubeconfig (see ControlPlane.kubeconfigFor). */
  kubeconfigPath?: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(target: KubectlTarget, args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const fullArgs = [`--kubeconfig=${options.kubeconfigPath ?? target.kubeconfigPath}`, `--cache-dir=${target.kubectlCacheDir}`, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(join(target.binDir, 'kubectl'), fullArgs, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: options.kubeconfigPath ?? target.kubeconfigPath },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run kubectl ${args.join(' ')}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) {
        reject(new Error(`kubectl ${args.join(' ')} was killed (${signal}) after ${timeoutMs} ms; stderr: ${stderr}`));
        return;
      }
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}
