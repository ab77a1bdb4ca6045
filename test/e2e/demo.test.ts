// The README's main command, run as a user runs it (the program `npm run demo`
// execs after its set-up, in its quick form): all five steps shown, a real
// refusal and a real rollback, `--keep` leaves a cluster kubectl can talk to,
// and every process it started is gone after it exits, also when it is
// interrupted half-way. Processes are recognised by a marker in their
// environment, which every process the demo starts inherits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { REPO } from '../support/built-cli.js';
import { waitUntil } from '../support/wait-until.js';

const MARK_VARIABLE = 'BLUEGREEN_GUARD_DEMO_TEST_MARK';

interface DemoRun {
  child: ChildProcess;
  mark: string;
  output(): string;
  exited: Promise<number | null>;
}

const runs: DemoRun[] = [];

function startDemo(args: string[]): DemoRun {
  const mark = randomBytes(8).toString('hex');
  const child = spawn(join(REPO, 'node_modules', '.bin', 'node'), ['--import', './bench/ts-loader.ts', 'demo/run-demo.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, [MARK_VARIABLE]: mark },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (text += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (text += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const run = { child, mark, output: () => text, exited };
  runs.push(run);
  return run;
}

/** Processes whose environment carries this run's marker (the demo and everything it started). */
function markedProcesses(mark: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${MARK_VARIABLE}=${mark}`)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 120)}`);
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

async function waitForOutput(run: DemoRun, text: string, timeoutMs: number): Promise<void> {
  await waitUntil(
    () => {
      if (run.output().includes(text)) return true;
      if (run.child.exitCode !== null) throw new Error(`the demo exited (${run.child.exitCode}) before printing "${text}":\n${run.output()}`);
      return false;
    },
    { timeoutMs, intervalMs: 200, description: `the demo printing "${text}"` },
  );
}

afterEach(async () => {
  // A failed assertion must not leave a demo (and its cluster) running.
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  }
}, 60_000);

describe('npm run demo', () => {
  it('shows a refusal, the admitted runbook and the watcher rollback; --keep serves kubectl until Ctrl-C; nothing is left behind', async () => {
    const run = startDemo(['--quick', '--keep']);
    await waitForOutput(run, 'Step 1 ·', 300_000);
    // The marker is seen on the running cluster's processes, so its absence later means something.
    const whileRunning = markedProcesses(run.mark);
    expect(whileRunning.filter((p) => /kube-apiserver|etcd|prometheus|alertmanager|bluegreen-guard/.test(p)).length).toBeGreaterThanOrEqual(5);

    await waitForOutput(run, 'Ctrl-C stops everything', 300_000);
    const out = run.output();
    for (const heading of ['Step 1 · ', 'Step 2 · ', 'Step 3 · ', 'Step 4 · ', 'Step 5 · ']) expect(out).toContain(heading);
    expect(out).toMatch(/windows shortened/i);
    // Step 1: kubectl's own output, with the webhook's reason.
    expect(out).toMatch(/admission webhook "[^"]+" denied the request: .*\[subset-exists\]/s);
    expect(out).toMatch(/✓ refused\s+kubectl exit 1/);
    // Step 2: each runbook change admitted.
    expect(out).toContain('virtualservice.networking.istio.io/reviews configured');
    expect(out).toMatch(/✓ VirtualService\s+green 0, blue 100 admitted/);
    // Step 3 and 4: the rollback, its timeline, the alert, the summary.
    expect(out).toMatch(/✓ rolled back\s+\+\d+\.\d s after the fault: green 100, blue 0/);
    for (const entry of ['fault injected', 'breach condition true', 'rollback patched', 'verified', 'traffic back on v1']) expect(out).toContain(entry);
    expect(out).toMatch(/labels:\s+\{.*"alertname":"BlueGreenGuardRolledBack"/);
    expect(out).toMatch(/breach → traffic on v1\s+\d/);
    // The summary ends with the watcher's cutover report (the last-cutover annotation), as the plugin renders it.
    expect(out).toMatch(/✓ watcher\s+saw blue routed at 0 % at \d{4}-/);
    const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(out).toContain("Cutover report (the watcher's record of the cutover to blue), against the seed's expected timeline:");
    for (const step of ['deploy', 'ready', '0 %', 'canary', 'rolled back']) expect(out).toMatch(new RegExp(`\n {4}${step} +${iso}\n`));
    expect(out).toMatch(/\n {4}100 % +- +not reached: rolled back before\n/);
    expect(out).toMatch(/\n {4}deployment \(deploy → 100 %\) +not reached \(seed: 4m00s\)\n/);
    expect(out).toMatch(/\n {4}total \(deploy → rolled back\) +\S+ within the seed's ≤ 15m00s\n/);
    // Step 5: the GitOps re-apply refused by the latch, v2 untouched, the fixed revision admitted.
    expect(out).toMatch(/denied the request: .*\[rollback-latch\].*rolled that back at/s);
    expect(out).toMatch(/✓ v2 requests\s+0 since the rollback/);
    expect(out).toMatch(/✓ admitted\s+the same manifest with the fixed v2: green 0, blue 100/);

    // --keep: the printed kubectl command works against the kept cluster, the URLs answer.
    const tryLine = out.split('\n').find((l) => l.trim().startsWith('try '));
    expect(tryLine).toBeDefined();
    const [kubectl, ...kubectlArgs] = tryLine!.trim().replace(/^try\s+/, '').split(/\s+/);
    const listed = spawnSync(kubectl!, kubectlArgs, { encoding: 'utf8', timeout: 30_000 });
    expect({ status: listed.status, stderr: listed.stderr }).toEqual({ status: 0, stderr: '' });
    expect(listed.stdout).toMatch(/^shop-\S+\s+reviews\s/m);
    const prometheusUrl = /Prometheus\s+(http:\/\/\S+)/.exec(out)?.[1];
    expect((await fetch(`${prometheusUrl}/-/ready`)).status).toBe(200);
    const watcherMetrics = /watcher-0\s+metrics (http:\/\/\S+)/.exec(out)?.[1];
    expect(await (await fetch(watcherMetrics!)).text()).toMatch(/^bluegreen_guard_watcher_rollbacks_total\{outcome="rolled-back"\} 1$/m);
    const webhookMetrics = /webhook\s+https:\/\/\S+, metrics (http:\/\/\S+)/.exec(out)?.[1];
    expect(await (await fetch(webhookMetrics!)).text()).toMatch(/^bluegreen_guard_admission_reviews_total\{[^}]*outcome="denied"[^}]*\} [1-9]/m);

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('Stopped: no process left behind.');
    expect(markedProcesses(run.mark)).toEqual([]);
  }, 600_000);

  it('exits 1 when it shows no rollback (a watcher in dry run alerts instead of patching)', async () => {
    const run = startDemo(['--quick', '--watcher-dry-run']);
    const code = await run.exited;
    const out = run.output();
    expect({ code, tail: out.slice(-600) }).toEqual({ code: 1, tail: expect.stringContaining('✗ demo failed') as unknown });
    expect(out).toContain('Step 3 · ');
    expect(out).toMatch(/✗ no rollback\s+the VirtualService still sends traffic to v2/);
    expect(out).toMatch(/the watcher runs in dry run; it alerted instead: dry run: VirtualService \S+ would be rolled\s+back to green/);
    expect(out).not.toContain('Step 4 · ');
    expect(out).toContain('Stopped: no process left behind.');
    expect(markedProcesses(run.mark)).toEqual([]);
  }, 600_000);

  it('stops everything it started when interrupted while the cluster starts', async () => {
    const run = startDemo(['--quick']);
    await waitForOutput(run, '✓ control plane', 300_000);
    expect(markedProcesses(run.mark).some((p) => p.includes('kube-apiserver'))).toBe(true);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(130);
    expect(run.output()).toContain('SIGTERM: stopping everything the demo started');
    expect(markedProcesses(run.mark)).toEqual([]);
  }, 600_000);
});
