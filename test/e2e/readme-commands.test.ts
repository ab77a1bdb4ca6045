// The README's two commands, in the order a new user runs them, in one clean
// copy of the tree: `npm run demo` (quick form) leaves transpiled files in
// .cache/bench-ts/, and the `npm test` that follows must not trip over them.
// The commands are read from the README's first code block, so a change there
// is what gets tested. The test command runs only the steps that read the whole
// tree (set-up, lint, type check, jest's test discovery): its test tiers would
// run this file again.
//
// The copy holds the files git knows (tracked, with their uncommitted edits,
// and new files not ignored), links node_modules to the repository's, and
// shares the control-plane binary cache (~/.cache/bluegreen-guard, or
// $BLUEGREEN_GUARD_CACHE), so nothing is installed or built from source.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { REPO } from '../support/built-cli.js';

const STEPS_VARIABLE = 'BLUEGREEN_GUARD_TEST_STEPS';
const WHOLE_TREE_STEPS = 'setup,lint,typecheck,list';

/** The commands of the README's first code block, comments and blank lines dropped. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const block = /^```(?:bash|sh|shell)?\n([\s\S]*?)^```/m.exec(readme);
  if (!block) throw new Error('README.md has no code block');
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A copy of the tree as git sees it, with the repository's node_modules linked in. */
function copyTree(): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'bgg-readme-commands-')));
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  const files = [...new Set(listed.stdout.split('\0').filter((f) => f !== '' && f !== 'node_modules'))];
  for (const file of files) {
    const from = join(REPO, file);
    if (!existsSync(from)) continue; // deleted in the work tree
    mkdirSync(dirname(join(root, file)), { recursive: true });
    copyFileSync(from, join(root, file));
    const { atime, mtime, mode } = statSync(from);
    utimesSync(join(root, file), atime, mtime);
    if (mode & 0o111) spawnSync('chmod', ['+x', join(root, file)]);
  }
  const modules = realpathSync(join(REPO, 'node_modules'));
  symlinkSync(modules, join(root, 'node_modules'));
  // The set-up reinstalls npm packages when package-lock.json is newer than
  // the installed tree; a copy's file is always newer than a shared install,
  // and this test uses the repository's packages as they are.
  const installed = statSync(join(modules, '.package-lock.json')).mtime;
  if (statSync(join(root, 'package-lock.json')).mtime > installed) utimesSync(join(root, 'package-lock.json'), installed, installed);
  return root;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

/** Test files in a `jest --listTests` output, relative to root. */
function listedTests(output: string, root: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith(`${root}/`))
    .map((line) => relative(root, line))
    .sort();
}

let copy: string | undefined;

afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe("the README's commands, in order, in one clean copy", () => {
  it('npm run demo leaves .cache/bench-ts, and npm test then lints, type checks and finds the same tests as the repository', async () => {
    const commands = readmeCommands();
    expect(commands).toHaveLength(2);
    const [demo, test] = commands as [string, string];
    expect(demo).toMatch(/^npm run demo\b/);
    expect(test).toMatch(/^npm (run )?test\b/);

    copy = copyTree();
    expect(existsSync(join(copy, '.cache'))).toBe(false);

    const demoRun = await run(`${demo} -- --quick`, copy);
    expect({ code: demoRun.code, tail: demoRun.stderr.slice(-2000) + demoRun.stdout.slice(-2000) }).toEqual({ code: 0, tail: expect.any(String) as unknown });
    expect(demoRun.stdout + demoRun.stderr).toContain('Step 5 · ');
    // The pollution this test is about exists, so the next step's passing means something.
    expect(existsSync(join(copy, '.cache', 'bench-ts'))).toBe(true);
    expect(statSync(join(copy, '.cache', 'bench-ts')).isDirectory()).toBe(true);
    expect(existsSync(join(copy, 'dist'))).toBe(true);

    const testRun = await run(test, copy, { [STEPS_VARIABLE]: WHOLE_TREE_STEPS });
    const output = testRun.stdout + testRun.stderr;
    expect({ code: testRun.code, tail: output.slice(-4000) }).toEqual({ code: 0, tail: expect.any(String) as unknown });
    expect(output).not.toContain('installing npm packages');
    for (const step of ['[test] lint', '[test] type check', '[test] the test files jest finds']) expect(output).toContain(step);
    expect(output).not.toContain('[test] unit, integration and end-to-end tests');

    const inCopy = listedTests(testRun.stdout, copy);
    expect(inCopy.filter((f) => f.startsWith('.cache/') || f.startsWith('dist/'))).toEqual([]);
    const inRepo = spawnSync(join(REPO, 'node_modules', '.bin', 'node'), ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--listTests'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(inRepo.status).toBe(0);
    const repoTests = listedTests(inRepo.stdout, REPO);
    expect(repoTests.length).toBeGreaterThan(0);
    expect(inCopy.length).toBe(repoTests.length);
    expect(inCopy).toEqual(repoTests);
    expect(inCopy).toContain('test/e2e/readme-commands.test.ts');
  }, 1_800_000);
});
