/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- tests edit raw API objects (untyped JSON) in place */
// pods-ready says why, from the pods' own status (test/fixtures/checklist/pod-statuses.yaml,
// as kubectl prints them), and a pod whose container restarted recently is not passing.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { slimPod } from '../../../src/cluster/slim.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import { clone, currentAndEdited, FIXTURES, podsOf, primaryTo, shopObjects, stateOf, update, type Json } from './world.js';

const STATUSES = parse(readFileSync(`${FIXTURES}checklist/pod-statuses.yaml`, 'utf8')) as Record<string, Json>;
const NOW_MS = Date.parse('2026-11-20T10:05:00Z');
const POD = 'web-v2-5d4c8b7f6-m9q4d';
const CANARY = 'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but ';
const WAIT = "wait until 'kubectl rollout status deployment/web-v2 -n shop' succeeds and every pod of subset blue is Ready, then raise the weight.";

function status(name: string): Json {
  const s = STATUSES[name];
  if (!s) throw new Error(`no status ${name} in pod-statuses.yaml`);
  return clone(s);
}

/** The canary step with one v2 pod (m9q4d) in `statusName`; the Deployment's counts follow the pod. */
function canaryWith(statusName: string, config: RulesConfig = defaultRulesConfig(), at: { nowMs: number | undefined } = { nowMs: NOW_MS }) {
  const objects = shopObjects();
  const pod = podsOf(objects, 'shop', { app: 'web', version: 'v2' }).find((p) => p.metadata.name === POD);
  if (!pod) throw new Error(`no pod ${POD}`);
  pod.status = status(statusName);
  const ready = (pod.status.conditions as Json[]).some((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready) {
    const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'web-v2') as Json;
    d.status = { ...d.status, readyReplicas: 2, availableReplicas: 2 };
  }
  const { old, next } = currentAndEdited(primaryTo(1));
  return review({ ...update(old, next), nowMs: at.nowMs }, stateOf(objects), config).findings.filter((f) => f.rule === 'pods-ready');
}

describe('pods-ready: why a pod is not Ready, from its status', () => {
  it.each<[string, string]>([
    [
      'create-container-config-error',
      `pod ${POD} is not Ready: container web is waiting: CreateContainerConfigError: secret "db-creds" not found. ` +
        `Fix: create the Secrets and ConfigMaps the pod references in namespace shop, or correct their names and keys, and check 'kubectl describe pod ${POD} -n shop'; then `,
    ],
    [
      'crash-loop-back-off',
      `pod ${POD} is not Ready: container web is in CrashLoopBackOff (last exit code 1, 5 restarts). ` +
        `Fix: read 'kubectl logs ${POD} -n shop -c web --previous', check 'kubectl describe pod ${POD} -n shop' and verify the volumeMount paths match where the app reads its secrets and config; then `,
    ],
    [
      'image-pull-back-off',
      `pod ${POD} is not Ready: container web is waiting: ImagePullBackOff: Back-off pulling image "registry.example.com/web:2.0.1". ` +
        `Fix: check the image name, tag and pull secret in 'kubectl describe pod ${POD} -n shop'; then `,
    ],
    [
      'unschedulable',
      `pod ${POD} is not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod. ` +
        `Fix: check 'kubectl describe pod ${POD} -n shop' for why no node fits (capacity, nodeSelector, affinity, tolerations, volume claims); then `,
    ],
    [
      'init-container-failed',
      `pod ${POD} is not Ready: init container migrate-config terminated: Error (exit code 2, 3 restarts): open /etc/web/config.yaml: no such file or directory. ` +
        `Fix: read 'kubectl logs ${POD} -n shop -c migrate-config --previous', check 'kubectl describe pod ${POD} -n shop' and verify the volumeMount paths match where the app reads its secrets and config; then `,
    ],
    [
      'running-not-ready',
      `pod ${POD} is not Ready: container web is running but not Ready (its readinessProbe fails). ` +
        `Fix: check the readinessProbe and the endpoint it calls in 'kubectl describe pod ${POD} -n shop'; then `,
    ],
  ])('denies a cutover to a pod in %s, with the reason and the fix', (name, why) => {
    const findings = canaryWith(name);
    expect(findings).toEqual([
      {
        rule: 'pods-ready',
        severity: 'deny',
        object: 'VirtualService/shop/web',
        message: `${CANARY}Deployment shop/web-v2 is not fully rolled out (2/3 ready, 2/3 available); ${why}${WAIT}`,
      },
    ]);
  });

  it('keeps only the few status fields it reports in the slim pod', () => {
    const pod = slimPod({ kind: 'Pod', metadata: { name: POD, namespace: 'shop' }, status: status('create-container-config-error') });
    expect(pod).toEqual({
      kind: 'Pod',
      metadata: { name: POD, namespace: 'shop' },
      ready: false,
      phase: 'Pending',
      trouble: { state: 'waiting', container: 'web', reason: 'CreateContainerConfigError', message: 'secret "db-creds" not found' },
    });
  });

  it('keeps nothing beyond readiness for a Ready pod that never restarted', () => {
    const ready = status('running-not-ready');
    ready.conditions = [{ type: 'Ready', status: 'True' }];
    ready.containerStatuses[0].ready = true;
    expect(slimPod({ kind: 'Pod', metadata: { name: POD, namespace: 'shop' }, status: ready })).toEqual({ kind: 'Pod', metadata: { name: POD, namespace: 'shop' }, ready: true, phase: 'Running' });
  });
});

describe('pods-ready: a container restarted within restartWindowSeconds is not passing', () => {
  it('denies a cutover to a Ready pod whose container the liveness probe restarted 2 minutes ago', () => {
    expect(canaryWith('ready-restarted-recently').map((f) => f.message)).toEqual([
      `${CANARY}pod ${POD} is Ready but its container web restarted 2m ago (2 restarts, exit code 137 (Error)), within the last 10m. ` +
        `Fix: read 'kubectl logs ${POD} -n shop -c web --previous' and check its livenessProbe in 'kubectl describe pod ${POD} -n shop'; then ${WAIT}`,
    ]);
  });

  it.each<[string, string, RulesConfig, number | undefined]>([
    ['a restart an hour before the review', 'ready-restarted-long-ago', defaultRulesConfig(), NOW_MS],
    ['a restart 2 minutes ago with a 60-second window', 'ready-restarted-recently', parseRulesConfig({ restartWindowSeconds: 60 }), NOW_MS],
    ['a window of 0 (restarts not judged)', 'ready-restarted-recently', parseRulesConfig({ restartWindowSeconds: 0 }), NOW_MS],
    ['a review without a time', 'ready-restarted-recently', defaultRulesConfig(), undefined],
  ])('allows %s', (_what, name, config, nowMs) => {
    expect(canaryWith(name, config, { nowMs })).toEqual([]);
  });
});
