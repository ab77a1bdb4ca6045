// Issue 9, workloads: traffic reaches an unchecked version without any
// VirtualService or DestinationRule changing, when pod labels change under
// routes that are already set. On the real kube-apiserver, through the chart's
// ValidatingWebhookConfiguration and kubectl: a Deployment with the seed's
// "version label typo in YAML", `kubectl label pod … version=v1 --overwrite`
// and a Service selector change are refused with the path and the fix, and
// `preflight --file deployment.yaml` gives the webhook's verdict word for
// word. The chart's matchConditions are proven on the API server itself: a
// Deployment's or Pod's status update, and an edit that leaves the labels as
// they were, never reach the webhook (its review counter moves only for the label changes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { stringify } from 'yaml';
import type { PreflightReport } from '../../src/cli/preflight.js';
import { ensureCliBuilt, runCli } from '../support/built-cli.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { createWorkload } from '../support/workloads.js';

jest.setTimeout(180_000);

let stage: Stage;
let dir: string;

beforeAll(async () => {
  await ensureCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'workload-labels-'));
  stage = await startStage({ watchers: 0 });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

/**
 * Reviews the webhook answered, by outcome (allowed, denied, ...), from its
 * /metrics: counted in memory as each review is answered, so exact the moment
 * kubectl returns (the log is written in 4 KB batches). Nothing else writes
 * here: no watcher runs, and the tests run one after another.
 */
async function reviewCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${stage.webhook!.metricsTarget}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^bluegreen_guard_admission_reviews_total\{[^}]*outcome="([a-z]+)"[^}]*\} (\d+)$/gm)) {
    counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2]);
  }
  return counts;
}

function added(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).filter(([k, n]) => n !== (before[k] ?? 0)).map(([k, n]) => [k, n - (before[k] ?? 0)]));
}

/** The Deployment manifest a team copies from v1 and forgets to relabel: named reviews-v2, labelled version=v1. */
function typoDeployment(scene: Scene): Record<string, unknown> {
  const labels = { app: scene.service, version: 'v1' };
  const probe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${scene.service}-v2`, namespace: scene.namespace },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: scene.service, image: `example.com/${scene.service}:v2`, readinessProbe: probe, livenessProbe: probe }] },
      },
    },
  };
}

describe('label changes under routes that are already set are judged by the traffic they move', () => {
  let scene: Scene;

  beforeAll(async () => {
    scene = await stage.seed({ namespacePrefix: 'typo', v2: false, traffic: false });
    await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
  });

  it("refuses the seed's \"version label typo in YAML\": a reviews-v2 Deployment labelled version=v1 joins green's 100 %", async () => {
    const manifest = stringify(typoDeployment(scene));
    const ns = scene.namespace;
    for (const dryRun of [true, false]) {
      const r = await scene.apply(manifest, { dryRun });
      expect({ dryRun, code: r.code }).toEqual({ dryRun, code: 1 });
      expect(r.stderr).toContain('admission webhook "deployment-labels.bluegreen-guard.io" denied the request: [version-labels]');
      expect(r.stderr).toContain(
        `Deployment ${ns}/reviews-v2's pod template has version=v1, so subset green of reviews.${ns}.svc.cluster.local (100% in http[0] "testers", 100% in http[1] "primary" of VirtualService ${ns}/reviews) would send traffic to its pods beside Deployment ${ns}/reviews-v1's`,
      );
      expect(r.stderr).toContain(`Fix: set version: v2 in the pod template of Deployment ${ns}/reviews-v2 (the label subset blue selects)`);
    }
    expect((await stage.cp.kubectl(['get', 'deployment', 'reviews-v2', '-n', ns])).code).not.toBe(0);
  });

  it('preflight --file deployment.yaml --state … gives the webhook\'s verdict, word for word', async () => {
    const file = join(dir, 'deployment.yaml');
    writeFileSync(file, stringify(typoDeployment(scene)));
    const state = await stage.cp.kubectl(['get', 'dr,vs,svc,deploy,rs,pods,ns', '-n', scene.namespace, '-o', 'yaml']);
    const nsState = await stage.cp.kubectl(['get', 'namespace', scene.namespace, '-o', 'yaml']);
    writeFileSync(join(dir, 'state.yaml'), state.stdout);
    writeFileSync(join(dir, 'namespace.yaml'), nsState.stdout);
    const r = await runCli(['preflight', '--file', file, '--state', join(dir, 'state.yaml'), '--state', join(dir, 'namespace.yaml'), '--config', stage.webhook!.process.configPath, '--output', 'json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as PreflightReport;
    const webhook = await scene.apply(stringify(typoDeployment(scene)), { dryRun: true });
    const denial = webhook.stderr.slice(webhook.stderr.indexOf('denied the request: ') + 'denied the request: '.length).trim();
    expect(report.findings.filter((f) => f.severity === 'deny').map((f) => `[${f.rule}] ${f.message}`).join('; ')).toBe(denial);
  });

  it('admits the correctly labelled reviews-v2 (version=v2): blue is not routed yet', async () => {
    const before = await reviewCounts();
    await scene.deployV2({ ready: true, probes: true });
    expect(added(await reviewCounts(), before)).toEqual({ allowed: 1 });
  });

  it('refuses `kubectl label pod … version=v1 --overwrite` on a v2 pod, naming the path and the fix', async () => {
    const pod = scene.v2!.pods[0]!.metadata.name;
    const ns = scene.namespace;
    const r = await stage.cp.kubectl(['label', 'pod', pod, '-n', ns, 'version=v1', '--overwrite']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('admission webhook "pod-labels.bluegreen-guard.io" denied the request: [version-labels]');
    expect(r.stderr).toContain(`Pod ${ns}/${pod} (of Deployment ${ns}/reviews-v2) would have version=v1, so subset green of reviews.${ns}.svc.cluster.local (100% in http[0] "testers", 100% in http[1] "primary" of VirtualService ${ns}/reviews) would send traffic to it beside Deployment ${ns}/reviews-v1's pods`);
    expect(r.stderr).toContain(`Fix: 'kubectl label pod ${pod} -n ${ns} version=v2 --overwrite' (the label subset blue selects)`);
    const labels = await stage.cp.kubectl(['get', 'pod', pod, '-n', ns, '-o', 'jsonpath={.metadata.labels.version}']);
    expect(labels.stdout).toBe('v2');
  });

  it('matchConditions: status updates and edits that keep the labels never reach the webhook; a label change does', async () => {
    const ns = scene.namespace;
    const pod = scene.v2!.pods[1]!.metadata.name;
    const before = await reviewCounts();
    const steps: [string, string[]][] = [
      ['Deployment status update', ['patch', 'deployment', 'reviews-v2', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"observedGeneration":7}}']],
      ['Pod status update', ['patch', 'pod', pod, '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"message":"status only"}}']],
      ['Deployment annotated (labels unchanged)', ['annotate', 'deployment', 'reviews-v2', '-n', ns, 'shop.example.com/note=reviewed']],
      ['Deployment spec edit (labels unchanged)', ['patch', 'deployment', 'reviews-v2', '-n', ns, '--type=merge', '-p', '{"spec":{"minReadySeconds":3}}']],
      ['Pod annotated (labels unchanged)', ['annotate', 'pod', pod, '-n', ns, 'shop.example.com/note=reviewed']],
    ];
    for (const [what, args] of steps) {
      const r = await stage.cp.kubectl(args);
      expect({ what, code: r.code, stderr: r.stderr }).toEqual({ what, code: 0, stderr: '' });
    }
    // None of them reached the webhook.
    expect(added(await reviewCounts(), before)).toEqual({});
    // A label change that moves no traffic: sent (the labels changed), reviewed and admitted.
    const labelled = await stage.cp.kubectl(['label', 'pod', pod, '-n', ns, 'team=shop']);
    expect({ code: labelled.code, stderr: labelled.stderr }).toEqual({ code: 0, stderr: '' });
    expect(added(await reviewCounts(), before)).toEqual({ allowed: 1 });
  });
});

