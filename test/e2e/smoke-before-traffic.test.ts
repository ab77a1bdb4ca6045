// The smoke test before traffic, through the whole loop on the real API
// server: while v2 (subset blue) is routed at 0 %, the watcher runs the smoke
// test against v2's pods (the VirtualService's bluegreen-guard.io/smoke-test-url,
// standing for a per-version Service) and records the outcome with the
// revision it tested; the webhook's smoke-passed rule (set to deny here) then
// refuses the cutover while that result is a failure, and admits it once the
// watcher has recorded a pass for the same revision.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SMOKE_RESULT, SMOKE_TEST_URL } from '../../src/istio/annotations.js';
import { parseSmokeRecords, type SmokeRecord } from '../../src/istio/smoke-result.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

let stage: Stage;
let scene: Scene;
let revision: string;

const blueRecord = async (): Promise<SmokeRecord | undefined> =>
  parseSmokeRecords((await scene.readVirtualService()).metadata.annotations?.[SMOKE_RESULT]).find((r) => r.subset === scene.candidateSubset);
const fullSwitch = (): string => scene.virtualService({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 });

beforeAll(async () => {
  stage = await startStage({ watchers: 1, webhookConfig: { rules: { modes: { 'smoke-passed': 'deny' } } } });
  scene = await stage.seed({ namespacePrefix: 'smoke' });
  revision = `${scene.namespace}/${scene.v2!.name}@${scene.v2!.replicaSet.metadata.labels?.['pod-template-hash'] ?? ''}`;
  // v2 is broken before anyone looks at it: every request it serves answers 503.
  scene.mesh!.setBehaviour('v2', { errorRatio: 1 });
  await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
  await scene.mustApply('VirtualService blue=0', scene.virtualService({ [scene.stableSubset]: 100, [scene.candidateSubset]: 0 }));
  const r = await stage.cp.kubectl(['annotate', 'virtualservice', scene.service, '-n', scene.namespace, `${SMOKE_TEST_URL}=${scene.mesh!.urlOf('v2')}/smoke/{{version}}`]);
  if (r.code !== 0) throw new Error(`annotating the smoke test URL failed: ${r.stderr}`);
  await scene.waitUntilScraped();
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

describe('smoke test before traffic: the watcher tests the candidate at 0 %, the webhook reads the result', () => {
  it('records a failed smoke test of v2 (at 0 %, no user traffic) with the revision it tested', async () => {
    const record = await waitUntil(async () => await blueRecord(), { timeoutMs: 60_000, intervalMs: 250, description: 'the watcher recording a smoke result for blue' });
    console.log(`[smoke before traffic] ${JSON.stringify(record)}`);
    expect(record).toMatchObject({ subset: scene.candidateSubset, version: 'v2', outcome: 'failed', revisions: [revision], url: `${scene.mesh!.urlOf('v2')}/smoke/v2` });
    expect(record.message).toMatch(/503/);
    // Only the smoke test reached v2: the mesh sends it no share at 0 %.
    expect(scene.mesh!.trafficShare().v2 ?? 0).toBe(0);
    expect(scene.mesh!.served().v2?.requests ?? 0).toBeGreaterThan(0);
  });

  it('refuses the cutover of that revision while its smoke test failed, with the command to run it', async () => {
    const r = await scene.apply(fullSwitch());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[smoke-passed]');
    expect(r.stderr).toContain('pre-traffic smoke test failed at');
    expect(r.stderr).toContain(`curl -fsS ${scene.mesh!.urlOf('v2')}/smoke/v2`);
    expect(scene.mesh!.trafficShare().v2 ?? 0).toBe(0);
  });

  it('admits it once v2 is fixed and the watcher has recorded a passing smoke test of the same revision', async () => {
    scene.mesh!.setBehaviour('v2', { errorRatio: 0 });
    // The watcher re-runs a candidate's smoke test at most once a minute.
    const passed = await waitUntil(async () => ((await blueRecord())?.outcome === 'passed' ? await blueRecord() : undefined), {
      timeoutMs: 120_000,
      intervalMs: 500,
      description: 'the watcher recording a passing smoke result for blue',
    });
    expect(passed).toMatchObject({ outcome: 'passed', revisions: [revision] });
    const r = await scene.apply(fullSwitch());
    expect({ code: r.code, smoke: r.stderr.includes('[smoke-passed]') }).toEqual({ code: 0, smoke: false });
  });
});
