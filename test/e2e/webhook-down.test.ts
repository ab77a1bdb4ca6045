// Acceptance 6: the webhook is down (every replica gone, a bad certificate, a
// timeout). The chart's default failurePolicy is Ignore (charts/bluegreen-guard/
// values.yaml explains why: a guardrail that blocks a rollback causes the
// outage it exists to prevent). With it, the on-call engineer's "Revert Traffic
// to Green" goes through while the webhook is unreachable; so, unreviewed,
// does a bad cutover, which is the price. With Fail instead, a human's rollback
// is refused and only the watcher's patch passes, because the chart's
// matchCondition skips the webhook for the watcher's ServiceAccount.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { PATCH } from '../support/kube-api.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(180_000);

let stage: Stage;
let scene: Scene;

beforeAll(async () => {
  // No watcher: the rollback under test is the human's kubectl apply.
  stage = await startStage({ watchers: 0 });
  scene = await stage.seed({ namespacePrefix: 'webhook-down' });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

async function webhookAnswers(): Promise<boolean> {
  const url = stage.webhook!.admissionUrl;
  return fetch(url.replace('https:', 'http:'), { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    (error: unknown) => !/ECONNREFUSED/.test(String((error as { cause?: unknown }).cause ?? error)),
  );
}

describe('Rollback Procedure while the webhook is down', () => {
  it('the chart installs the webhook with failurePolicy Ignore', () => {
    expect(stage.chart.failurePolicy).toBe('Ignore');
    expect(stage.chart.webhookConfiguration.webhooks[0]?.failurePolicy).toBe('Ignore');
  });

  it('"Revert Traffic to Green (v1)" with kubectl apply goes through while blue fails and the webhook is unreachable', async () => {
    await scene.cutOver();
    await scene.setV2Ready(false);
    await stage.stopWebhook();
    expect(await webhookAnswers()).toBe(false);

    const rollback = await scene.apply(scene.virtualService({ green: 100, blue: 0 }));
    expect({ code: rollback.code, stderr: rollback.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
  });

  it('the price of Ignore: while the webhook is down a cutover to failing pods is not reviewed either', async () => {
    const unreviewed = await scene.apply(scene.virtualService({ green: 0, blue: 100 }), { dryRun: true });
    expect(unreviewed.code).toBe(0);
  });

  it('back up, the guard refuses that cutover again', async () => {
    await stage.restartWebhook();
    await waitUntil(
      async () => {
        const r = await scene.apply(scene.virtualService({ green: 0, blue: 100 }), { dryRun: true });
        return r.code === 1 && r.stderr.includes('[pods-ready]');
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the restarted webhook refusing a cutover to blue\'s failing pods' },
    );
  });
});

describe('the alternative, failurePolicy Fail: a human\'s rollback is refused, the watcher\'s patch is not', () => {
  it('with the webhook down and Fail, kubectl apply of the rollback is refused but the watcher\'s JSON Patch passes', async () => {
    // A good cutover first, reviewed and admitted; then blue starts failing and the webhook goes down.
    await scene.setV2Ready(true);
    await scene.waitUntilScraped();
    await scene.mustApply('VirtualService blue=100', scene.virtualService({ green: 0, blue: 100 }));
    const name = stage.chart.webhookConfiguration.metadata.name;
    await stage.cp.api.patch(
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name } },
      [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Fail' }],
      PATCH.json,
    );
    await scene.setV2Ready(false);
    await stage.stopWebhook();

    const humanRollback = scene.virtualService({ green: 100, blue: 0 });
    // The API server picks the changed configuration up a moment later.
    const refused = await waitUntil(
      async () => {
        const r = await scene.apply(humanRollback, { dryRun: true });
        return r.code !== 0 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the API server applying failurePolicy Fail' },
    );
    expect(refused.stderr).toMatch(new RegExp(`failed calling webhook "${stage.chart.webhookName}"`));
    expect((await scene.apply(humanRollback)).code).not.toBe(0);
    expect(await scene.primaryWeights()).toEqual({ green: 0, blue: 100 });

    // The watcher's write, with its own ServiceAccount: the matchCondition skips the webhook.
    const watcherPatch = await stage.cp.kubectl(
      ['patch', 'virtualservice', scene.service, '-n', scene.namespace, '--type=json', '-p', JSON.stringify([
        { op: 'replace', path: '/spec/http/1/route/0/weight', value: 100 },
        { op: 'replace', path: '/spec/http/1/route/1/weight', value: 0 },
      ])],
      { kubeconfigPath: stage.identities.watcherKubeconfig },
    );
    expect({ code: watcherPatch.code, stderr: watcherPatch.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
  });
});
