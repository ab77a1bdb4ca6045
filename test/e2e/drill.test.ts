// Failover drills on the real API server, webhook, watcher, Prometheus and
// Alertmanager. The watcher's drill schedule is a per-second node-cron
// expression (every 5 s): nothing is drilled before the VirtualService opts
// in; once it does, the leader raises blue to 1 % (a write the webhook
// judges), rolls back, sees the traffic move in Prometheus both ways, tells
// Alertmanager and restores the weights, and reports in an Event, the
// metrics and the object. `kubectl bluegreen drill` asks for one and prints
// its report.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ensureCliBuilt, REPO } from '../support/built-cli.js';
import { DRILL, DRILL_REPORT } from '../../src/istio/annotations.js';
import type { DrillReport } from '../../src/watcher/drill.js';
import { primaryWeightsOf, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

let stage: Stage;
let scene: Scene;

beforeAll(async () => {
  await ensureCliBuilt();
  stage = await startStage({ watchers: 1, watcherConfig: { drills: { schedule: '*/5 * * * * *', trafficTimeoutSeconds: 30 } } });
  scene = await stage.seed({ namespacePrefix: 'drill' });
  await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
  await scene.mustApply('VirtualService blue=0', scene.virtualService({ green: 100, blue: 0 }));
  await scene.waitUntilScraped();
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

/** `kubectl bluegreen ARGS` with bin/ on PATH and the admin KUBECONFIG, as a user's shell has them. */
function kubectlBluegreen(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(stage.cp.binDir, 'kubectl'), ['bluegreen', ...args], { env: { ...process.env, PATH: `${join(REPO, 'bin')}:${process.env.PATH ?? ''}`, KUBECONFIG: stage.cp.kubeconfigPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const drillEvents = async () => (await scene.events()).filter((e) => /^Drill/.test(e.reason ?? ''));

describe('scheduled failover drills', () => {
  it('never drill a VirtualService that has not opted in', async () => {
    const watcher = stage.watchers[0]!;
    await waitUntil(async () => ((await stage.metric(watcher.name, 'bluegreen_guard_drill_scheduled_runs_total')) >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 500,
      description: 'two scheduled drill runs as leader',
    });
    expect(await stage.metric(watcher.name, 'bluegreen_guard_drill_opted_in_virtualservices')).toBe(0);
    expect(await drillEvents()).toEqual([]);
    expect(primaryWeightsOf(await scene.readVirtualService())).toEqual({ green: 100, blue: 0 });
  });

  it('once opted in: raised, rolled back, traffic seen both ways, alert taken, weights restored, reported', async () => {
    const r = await stage.cp.kubectl(['annotate', 'virtualservice', scene.service, '-n', scene.namespace, `${DRILL}=enabled`]);
    expect(r.code).toBe(0);
    const event = await waitUntil(async () => (await drillEvents()).find((e) => e.reason === 'DrillPassed' || e.reason === 'DrillFailed' || e.reason === 'DrillRefused'), {
      timeoutMs: 120_000,
      intervalMs: 500,
      description: 'the first drill Event',
    });
    console.log(`[drill Event] ${event.reason}: ${event.message}`);
    expect(event.reason).toBe('DrillPassed');
    const vs = await scene.readVirtualService();
    const report = JSON.parse((vs.metadata as { annotations?: Record<string, string> }).annotations?.[DRILL_REPORT] ?? '{}') as DrillReport;
    expect(report).toMatchObject({ outcome: 'passed', trigger: 'schedule', stableSubset: 'green', candidateSubset: 'blue', alertDelivered: true });
    expect(report.times.trafficToCandidate).not.toBeNull();
    expect(report.rollbackSeconds).toBeLessThan(120);
    expect(primaryWeightsOf(vs)).toEqual({ green: 100, blue: 0 });
    const alert = (await stage.alerts()).find((a) => a.labels.alertname === 'BlueGreenGuardDrillRollback' && a.labels.namespace === scene.namespace);
    expect(alert?.labels.drill).toBe(report.id);
    expect(await stage.metric(stage.watchers[0]!.name, 'bluegreen_guard_drill_duration_seconds_count', { outcome: 'passed' })).toBeGreaterThanOrEqual(1);
  });

  it('kubectl bluegreen drill NAME asks the leader for a drill and prints its report', async () => {
    const r = await kubectlBluegreen(['drill', scene.service, '-n', scene.namespace, '--timeout', '2m']);
    console.log(`[kubectl bluegreen drill]\n${r.stdout}${r.stderr}`);
    expect(r.stderr).toContain('drill requested on');
    expect(r.stdout).toMatch(/^Drill: {7}\S+ \(on request\): PASSED$/m);
    expect(r.stdout).toMatch(/rollback \d+\.\d s against the runbook's 120 s: within/);
    expect(r.code).toBe(0);
    expect(primaryWeightsOf(await scene.readVirtualService())).toEqual({ green: 100, blue: 0 });
  });
});
