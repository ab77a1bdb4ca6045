// Issue 11's GitOps fight, on the real API server: after the watcher rolls v2
// back, the same manifest re-applied (what Argo CD / Flux self-heal does, with
// client-side and server-side apply) is refused by the rollback-latch rule and
// v2 gets no request at all; a new v2 revision (a changed pod template) is
// admitted; once a member of the latch groups clears a latch with
// `bluegreen-guard ack`, the same manifest is admitted again. The timeline is printed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ROLLBACK_LATCH, ROLLBACK_LATCH_ACK } from '../../src/istio/annotations.js';
import { parseLatch } from '../../src/istio/rollback-latch.js';
import { ensureCliBuilt, runCli } from '../support/built-cli.js';
import { injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import { primaryWeightsOf, VS_API, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

const SRE = { name: 'sam', token: randomBytes(16).toString('hex'), groups: ['sre'] };
let stage: Stage;
let scene: Scene;
let sreKubeconfig: string;
const timeline: { atMs: number; what: string }[] = [];
const mark = (what: string): void => {
  timeline.push({ atMs: Date.now(), what });
};
const v2Requests = (): number => scene.mesh!.served().v2?.requests ?? 0;
const fullSwitch = (): string => scene.virtualService({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 });
const latchOf = async () => parseLatch((await scene.readVirtualService()).metadata.annotations?.[ROLLBACK_LATCH]);

let v2AtRollback = 0;

beforeAll(async () => {
  await ensureCliBuilt();
  stage = await startStage({ watchers: 1, users: [SRE], webhookConfig: { rules: { latchAckGroups: ['sre'] } } });
  await stage.cp.api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sre-cluster-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre' }],
  });
  sreKubeconfig = stage.cp.kubeconfigFor(SRE.token, SRE.name);
  scene = await stage.seed({ namespacePrefix: 'latch' });
}, 600_000);

afterAll(async () => {
  if (timeline.length > 0) {
    const t0 = timeline[0]!.atMs;
    console.log(`[rollback latch timeline]\n${timeline.map((e) => `  +${((e.atMs - t0) / 1000).toFixed(2).padStart(7)} s  ${e.what}`).join('\n')}`);
  }
  await stage?.stop();
}, 120_000);