describe('a Service selector change changes which pods every subset of the host reaches', () => {
  let scene: Scene;

  beforeAll(async () => {
    scene = await stage.seed({ namespacePrefix: 'selector', traffic: false });
    // A second app's v1 in the namespace, deployed without probes: no Service selects it yet.
    await createWorkload(stage.cp.api, { namespace: scene.namespace, app: 'reviews-next', version: 'v1', probes: false });
  });

  it('admits a selector change that selects nothing new (narrowed to version=v1: green keeps reviews-v1, blue is not routed)', async () => {
    const before = await reviewCounts();
    const r = await stage.cp.kubectl(['patch', 'service', 'reviews', '-n', scene.namespace, '--type=merge', '-p', '{"spec":{"selector":{"app":"reviews","version":"v1"}}}']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    // Reviewed (the selector changed) and admitted.
    expect(added(await reviewCounts(), before)).toEqual({ allowed: 1 });
  });

  it('refuses a selector change that puts a probe-less workload behind green, with the path and the fix', async () => {
    const ns = scene.namespace;
    const r = await stage.cp.kubectl(['patch', 'service', 'reviews', '-n', ns, '--type=merge', '-p', '{"spec":{"selector":{"app":"reviews-next"}}}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('admission webhook "service-selectors.bluegreen-guard.io" denied the request: [probes]');
    expect(r.stderr).toContain(`Service ${ns}/reviews's new selector app=reviews-next,version=v1 puts the pods of Deployment ${ns}/reviews-next-v1 in subset green of reviews.${ns}.svc.cluster.local (100% in http[0] "testers", 100% in http[1] "primary" of VirtualService ${ns}/reviews)`);
    expect(r.stderr).toContain(`Fix: add a readinessProbe and a livenessProbe to every container of Deployment ${ns}/reviews-next-v1 before its pods join a routed subset`);
    const selector = await stage.cp.kubectl(['get', 'service', 'reviews', '-n', ns, '-o', 'jsonpath={.spec.selector}']);
    expect(JSON.parse(selector.stdout)).toEqual({ app: 'reviews', version: 'v1' });
  });
});
