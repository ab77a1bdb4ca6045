// Starting a Prometheus-family server (Prometheus, Alertmanager) on a free
// loopback port in its own temporary directory: wait for /-/ready, retry when
// another process took the port first, and remove the directory on stop
// (kept when KEEP_TEST_DIRS=1).
import { rmSync } from 'node:fs';
import { freePort } from './free-port.js';
import type { ManagedProcess } from './managed-process.js';
import { waitUntil } from './wait-until.js';

export interface ReadyServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The temporary directory the server lives in. */
  dir: string;
  process: ManagedProcess;
  /** Stops the server (TERM, then KILL) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 3;

/**
 * Runs `start(port)` on a free port until the server answers /-/ready.
 * `dir` is owned from here on: removed on stop, and on failure.
 */
export async function readyOnFreePort(dir: string, readyTimeoutMs: number, start: (port: number) => ManagedProcess): Promise<ReadyServer> {
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = start(port);
      try {
        await waitReady(proc, url, readyTimeoutMs);
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

export function removeDir(dir: string): void {
  if (process.env.KEEP_TEST_DIRS === '1') return;
  rmSync(dir, { recursive: true, force: true });
}
