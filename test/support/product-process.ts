// bluegreen-guard's own commands run as users run them: bin/bluegreen-guard as
// a separate process, configured by a file, logging JSON lines (pino) to a log
// file the test reads. Stopping sends SIGTERM, so the process's own shutdown
// path (release the Lease, finish reviews in flight) runs; kill() is the crash.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BIN } from './built-cli.js';
import { ManagedProcess, type ProcessExit } from './managed-process.js';
import { waitUntil } from './wait-until.js';

/** One pino line: `msg`, `level`, `time` and whatever fields the product logged. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number | string };

export interface ProductProcessOptions {
  /** `webhook`, `watcher-0`: names the process in errors and its files. */
  name: string;
  /** The CLI command: `webhook` or `watcher`. */
  command: string;
  /** Written to `<workDir>/<name>.yaml` and passed as `--config`. */
  config: Record<string, unknown>;
  extraArgs?: string[];
  workDir: string;
}

export class ProductProcess {
  readonly name: string;
  readonly configPath: string;
  readonly logPath: string;
  private current: ManagedProcess;

  private constructor(private readonly options: ProductProcessOptions) {
    this.name = options.name;
    this.configPath = join(options.workDir, `${options.name}.yaml`);
    this.logPath = join(options.workDir, `${options.name}.log`);
    writeFileSync(this.configPath, stringify(options.config));
    this.current = this.spawn();
  }

  static start(options: ProductProcessOptions): ProductProcess {
    return new ProductProcess(options);
  }

  get pid(): number {
    return this.current.pid;
  }

  get isRunning(): boolean {
    return this.current.isRunning;
  }

  get exited(): Promise<ProcessExit> {
    return this.current.exited;
  }

  /** Every JSON line logged so far (all runs of this process), in order; other lines are skipped. */
  logLines(): LogLine[] {
    let text: string;
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return [];
    }
    const lines: LogLine[] = [];
    for (const raw of text.split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(raw) as LogLine);
      } catch {
        // A line being written right now.
      }
    }
    return lines;
  }

  /** Resolves with the first log line (from `fromLine` on) that matches; fails early if the process exits. */
  async waitForLog(matches: (line: LogLine) => boolean, options: { timeoutMs: number; description: string; fromLine?: number }): Promise<LogLine> {
    try {
      return await waitUntil(
        () => {
          const found = this.logLines().slice(options.fromLine ?? 0).find(matches);
          if (found) return found;
          if (!this.isRunning) throw new Error('exited');
          return undefined;
        },
        { timeoutMs: options.timeoutMs, intervalMs: 100, description: `${this.name}: ${options.description}` },
      );
    } catch (error) {
      throw this.failure(error instanceof Error ? error.message : String(error));
    }
  }

  failure(what: string): Error {
    return this.current.failure(what);
  }

  logTail(lines = 30): string {
    return this.current.logTail(lines);
  }

  /**
   * One SIGTERM, the way the kubelet stops a container, then KILL after
   * graceMs. Only the tether script is signalled and it forwards one TERM:
   * signalling the whole process group would deliver two, and the product
   * reads a second signal as "exit now", skipping its shutdown (releasing the
   * Lease, finishing reviews in flight).
   */
  async stop(graceMs = 15_000): Promise<ProcessExit> {
    const current = this.current;
    if (!current.isRunning) return current.exited;
    try {
      process.kill(current.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const outcome = await Promise.race([current.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') current.killNow();
    return current.exited;
  }

  /** SIGKILL: a crash or a node lost, no shutdown path runs. */
  async kill(): Promise<ProcessExit> {
    this.current.killNow();
    return this.current.exited;
  }

  /** Starts the command again with the same config file (after stop or kill). */
  restart(): void {
    if (this.current.isRunning) throw new Error(`${this.name} is still running (pid ${this.current.pid}); stop it before restarting`);
    this.current = this.spawn();
  }

  private spawn(): ManagedProcess {
    return ManagedProcess.start({
      name: this.name,
      command: BIN,
      args: [this.options.command, '--config', this.configPath, ...(this.options.extraArgs ?? [])],
      logPath: this.logPath,
      cwd: this.options.workDir,
    });
  }
}
