// `kubectl bluegreen …` as an on-call engineer types it: kubectl (built beside
// the test API server) finds bin/kubectl-bluegreen on PATH and runs it with the
// user's KUBECONFIG. Against the stage (webhook, watcher, Prometheus): list and
// status through a live cutover (canary, full traffic with the hold), promote
// refused before the hold, a manual rollback recorded with who did it, the
// watcher's automatic rollback with its latch, `ack` clearing it, `--watch`
// with its exit codes, and the errors for no cluster, no RBAC, not guarded.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { LAST_CUTOVER, ROLLED_BACK_AT, ROLLBACK_LATCH, ROLLBACK_LATCH_ACK, ROLLBACK_REASON, ZERO_PERCENT_AT } from '../../src/istio/annotations.js';
import { ensureCliBuilt, REPO } from '../support/built-cli.js';
import { freePort } from '../support/free-port.js';
import { injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import { primaryWeightsOf, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';
import type { KubeObject } from '../support/kube-api.js';

jest.setTimeout(240_000);

const SRE = { name: 'sam', token: randomBytes(16).toString('hex'), groups: ['sre'] };
const NOBODY = { name: 'nobody', token: randomBytes(16).toString('hex'), groups: [] as string[] };
let stage: Stage;
let scene: Scene;
let sreKubeconfig: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `kubectl bluegreen ARGS` with bin/ on PATH and KUBECONFIG set, as a user's shell has them. */
function kubectlBluegreen(args: string[], kubeconfig = sreKubeconfig): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(stage.cp.binDir, 'kubectl'), ['bluegreen', ...args], {
      env: { ...process.env, PATH: `${join(REPO, 'bin')}:${process.env.PATH ?? ''}`, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const ns = () => ['-n', scene.namespace];
const statusJson = async (extra: string[] = []) => {
  const r = await kubectlBluegreen(['status', scene.service, ...ns(), '-o', 'json', ...extra]);
  return { ...r, status: JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown> };
};

/** The hold at full traffic: short, so a cutover's hold passes within the test. */
const HOLD_SECONDS = 15;

/** The finished cutover the watcher recorded (`last-cutover`), its times in milliseconds. */
function lastCutoverOf(vs: KubeObject): { outcome: string; candidate: string; times: Record<string, number | undefined> } {
  const raw = vs.metadata.annotations?.[LAST_CUTOVER];
  if (raw === undefined) throw new Error(`${LAST_CUTOVER} is not recorded: ${JSON.stringify(vs.metadata.annotations)}`);
  const o = JSON.parse(raw) as Record<string, string | undefined>;
  const ms = (v: string | undefined) => (v === undefined ? undefined : Date.parse(v));
  return {
    outcome: o.outcome ?? '',
    candidate: o.candidate ?? '',
    times: { deploy: ms(o.deployedAt), ready: ms(o.readyAt), zero: ms(o.zeroPercentAt), canary: ms(o.canaryAt), full: ms(o.fullTrafficAt), end: ms(o.endedAt) },
  };
}

/** Waits until the watcher records the 0 % step of the next cutover (after the last one ended). */
async function awaitZeroPercentAfter(endedAtMs: number): Promise<number> {
  return waitUntil(
    async () => {
      const at = (await scene.readVirtualService()).metadata.annotations?.[ZERO_PERCENT_AT];
      return at !== undefined && Date.parse(at) >= endedAtMs ? Date.parse(at) : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, description: `the watcher recording ${ZERO_PERCENT_AT} after ${new Date(endedAtMs).toISOString()}` },
  );
}

/** The scene's VirtualService with the testers' route on blue too: all of the traffic on the candidate. */
function fullTrafficVirtualService(): string {
  const doc = parse(scene.virtualService({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 })) as { spec: { http: { name: string; route: { destination: { subset: string } }[] }[] } };
  for (const d of doc.spec.http.find((r) => r.name === 'testers')!.route) d.destination.subset = scene.candidateSubset;
  return stringify(doc);
}

beforeAll(async () => {
  await ensureCliBuilt();
  stage = await startStage({ watchers: 1, users: [SRE, NOBODY], watcherConfig: { holdSeconds: HOLD_SECONDS }, webhookConfig: { rules: { latchAckGroups: ['sre'] } } });
  await stage.cp.api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sre-cluster-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre' }],
  });
  sreKubeconfig = stage.cp.kubeconfigFor(SRE.token, SRE.name);
  scene = await stage.seed({ namespacePrefix: 'plugin' });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

describe('kubectl bluegreen against a live cutover', () => {
  it('list and status of an idle guarded service: Stable, exit 0', async () => {
    const list = await kubectlBluegreen(['list', ...ns()]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${scene.namespace}\\s+${scene.service}\\s+Stable\\s+green=100`));
    const all = await kubectlBluegreen(['list', '-A']);
    expect(all.stdout).toContain(scene.namespace);
    const r = await kubectlBluegreen(['status', scene.service, ...ns()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Phase:       Stable on green');
    expect(r.code).toBe(0);
  });

  it('a 10 % canary: phase, weights per route, the rules against their thresholds and a trend; promote is refused', async () => {
    await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
    await scene.mustApply('VirtualService blue=0', scene.virtualService({ green: 100, blue: 0 }));
    await scene.waitUntilScraped();
    await scene.mustApply('VirtualService blue=10', scene.virtualService({ green: 90, blue: 10 }));
    await scene.mesh!.waitForShare('v2', 0.1, 30_000);
    // Until a whole rate window of the canary's own traffic is in Prometheus the rules have no data, and
    // status rightly says Blind: wait for that, then read the canary.
    const { code, status } = await waitUntil(
      async () => {
        const r = await statusJson(['--prometheus', stage.prometheus.url]);
        return r.status.phase !== 'Blind' ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: 'status judging the canary from Prometheus (not Blind)' },
    );
    expect(status).toMatchObject({ phase: 'Canary', canaryPercent: 10, candidate: 'blue', stableSubset: 'green' });
    expect(status.weights).toEqual(expect.arrayContaining([{ route: 'http[1] "primary"', weights: { green: 90, blue: 10 } }]));
    const rules = status.rules as { rule: string; status: string; threshold: number | null }[];
    expect(rules.find((r) => r.rule === 'error-rate')).toMatchObject({ threshold: 0.05 });
    expect(rules.map((r) => r.rule)).toContain('latency-p99');
    expect(code).toBe(0);
    const text = await kubectlBluegreen(['status', scene.service, ...ns(), '--prometheus', stage.prometheus.url]);
    console.log(`[kubectl bluegreen status, canary]\n${text.stdout}`);
    expect(text.stdout).toMatch(/Trend: {7}5xx ratio [▁▂▃▄▅▆▇█·]+ {3}p99 [▁▂▃▄▅▆▇█·]+/);
    // The report of the cutover under way: measured so far, the monitoring window still to begin.
    expect(text.stdout).toContain("Timeline of this cutover to blue, against the seed's:");
    expect(text.stdout).toMatch(/\n {2}canary +\d{4}-\d\d-\d\dT[\d:.]+Z\n {2}100 % +- +not yet\n {2}hold passed +- +not yet\n/);
    expect(text.stdout).toMatch(/\n {2}deployment \(deploy → 100 %\) +\S+ so far \(seed: 4m00s\)\n {2}monitoring window \(100 % → hold passed\) +not yet \(seed: 10m00s\)\n/);
    const promote = await kubectlBluegreen(['promote', scene.service, ...ns()]);
    expect(promote.code).toBe(3);
    expect(promote.stderr).toContain('is not at full traffic');
  });

  it('--watch --timeout ends with exit 2 while the cutover is still under way', async () => {
    const r = await kubectlBluegreen(['status', scene.service, ...ns(), '--watch', '--timeout', '3s']);
    expect(r.stderr).toContain('still Canary after --timeout 3s');
    expect(r.code).toBe(2);
  });

  it('blue=100 on the primary route while testers stay pinned to green: still a cutover for the watcher, so promote is refused', async () => {
    await scene.mustApply('VirtualService blue=100', scene.virtualService({ green: 0, blue: 100 }));
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    // The scene's header-matched "testers" route sends green 100 %: the stable subset still gets traffic,
    // so the watcher's model (and its hold) never reaches full traffic here. The hold countdown is a unit test.
    const { status } = await statusJson();
    expect(status).toMatchObject({ phase: 'Canary', canaryPercent: 100, summary: 'Canary 100 % on blue' });
    console.log(`[kubectl bluegreen list]\n${(await kubectlBluegreen(['list', ...ns()])).stdout}`);
    const promote = await kubectlBluegreen(['promote', scene.service, ...ns()]);
    expect(promote.code).toBe(3);
    expect(promote.stderr).toContain('is not at full traffic on a candidate (phase cutover)');
  });

  it('rollback NAME: weights back to green, verified, recorded with who did it; status then exits 1', async () => {
    const r = await kubectlBluegreen(['rollback', scene.service, ...ns(), '--reason', 'customer reports']);
    expect(r.stderr).toBe('');
    console.log(`[kubectl bluegreen rollback]\n${r.stdout}`);
    expect(r.stdout).toContain('rolled back to green and verified');
    expect(r.code).toBe(0);
    const vs = await scene.readVirtualService();
    expect(primaryWeightsOf(vs)).toEqual({ green: 100, blue: 0 });
    expect(vs.metadata.annotations?.[ROLLBACK_REASON]).toBe('manual rollback by sam: customer reports');
    const events = await scene.events();
    expect(events.filter((e) => e.reason === 'RolledBack').map((e) => e.message)).toEqual([expect.stringContaining('by hand (manual rollback by sam: customer reports)')]);
    const status = await kubectlBluegreen(['status', scene.service, ...ns()]);
    expect(status.stdout).toContain('Phase:       RolledBack to green: manual rollback by sam: customer reports');
    expect(status.stdout).toMatch(/Events:\n(.*\n)*.*RolledBack/);
    // The cutover ended by hand has its report, as one the watcher ends.
    const last = lastCutoverOf(vs);
    expect(last).toMatchObject({ outcome: 'rolled-back', candidate: 'blue' });
    expect(last.times.end).toBe(Date.parse(vs.metadata.annotations?.[ROLLED_BACK_AT] ?? ''));
    expect(status.stdout).toContain("Timeline of the last cutover (rolled back) to blue, against the seed's:");
    expect(events.find((e) => e.reason === 'RolledBack')?.message).toMatch(/Against the seed's timeline: /);
    expect(status.code).toBe(1);
    const watched = await kubectlBluegreen(['status', scene.service, ...ns(), '--watch', '--timeout', '30s']);
    expect(watched.code).toBe(1);
  });

  it("the watcher's rollback leaves a latch that status shows and ack clears with a reason; the cutover report says how it went", async () => {
    // The manual rollback above ended the last cutover: the next one's 0 % step is recorded before its traffic.
    const manualRollbackAt = Date.parse((await scene.readVirtualService()).metadata.annotations?.[ROLLED_BACK_AT] ?? '');
    await awaitZeroPercentAfter(Number.isFinite(manualRollbackAt) ? manualRollbackAt : 0);
    await scene.mustApply('VirtualService blue=100 again', scene.virtualService({ green: 0, blue: 100 }));
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, {
      timeoutMs: 30_000,
      description: "Prometheus holding blue's requests",
    });
    await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    const status = await kubectlBluegreen(['status', scene.service, ...ns()]);
    expect(status.stdout).toMatch(/Phase: {7}RolledBack to green: .*error-rate/);
    console.log(`[kubectl bluegreen status, after the watcher's rollback]\n${status.stdout}`);
    // The report of the rolled-back cutover: recorded steps in order, 100 % never reached, against the seed's figures.
    const last = lastCutoverOf(await scene.readVirtualService());
    expect(last).toMatchObject({ outcome: 'rolled-back', candidate: 'blue' });
    const { deploy, ready, zero, canary, full, end } = last.times;
    expect([deploy, ready, zero, canary, end].every((t) => t !== undefined && Number.isFinite(t))).toBe(true);
    expect(deploy! <= ready! && ready! <= zero! && zero! <= canary! && canary! <= end!).toBe(true);
    expect(full).toBeUndefined();
    const rolledBack = (await scene.events()).filter((e) => e.reason === 'RolledBack' && e.message.includes('error-rate'));
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0]!.message).toMatch(/timeline \(UTC\): deploy \d\d:\d\d:\d\d, ready \d\d:\d\d:\d\d, 0 % \d\d:\d\d:\d\d, canary \d\d:\d\d:\d\d, 100 % not reached, rolled back \d\d:\d\d:\d\d\./);
    expect(rolledBack[0]!.message).toMatch(/Against the seed's timeline: deployment not reached \(seed: 4m00s\); monitoring window not reached \(seed: 10m00s\); total \S+ (within the seed's|over the seed's) ≤ 15m00s/);
    expect(status.stdout).toContain("Timeline of the last cutover (rolled back) to blue, against the seed's:");
    expect(status.stdout).toMatch(/ {2}100 % +- +not reached: rolled back before\n/);
    expect(status.stdout).toMatch(/ {2}rolled back +\d{4}-\d\d-\d\dT/);
    const json = await statusJson();
    expect(json.status.report).toMatchObject({ candidate: 'blue', outcome: 'rolled-back' });
    expect((json.status.report as { durations: { name: string; mark: string }[] }).durations.map((d) => [d.name, d.mark])).toEqual([
      ['deployment', 'not reached'],
      ['monitoring window', 'not reached'],
      ['total', expect.stringMatching(/^(within|over)$/)],
    ]);
    expect(status.stdout).toMatch(/Latch: {7}blue \(.*\) since .*kubectl bluegreen ack/);
    expect(status.code).toBe(1);
    const noReason = await kubectlBluegreen(['ack', scene.service, ...ns()]);
    expect(noReason.code).toBe(3);
    expect(noReason.stderr).toContain('a reason is required');
    const ack = await kubectlBluegreen(['ack', scene.service, ...ns(), '--reason', 'fixed in v2.1']);
    expect(ack.stderr).toBe('');
    expect(ack.stdout).toContain('rollback latch cleared (blue since');
    expect(ack.code).toBe(0);
    const vs = await scene.readVirtualService();
    expect(vs.metadata.annotations?.[ROLLBACK_LATCH]).toBeUndefined();
    expect(vs.metadata.annotations?.[ROLLBACK_LATCH_ACK]).toBe('fixed in v2.1');
  });

  it("a cutover to 100 % whose hold passes: the CutoverStable Event and status report its timeline against the seed's", async () => {
    scene.mesh!.setBehaviour('v2', { errorRatio: 0 });
    const rolledBackAt = lastCutoverOf(await scene.readVirtualService()).times.end!;
    await awaitZeroPercentAfter(rolledBackAt);
    await scene.mustApply('VirtualService blue=100 on every route', fullTrafficVirtualService());
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    const stable = await waitUntil(async () => (await scene.events()).find((e) => e.reason === 'CutoverStable'), {
      timeoutMs: 120_000,
      intervalMs: 500,
      description: `the watcher confirming blue after its ${HOLD_SECONDS} s hold at full traffic`,
    });
    const last = lastCutoverOf(await scene.readVirtualService());
    expect(last).toMatchObject({ outcome: 'hold-passed', candidate: 'blue' });
    const { deploy, ready, zero, canary, full, end } = last.times;
    expect([deploy, ready, zero, canary, full, end].every((t) => t !== undefined && Number.isFinite(t))).toBe(true);
    expect(deploy! <= ready! && ready! <= zero! && zero! <= canary! && canary! <= full! && full! <= end!).toBe(true);
    expect(zero!).toBeGreaterThanOrEqual(rolledBackAt);
    expect(end! - full!).toBeGreaterThanOrEqual(HOLD_SECONDS * 1000);
    expect(stable.message).toMatch(new RegExp(`^no breach for ${HOLD_SECONDS} s at full traffic: blue is now the stable subset, green the next candidate\\. timeline \\(UTC\\): deploy \\d\\d:\\d\\d:\\d\\d, ready \\d\\d:\\d\\d:\\d\\d, 0 % \\d\\d:\\d\\d:\\d\\d, canary \\d\\d:\\d\\d:\\d\\d, 100 % \\d\\d:\\d\\d:\\d\\d, hold passed \\d\\d:\\d\\d:\\d\\d\\.`));
    expect(stable.message).toMatch(/Against the seed's timeline: deployment \S+ (within the seed's|over the seed's) 4m00s.*; monitoring window \d+s within the seed's 10m00s; total \S+ (within the seed's|over the seed's) ≤ 15m00s/);
    const text = await kubectlBluegreen(['status', scene.service, ...ns()]);
    console.log(`[kubectl bluegreen status, after the hold passed]\n${text.stdout}`);
    expect(text.stdout).toContain('Phase:       Stable on blue');
    expect(text.stdout).toContain("Timeline of the last cutover (hold passed) to blue, against the seed's:");
    for (const step of ['deploy', 'ready', '0 %', 'canary', '100 %', 'hold passed']) expect(text.stdout).toMatch(new RegExp(`\n  ${step} +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\n`));
    expect(text.stdout).toMatch(/\n {2}monitoring window \(100 % → hold passed\) +\d+s within the seed's 10m00s\n/);
    expect(text.code).toBe(0);
    const json = await statusJson();
    const report = json.status.report as { outcome: string; steps: { step: string; at?: string }[]; durations: { name: string; seconds: number; expectedSeconds: number }[] };
    expect(report.outcome).toBe('hold-passed');
    expect(report.steps.map((s) => [s.step, s.at])).toEqual(['deploy', 'ready', '0 %', 'canary', '100 %', 'hold passed'].map((s) => [s, expect.stringMatching(/^\d{4}-/)]));
    expect(report.durations.map((d) => [d.name, d.expectedSeconds])).toEqual([['deployment', 240], ['monitoring window', 600], ['total', 900]]);
    expect(report.durations[1]!.seconds).toBe(Math.round((end! - full!) / 1000));
  });

  it('drill refuses a VirtualService that has not opted in, and names the fix', async () => {
    const r = await kubectlBluegreen(['drill', scene.service, ...ns()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`is not opted in for failover drills; fix: kubectl annotate virtualservice ${scene.service} -n ${scene.namespace} bluegreen-guard.io/drill=enabled`);
  });
});

describe('kubectl bluegreen errors name the object and the fix', () => {
  it('not guarded', async () => {
    const namespace = await stage.cp.newNamespace('unguarded', { guard: false });
    await stage.cp.kubectl(['apply', '-f', '-'], {
      stdin: JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace }, spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] } }),
    });
    const r = await kubectlBluegreen(['status', 'web', '-n', namespace]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`VirtualService ${namespace}/web is not guarded by bluegreen-guard; fix: kubectl label namespace ${namespace} bluegreen-guard.io/guard=enabled`);
  });

  it('no RBAC', async () => {
    const r = await kubectlBluegreen(['status', scene.service, ...ns()], stage.cp.kubeconfigFor(NOBODY.token, NOBODY.name));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`no RBAC: you may not get VirtualService ${scene.namespace}/${scene.service}`);
  });

  it('no such VirtualService', async () => {
    const r = await kubectlBluegreen(['status', 'missing', ...ns()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`VirtualService ${scene.namespace}/missing not found`);
  });

  it('no cluster: no kubeconfig, or an API server that does not answer', async () => {
    const missing = await kubectlBluegreen(['status', scene.service, ...ns(), '--kubeconfig', join(stage.workDir, 'missing-kubeconfig')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('cannot load the kubeconfig');
    const down = join(stage.workDir, 'down-kubeconfig');
    writeFileSync(down, readFileSync(sreKubeconfig, 'utf8').replace(/server: \S+/, `server: https://127.0.0.1:${await freePort()}`));
    const r = await kubectlBluegreen(['status', scene.service, ...ns(), '--kubeconfig', down]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no cluster: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ to get VirtualService/);
  });
});
