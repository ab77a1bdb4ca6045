// A long-running process a test starts (etcd, kube-apiserver, Prometheus...):
// output goes to a log file, stop() ends it (TERM, then KILL after a grace
// period), and whatever is still running when the test process exits is
// killed, so a failing test leaks nothing. Every error quotes the end of the
// process's log, because that is where the reason is.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TETHER = join(dirname(fileURLToPath(import.meta.url)), 'tethered.sh');
const DEFAULT_STOP_GRACE_MS = 10_000;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Names the process in errors: `etcd`, `kube-apiserver`. */
  name: string;
  command: string;
  args: readonly string[];
  logPath: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a signal to the whole process group
  // (the tether script and the command it runs) is.
  process.on('exit', () => {
    for (const p of running) p.killNow();
  });
}

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly pid: number;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly child: ChildProcess;

  private constructor(options: StartProcessOptions) {
    this.name = options.name;
    this.logPath = options.logPath;
    const log = openSync(options.logPath, 'a');
    try {
      // detached: the process leads its own group, so one signal reaches the
      // tether script and the command alike.
      this.child = spawn('bash', [TETHER, options.command, ...options.args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', log, log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    if (this.child.pid === undefined) throw new Error(`could not start ${this.name} (${options.command})`);
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        resolve(this.exit);
      });
    });
    running.add(this);
    installExitHook();
  }

  static start(options: StartProcessOptions): ManagedProcess {
    if (!existsSync(options.command)) {
      throw new Error(`cannot start ${options.name}: ${options.command} does not exist or is not a file`);
    }
    return new ManagedProcess(options);
  }

  get isRunning(): boolean {
    return this.exit === undefined;
  }

  /** The last lines of the process's log, for error messages. */
  logTail(lines = 30): string {
    let text: string;
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return `(no log at ${this.logPath})`;
    }
    const all = text.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  /** An Error that says what failed and shows the end of the log. */
  failure(what: string): Error {
    const how = this.exit ? ` (exited with ${this.exit.signal ?? `code ${String(this.exit.code)}`})` : '';
    return new Error(`${this.name} ${what}${how}. Last lines of ${this.logPath}:\n${this.logTail()}`);
  }

  /** TERM, then KILL if it has not exited after graceMs. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /** Synchronous kill for the exit hook. */
  killNow(): void {
    this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }
}
