// The checklist lines that live in object status, on a real `kubectl apply`
// through the real API server and the webhook process (chart RBAC, TLS):
// - "Schema migrations applied before deployment": v2's migration Job running →
//   the canary step is refused (jobs); its status written Complete → admitted.
// - "All secrets and configmaps mounted correctly in v2 pods": a v2 pod whose
//   status says CreateContainerConfigError → refused, and the message says why.
// No controller or kubelet runs here, so the test writes the Job's and the
// pod's status through the API, as the job controller and the kubelet would.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeObject } from '../support/kube-api.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(180_000);

let stage: Stage;

beforeAll(async () => {
  stage = await startStage({ watchers: 0 });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

/** Blue into the primary route at 1%: the canary step. */
const canary = (scene: Scene) => scene.virtualService({ [scene.stableSubset]: 99, [scene.candidateSubset]: 1 });

/** Ready for the canary step: DestinationRule with both subsets, blue at 0%, v2 scraped. */
async function blueAtZero(scene: Scene): Promise<void> {
  await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
  await scene.mustApply('VirtualService blue=0', scene.virtualService({ [scene.stableSubset]: 100, [scene.candidateSubset]: 0 }));
  await scene.waitUntilScraped();
}

/** The dry run until the webhook's caches have seen the change and refuse it for `rule`; then the real apply, refused the same way. */
async function refusedOnceSeen(scene: Scene, manifest: string, rule: string, message: RegExp): Promise<string> {
  const dry = await waitUntil(
    async () => {
      const r = await scene.apply(manifest, { dryRun: true });
      return r.code === 1 && r.stderr.includes(`[${rule}]`) ? r : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, description: `the webhook refusing the change for ${rule}` },
  );
  expect(dry.stderr).toContain(`admission webhook "${stage.chart.webhookName}" denied the request`);
  expect(dry.stderr).toMatch(message);
  const real = await scene.apply(manifest);
  expect(real.code).toBe(1);
  expect(real.stderr.slice(real.stderr.indexOf('denied the request'))).toBe(dry.stderr.slice(dry.stderr.indexOf('denied the request')));
  return real.stderr;
}

describe('jobs: a migration Job of v2 must have succeeded before blue gets traffic', () => {
  it('refuses the canary step while the migration runs, and admits it once the Job is Complete', async () => {
    const scene = await stage.seed({ namespacePrefix: 'migration', traffic: false });
    await blueAtZero(scene);
    const api = stage.cp.api;

    // How a team labels its migration (docs/rules.md, "jobs"): the service and version labels, and the annotation.
    const created = await api.create<KubeObject>({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'reviews-v2-migrate',
        namespace: scene.namespace,
        labels: { app: scene.service, version: 'v2' },
        annotations: { 'bluegreen-guard.io/before-cutover': 'true' },
      },
      spec: {
        backoffLimit: 2,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'registry.example.com/reviews:2.0.0', command: ['/app/migrate', '--up'] }] } },
      },
    });
    // Kubernetes times have whole seconds.
    const startTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    // What the job controller writes once the migration's pod runs.
    const running = await api.replace<KubeObject>({ ...created, status: { startTime, active: 1, ready: 1, terminating: 0, uncountedTerminatedPods: {} } }, 'status');

    const refused = await refusedOnceSeen(
      scene,
      canary(scene),
      'jobs',
      new RegExp(`migration Job ${scene.namespace}/reviews-v2-migrate is still running \\(1 active pod\\) \\(labelled app=reviews, version=v2, .*Fix: wait for it with 'kubectl wait --for=condition=complete job/reviews-v2-migrate -n ${scene.namespace}'`),
    );
    expect(refused).not.toContain('[pods-ready]');
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });

    // The migration finished: what the job controller writes on success.
    const now = new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    await api.replace<KubeObject>(
      {
        ...running,
        status: {
          startTime,
          completionTime: now,
          succeeded: 1,
          active: 0,
          ready: 0,
          terminating: 0,
          uncountedTerminatedPods: {},
          conditions: [
            { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now },
            { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now },
          ],
        },
      },
      'status',
    );
    const admitted = await waitUntil(
      async () => {
        const r = await scene.apply(canary(scene), { dryRun: true });
        return r.code === 0 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'the webhook admitting the canary step once the Job is Complete' },
    );
    expect(admitted.stderr).not.toContain('[jobs]');
    await scene.mustApply('VirtualService blue=1', canary(scene));
    expect(await scene.primaryWeights()).toEqual({ green: 99, blue: 1 });
  });
});

describe('pods-ready: the reason a v2 pod is not Ready, from its status', () => {
  it('refuses the canary step to a pod in CreateContainerConfigError and names the missing Secret and the fix', async () => {
    const scene = await stage.seed({ namespacePrefix: 'config-error', traffic: false });
    await blueAtZero(scene);
    const api = stage.cp.api;
    const pod = scene.v2?.pods[1];
    if (!pod) throw new Error('the scene has no second v2 pod');

    // What the kubelet writes when a container's Secret is missing.
    const current = await api.read<KubeObject>('v1', 'Pod', scene.namespace, pod.metadata.name);
    const now = new Date().toISOString();
    await api.replace<KubeObject>(
      {
        ...current,
        status: {
          phase: 'Pending',
          hostIP: '10.0.0.1',
          podIP: '10.244.0.77',
          startTime: now,
          conditions: [
            { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
            { type: 'Initialized', status: 'True', lastTransitionTime: now },
            { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [reviews]', lastTransitionTime: now },
            { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [reviews]', lastTransitionTime: now },
          ],
          containerStatuses: [
            {
              name: 'reviews',
              image: 'registry.example.com/reviews:v2',
              imageID: '',
              ready: false,
              started: false,
              restartCount: 0,
              state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "db-creds" not found' } },
            },
          ],
        },
      },
      'status',
    );

    const name = pod.metadata.name;
    await refusedOnceSeen(
      scene,
      canary(scene),
      'pods-ready',
      new RegExp(
        `pod ${name} is not Ready: container reviews is waiting: CreateContainerConfigError: secret "db-creds" not found\\. ` +
          `Fix: create the Secrets and ConfigMaps the pod references in namespace ${scene.namespace}, or correct their names and keys, and check 'kubectl describe pod ${name} -n ${scene.namespace}'`,
      ),
    );
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
  });
});