describe('rollback latch: a rollback stays rolled back', () => {
  it('breach → rollback: the watcher records the failed revision (Deployment and pod-template-hash) on the VirtualService', async () => {
    await scene.cutOver();
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, {
      timeoutMs: 30_000,
      description: "Prometheus holding blue's requests",
    });
    mark('cutover to v2 (blue 100 %) admitted and served');
    const timing = await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    v2AtRollback = v2Requests();
    mark(`watcher rolled back to green 100 % (v2 has served ${v2AtRollback} requests)`);
    const hash = scene.v2!.replicaSet.metadata.labels?.['pod-template-hash'];
    const latch = parseLatch(timing.rolledBack.metadata.annotations?.[ROLLBACK_LATCH]);
    expect(latch).toMatchObject({ ok: true, entries: [{ subset: 'blue', revisions: [{ namespace: scene.namespace, workload: scene.v2!.name, podTemplateHash: hash }] }] });
    expect((latch.ok && latch.entries[0]?.reason) || '').toMatch(/error-rate/);
  });

  it('the same manifest re-applied with kubectl apply (client-side, as a GitOps self-heal does) is refused, saying when, why and the ways out', async () => {
    const r = await scene.apply(fullSwitch());
    mark(`kubectl apply -f (client-side) of the failed cutover: exit ${r.code}: ${r.stderr.trim()}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[rollback-latch]');
    expect(r.stderr).toMatch(/rolled that back at \d{4}-\d\d-\d\dT/);
    expect(r.stderr).toContain('error-rate');
    expect(r.stderr).toContain('deploy a new revision');
    expect(r.stderr).toContain(`bluegreen-guard ack ${scene.service} -n ${scene.namespace}`);
  });

  it('and with server-side apply (--server-side --force-conflicts, as Argo CD and Flux apply)', async () => {
    const r = await stage.cp.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=gitops-controller', '-f', '-'], { stdin: fullSwitch() });
    mark(`kubectl apply --server-side of the failed cutover: exit ${r.code}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[rollback-latch]');
  });

  it('removing the latch annotation is refused to a user outside the latch groups, and the re-applies left it in place', async () => {
    const r = await stage.cp.kubectl(['annotate', 'virtualservice', scene.service, '-n', scene.namespace, `${ROLLBACK_LATCH}-`]);
    mark(`kubectl annotate ${ROLLBACK_LATCH}- by admin (not in sre): exit ${r.code}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[rollback-latch]');
    expect(r.stderr).toContain('is in none of the groups');
    const ack = await runCli(['ack', scene.service, '-n', scene.namespace, '--reason', 'I think it is fine', '--kubeconfig', stage.cp.kubeconfigPath]);
    expect(ack.code).toBe(1);
    expect(ack.stderr).toContain('was refused');
    const vs = await scene.readVirtualService();
    expect(primaryWeightsOf(vs)).toEqual({ green: 100, blue: 0 });
    expect(await latchOf()).toMatchObject({ ok: true, entries: [{ subset: 'blue' }] });
  });

  it('v2 received zero requests between the rollback and the new revision', () => {
    expect(v2Requests()).toBe(v2AtRollback);
  });

  it('a new v2 revision (changed pod template) is admitted with the same manifest', async () => {
    scene.mesh!.setBehaviour('v2', { errorRatio: 0 });
    await scene.rollOutV2('example.com/reviews:v2-fixed');
    mark(`new v2 revision rolled out (pod-template-hash ${scene.v2!.replicaSet.metadata.labels?.['pod-template-hash']}); v2 served ${v2Requests()} requests so far`);
    expect(v2Requests()).toBe(v2AtRollback);
    // The webhook's pod cache sees the new pods a moment later: wait on a server-side dry run.
    await waitUntil(async () => (await scene.apply(fullSwitch(), { dryRun: true })).code === 0, { timeoutMs: 30_000, intervalMs: 250, description: 'the webhook admitting the new revision (dry run)' });
    const r = await scene.apply(fullSwitch());
    mark(`kubectl apply -f of the same manifest with the new revision: exit ${r.code}`);
    expect(r.code).toBe(0);
    await scene.mesh!.waitForShare('v2', 1, 30_000);
    mark('the mesh sends traffic to the new v2 revision');
  });

  it('a cleared latch admits the same manifest: bluegreen-guard ack by a member of the latch groups', async () => {
    // The new revision fails too: a second rollback latches it.
    await waitUntil(async () => (await stage.query(`sum(istio_requests_total{destination_service_namespace="${scene.namespace}", destination_version="v2"})`)).length > 0, { timeoutMs: 30_000, description: 'v2 scraped' });
    await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
    mark('second breach: the watcher rolled the new revision back');
    const newHash = scene.v2!.replicaSet.metadata.labels?.['pod-template-hash'];
    expect(await latchOf()).toMatchObject({ ok: true, entries: [{ subset: 'blue', revisions: [{ podTemplateHash: newHash }] }] });
    expect((await scene.apply(fullSwitch())).stderr).toContain('[rollback-latch]');

    const ack = await runCli(['ack', scene.service, '-n', scene.namespace, '--reason', 'fault was in a dependency, fixed there', '--kubeconfig', sreKubeconfig]);
    mark(`bluegreen-guard ack by sam (group sre): exit ${ack.code}`);
    expect(ack.stderr).toBe('');
    expect(ack.code).toBe(0);
    expect(ack.stdout).toContain('rollback latch cleared');
    const vs = await stage.cp.api.read(VS_API, 'VirtualService', scene.namespace, scene.service);
    expect(vs.metadata.annotations?.[ROLLBACK_LATCH]).toBeUndefined();
    expect(vs.metadata.annotations?.[ROLLBACK_LATCH_ACK]).toBe('fault was in a dependency, fixed there');

    scene.mesh!.setBehaviour('v2', { errorRatio: 0 });
    const r = await scene.apply(fullSwitch());
    mark(`kubectl apply -f of the same manifest after the clear: exit ${r.code}`);
    expect(r.stderr).not.toContain('[rollback-latch]');
    expect(r.code).toBe(0);
  });
});
