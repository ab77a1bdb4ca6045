// The container image, built without a container engine: the Dockerfile's own
// steps (scripts/image-build-steps.sh reads and runs them), then the final
// stage started the way a runtime would, as the image's non-root user, on files
// it cannot write, with only a scratch TMPDIR writable.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const projectNode = join(repo, 'node_modules/.bin/node');

interface ImageDescription {
  stage: string;
  root: string;
  workdir: string;
  user: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

let work: string;
let image: ImageDescription;
let scratch: string;

/** Every path under `dir`, for proving a run left the image's files untouched. */
function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/**
 * Starts the image's entrypoint with `args` as the container runtime would:
 * in its workdir, with its env only, as its user when this test runs as root
 * (root ignores file modes, so only a real uid switch proves read-only-ness).
 */
function runImage(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [program, ...entryArgs] = image.entrypoint;
  expect(program).toBe('node');
  const env = { ...image.env, PATH: '/usr/bin:/bin', HOME: '/nonexistent', TMPDIR: scratch };
  const command = [projectNode, ...entryArgs, ...args];
  const asUser =
    process.getuid?.() === 0
      ? ['setpriv', `--reuid=${image.user.split(':')[0]}`, `--regid=${image.user.split(':')[1] ?? image.user}`, '--clear-groups', '--']
      : [];
  const [exe, ...rest] = [...asUser, ...command] as [string, ...string[]];
  const r = spawnSync(exe, rest, { cwd: join(image.root, image.workdir), env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'bluegreen-guard-image-'));
  const built = spawnSync('bash', [join(repo, 'scripts/image-build-steps.sh'), work], { encoding: 'utf8', timeout: 600_000 });
  if (built.status !== 0) throw new Error(`scripts/image-build-steps.sh failed (exit ${built.status}):\n${built.stderr.slice(-4000)}`);
  image = JSON.parse(readFileSync(built.stdout.trim(), 'utf8')) as ImageDescription;
  // The image's files belong to root and are not writable by its user; the
  // temp directories on the way must still be traversable by that user.
  chmodSync(work, 0o755);
  spawnSync('chmod', ['-R', 'a-w', image.root]);
  scratch = mkdtempSync(join(tmpdir(), 'bluegreen-guard-image-tmp-'));
  chmodSync(scratch, 0o1777);
}, 600_000);

afterAll(() => {
  if (work) {
    spawnSync('chmod', ['-R', 'u+w', work]);
    rmSync(work, { recursive: true, force: true });
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('container image', () => {
  it('runs as a non-root user with the CLI as entrypoint and a process picked by the command', () => {
    expect(image.stage).toBe('runtime');
    expect(image.user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
    expect(image.entrypoint).toEqual(['node', 'dist/cli/main.js']);
    expect(['webhook', 'watcher']).toContain(image.cmd[0]);
    expect(image.env.NODE_ENV).toBe('production');
  });

  it('holds the compiled output and production dependencies only', () => {
    const app = join(image.root, image.workdir);
    expect(existsSync(join(app, 'dist/cli/main.js'))).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', dep))).toBe(true);
    // npm marks `dev: true` what only development needs (reachable from no
    // production dependency): none of it may reach the image.
    const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev === true)
      .map(([path]) => path);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/typescript', 'node_modules/jest']));
    const present = devOnly.filter((path) => existsSync(join(app, path)));
    expect(present).toEqual([]);
    expect(existsSync(join(app, 'node_modules/.bin/tsc'))).toBe(false);
  });

  it('starts from files it cannot write and leaves them unchanged', () => {
    const app = join(image.root, image.workdir);
    expect(statSync(join(app, 'dist/cli/main.js')).mode & 0o222).toBe(0);
    const before = listTree(image.root);
    const help = runImage(['--help']);
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('webhook');
    expect(help.stdout).toContain('watcher');
    expect(listTree(image.root)).toEqual(before);
  });
});
