// Benchmark parts run in their own processes: a server's memory and CPU are
// then its own (read from /proc), and each process can be pinned to a core
// with `taskset` (util-linux). Parent and child talk over Node's IPC channel:
// the child announces itself with `ready`, then answers commands.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOADER = join(BENCH_DIR, 'ts-loader.ts');
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

let tasksetChecked: boolean | undefined;

/** Whether `taskset` can pin processes here (it is absent on some minimal images). */
export function canPin(): boolean {
  tasksetChecked ??= spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return tasksetChecked;
}

/** The command line that runs `command` on the given cores, or unpinned when taskset is missing. */
export function pinned(cpus: string | undefined, command: string, args: string[]): { command: string; args: string[] } {
  if (cpus === undefined || !canPin()) return { command, args };
  return { command: 'taskset', args: ['-c', cpus, command, ...args] };
}

export interface BenchChildOptions {
  /** The child's entry, relative to bench/ (e.g. `admission/webhook-process.ts`). */
  script: string;
  /** Passed to the child as argv[2], JSON-encoded. */
  input?: unknown;
  /** `taskset -c` list, e.g. `0`. */
  cpus?: string;
  nodeArgs?: string[];
  /** How long the child may take to announce itself. */
  readyTimeoutMs?: number;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

export class BenchChild<Ready = unknown> {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    child.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(`${name}: ${m.error}`));
      else w.resolve(m.result);
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (code ${code}, signal ${signal}) while a command was running`));
      this.waiting.clear();
    });
  }

  static start<Ready>(options: BenchChildOptions): Promise<BenchChild<Ready>> {
    const script = join(BENCH_DIR, options.script);
    const { command, args } = pinned(options.cpus, process.execPath, [...(options.nodeArgs ?? []), '--import', LOADER, script, JSON.stringify(options.input ?? null)]);
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const name = options.script;
    return new Promise((resolveReady, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} did not become ready within ${options.readyTimeoutMs ?? 120_000} ms`));
      }, options.readyTimeoutMs ?? 120_000);
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal}); its error is above`));
      };
      child.once('exit', onExit);
      child.once('message', (m: { type?: string; info?: Ready; error?: string }) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if (m.type === 'ready') resolveReady(new BenchChild<Ready>(name, child, m.info as Ready));
        else {
          child.kill('SIGKILL');
          reject(new Error(`${name} failed to start: ${m.error ?? JSON.stringify(m)}`));
        }
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  request<T>(command: string, args: unknown = null): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = ++this.nextId;
    return new Promise<T>((resolveReply, reject) => {
      this.waiting.set(id, { resolve: (v) => resolveReply(v as T), reject });
      this.child.send({ id, command, args });
    });
  }

  memory(): ProcessMemory {
    return processMemory(this.pid);
  }

  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  /** Asks the child to exit, then kills it if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ id: 0, command: 'exit', args: null });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface ProcessMemory {
  rssBytes: number;
  peakRssBytes: number;
}

/** Resident memory of a process now and at its peak, from /proc: its own, whatever runs beside it. */
export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

/** CPU seconds a process has used so far (user + system). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

type Handler = (args: never) => unknown;

/** The child's side: announce `info`, then answer the parent's commands until told to exit. */
export function serveParent(info: unknown, handlers: Record<string, Handler>, onExit: () => Promise<void> | void = () => {}): void {
  const send = (m: unknown): void => {
    process.send?.(m);
  };
  process.on('message', (m: { id: number; command: string; args: never }) => {
    if (m.command === 'exit') {
      void Promise.resolve(onExit()).finally(() => process.exit(0));
      return;
    }
    const handler = handlers[m.command];
    if (!handler) return send({ id: m.id, error: `unknown command ${m.command}` });
    Promise.resolve()
      .then(() => handler(m.args))
      .then(
        (result) => send({ id: m.id, result: result ?? null }),
        (e: unknown) => send({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
      );
  });
  // The parent went away (it crashed or was interrupted): do not linger.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', info });
}

/** A child's start-up failure, reported to the parent instead of a bare exit. */
export function reportStartFailure(e: unknown): void {
  process.send?.({ type: 'failed', error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exitCode = 1;
  process.disconnect?.();
}

/** The JSON the parent passed as argv[2]. */
export function childInput<T>(): T {
  return JSON.parse(process.argv[2] ?? 'null') as T;
}
