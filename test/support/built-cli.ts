// The built `bluegreen-guard` command, for tests that run it as users do
// (bin/bluegreen-guard → dist/cli/main.js). `npm run build` runs first when
// dist is missing or older than any file in src/; concurrent test files
// (jest workers) build once, under a lock, and never read a half-written dist.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { waitUntil } from './wait-until.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(REPO, 'bin', 'bluegreen-guard');
const MAIN = join(REPO, 'dist', 'cli', 'main.js');
const LOCK = join(tmpdir(), `bgg-build-${createHash('sha256').update(REPO).digest('hex').slice(0, 12)}.lock`);

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  return existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestMtimeMs(join(REPO, 'src'));
}

function lockHolderAlive(): boolean {
  try {
    const pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Builds dist/ when it is missing or stale. Rejects with the compiler's output when the build fails. */
export async function ensureCliBuilt(timeoutMs = 300_000): Promise<void> {
  if (isFresh()) return;
  await waitUntil(
    () => {
      try {
        mkdirSync(LOCK);
        writeFileSync(join(LOCK, 'pid'), String(process.pid));
        return true;
      } catch {
        // Held by another worker; a lock left by a dead process is taken over.
        if (existsSync(LOCK) && !lockHolderAlive() && Date.now() - statSync(LOCK).mtimeMs > 2000) rmSync(LOCK, { recursive: true, force: true });
        return false;
      }
    },
    { timeoutMs, intervalMs: 200, description: `the build lock ${LOCK}` },
  );
  try {
    if (isFresh()) return;
    const tsc = join(REPO, 'node_modules', '.bin', 'tsc');
    const code = await new Promise<{ code: number | null; output: string }>((done) => {
      const child = spawn(tsc, ['-p', 'tsconfig.build.json'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('close', (c) => done({ code: c, output }));
    });
    if (code.code !== 0) throw new Error(`npm run build failed (tsc exit ${String(code.code)}):\n${code.output.slice(-4000)}`);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/bluegreen-guard with arguments, as a user would. */
export function runCli(args: string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(BIN, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`bluegreen-guard ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Synchronous variant for quick checks. */
export function runCliSync(args: string[]): CliResult {
  const r = spawnSync(BIN, args, { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
