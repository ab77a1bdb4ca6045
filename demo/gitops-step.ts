// Step 5 of the demo: what a GitOps controller does after the rollback. Its
// self-heal re-applies the failed cutover from Git; the rollback latch refuses
// it (the controller would show a sync error) and v2 gets no request. Then the
// fix: a new v2 revision (a changed pod template) with the same VirtualService
// manifest, admitted.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROLLBACK_LATCH } from '../src/istio/annotations.js';
import { describeRevision, parseLatch } from '../src/istio/rollback-latch.js';
import type { Stage } from '../test/support/stage.js';
import type { Scene } from '../test/support/stage-scene.js';
import { waitUntil } from '../test/support/wait-until.js';
import type { DemoConsole } from './console.js';
import { trimPatchDump } from './kubectl-output.js';
import { DemoFailure, describeWeights } from './story.js';

const FULL_SWITCH_FILE = 'vs-blue-100.yaml';

export async function reapplyAsGitOpsThenFix(stage: Stage, scene: Scene, out: DemoConsole, v2RequestsAtRollback: number): Promise<void> {
  out.heading('Step 5 · A GitOps controller re-applies the failed manifest: refused; a fixed v2 goes through');
  const mesh = scene.mesh;
  if (!mesh) throw new Error(`the scene in ${scene.namespace} runs no mesh simulator`);
  const latch = parseLatch((await scene.readVirtualService()).metadata.annotations?.[ROLLBACK_LATCH]);
  const revisions = latch.ok ? latch.entries.flatMap((e) => e.revisions.map(describeRevision)) : [];
  out.line(`the rollback latched ${revisions.length > 0 ? revisions.join(', ') : 'subset ' + scene.candidateSubset} (annotation ${ROLLBACK_LATCH})`);
  const manifest = scene.virtualService({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 });
  const dir = join(stage.workDir, 'manifests');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, FULL_SWITCH_FILE);
  writeFileSync(path, manifest);

  out.line('self-heal re-applies the manifest from Git, as Argo CD or Flux would:');
  out.line(`$ kubectl apply -f ${FULL_SWITCH_FILE}`);
  const refused = await stage.cp.kubectl(['apply', '-f', path]);
  out.quote(trimPatchDump(refused.stderr || refused.stdout));
  if (refused.code === 0 || !refused.stderr.includes('[rollback-latch]')) {
    throw new DemoFailure(`the re-applied failed cutover was not refused by rollback-latch (kubectl exit ${refused.code}); see its output above`);
  }
  out.ok('refused', `kubectl exit ${refused.code}: the controller sees a sync error; still ${describeWeights(await scene.primaryWeights())}`);
  out.line(`$ kubectl apply --server-side --force-conflicts -f ${FULL_SWITCH_FILE}`);
  const serverSide = await stage.cp.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=gitops-controller', '-f', path]);
  if (serverSide.code === 0) throw new DemoFailure('the server-side re-apply of the failed cutover was admitted');
  out.ok('refused', `server-side apply too (kubectl exit ${serverSide.code})`);

  out.line('the fix: a new v2 image, so its pods get a new pod-template-hash (kubectl set image, as a commit to Git would)');
  mesh.setBehaviour('v2', { errorRatio: 0 });
  const v2 = await scene.rollOutV2('example.com/reviews:v2-fixed');
  out.ok('v2 revision', `${v2.replicaSet.metadata.name}: ${v2.pods.length}/${v2.pods.length} pods Ready`);
  const v2Between = (mesh.served().v2?.requests ?? 0) - v2RequestsAtRollback;
  if (v2Between !== 0) throw new DemoFailure(`v2 served ${v2Between} requests between the rollback and the new revision`);
  out.ok('v2 requests', `0 since the rollback (still ${v2RequestsAtRollback} in all): the failed revision got no traffic back`);
  // The webhook's caches see the new pods a moment later.
  await waitUntil(async () => (await scene.apply(manifest, { dryRun: true })).code === 0, { timeoutMs: 30_000, intervalMs: 250, description: 'the webhook admitting the fixed revision (dry run)' }).catch(
    (error: unknown) => {
      throw new DemoFailure(error instanceof Error ? error.message : String(error));
    },
  );
  out.line(`$ kubectl apply -f ${FULL_SWITCH_FILE}`);
  const admitted = await stage.cp.kubectl(['apply', '-f', path]);
  out.quote(trimPatchDump(`${admitted.stderr}${admitted.stdout}`));
  if (admitted.code !== 0) throw new DemoFailure(`the same manifest with the fixed v2 was refused (kubectl exit ${admitted.code}); see the message above`);
  await mesh.waitForShare('v2', 1, 15_000);
  out.ok('admitted', `the same manifest with the fixed v2: ${describeWeights(await scene.primaryWeights())}, the mesh sends 100 % to v2`);
}
