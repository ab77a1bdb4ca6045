/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- tests edit raw API objects (untyped JSON) in place */
// subset-selects-pods, version-labels, probes, pods-ready: the rules that look
// behind a subset at its pods and their workload, judged on a cutover.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { Finding, RuleId } from '../../../src/webhook/verdict.js';
import { clone, currentAndEdited, find, podsOf, primaryTo, remove, shopObjects, stateOf, update, type Json } from './world.js';

const config = defaultRulesConfig();
const nth = (list: Json[], i: number): Json => {
  const o = list[i];
  if (!o) throw new Error(`no object #${i}`);
  return o;
};
type World = (objects: Json[]) => Json[];

/** The canary step (blue 0% → 1% of the primary route) against an edited shop state. */
function canary(world: World, rule: RuleId, share = 1): Finding[] {
  const { old, next } = currentAndEdited(primaryTo(share));
  return review(update(old, next), stateOf(world(shopObjects())), config).findings.filter((f) => f.rule === rule);
}

const asIs: World = (o) => o;

const withoutV2: World = (o) => remove(o, (x) => ['Deployment', 'ReplicaSet', 'Pod'].includes(x.kind) && x.metadata.labels?.version === 'v2' && x.metadata.namespace === 'shop');

/** `kubectl label pod <one v2 pod> version=v1 --overwrite`: the typo of the runbook's pitfall table. */
const oneV2PodLabeledV1: World = (o) => {
  nth(podsOf(o, 'shop', { app: 'web', version: 'v2' }), 0).metadata.labels.version = 'v1';
  return o;
};

/** The v2 Deployment's pod template says `version: v1`: every v2 pod is mislabeled. */
const v2TemplateTypo: World = (o) => {
  for (const pod of podsOf(o, 'shop', { app: 'web', version: 'v2' })) pod.metadata.labels.version = 'v1';
  return o;
};

/** web-v2 mid-rollout: a new ReplicaSet with 2 pods (one not Ready yet) beside 2 of the old one. */
const v2MidRollout: World = (o) => {
  const d = find(o, 'Deployment', 'shop', 'web-v2');
  d.metadata.generation = 2;
  d.status = { ...d.status, observedGeneration: 2, replicas: 4, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3 };
  const oldRs = find(o, 'ReplicaSet', 'shop', 'web-v2-5d4c8b7f6');
  const newRs = clone(oldRs);
  newRs.metadata.name = 'web-v2-84f6d5c9b';
  newRs.metadata.labels['pod-template-hash'] = '84f6d5c9b';
  o.push(newRs);
  const oldPods = podsOf(o, 'shop', { app: 'web', version: 'v2' });
  const out = remove(o, (x) => x === oldPods[2]);
  ['q1w2e', 'r4t5y'].forEach((suffix, i) => {
    const pod = clone(nth(oldPods, 0));
    pod.metadata.name = `web-v2-84f6d5c9b-${suffix}`;
    pod.metadata.labels['pod-template-hash'] = '84f6d5c9b';
    pod.metadata.ownerReferences[0].name = 'web-v2-84f6d5c9b';
    if (i === 1) pod.status.conditions.find((c: Json) => c.type === 'Ready').status = 'False';
    out.push(pod);
  });
  return out;
};

const v2PodNotReady: World = (o) => {
  const pod = nth(podsOf(o, 'shop', { app: 'web', version: 'v2' }), 1);
  pod.status.conditions.find((c: Json) => c.type === 'Ready').status = 'False';
  pod.status.phase = 'Running';
  return o;
};

const v2Edit =
  (edit: (d: Json) => void): World =>
  (o) => {
    edit(find(o, 'Deployment', 'shop', 'web-v2'));
    return o;
  };

describe('subset-selects-pods', () => {
  it.each<[string, World]>([
    ['blue backed by three Ready v2 pods', asIs],
    ['terminating pods among live ones', (o) => ((nth(podsOf(o, 'shop', { version: 'v2' }), 0).metadata.deletionTimestamp = '2026-11-20T10:00:00Z'), o)],
  ])('allows a cutover to %s', (_what, world) => {
    expect(canary(world, 'subset-selects-pods')).toEqual([]);
  });

  it.each<[string, World, string]>([
    [
      'a subset with no pods (v2 not deployed)',
      withoutV2,
      'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but no pod matches it: ' +
        "Service shop/web's selector together with subset blue's labels (DestinationRule shop/web) is app=web,version=v2, and 'kubectl get pods -n shop -l app=web,version=v2' finds nothing. " +
        'Fix: deploy the blue pods and wait until they are ready, or correct subset blue\'s labels.',
    ],
    ['a subset whose labels have a typo', (o) => ((find(o, 'DestinationRule', 'shop', 'web').spec.subsets[1].labels.version = 'v2.0'), o), "is app=web,version=v2.0, and 'kubectl get pods -n shop -l app=web,version=v2.0' finds nothing"],
    ['a subset whose only pods are terminating', (o) => (podsOf(o, 'shop', { version: 'v2' }).forEach((p) => (p.metadata.deletionTimestamp = '2026-11-20T10:00:00Z')), o), 'but no pod matches it'],
    ['a host whose Service does not exist', (o) => remove(o, (x) => x.kind === 'Service' && x.metadata.name === 'web'), 'but Service shop/web does not exist, so no pod can receive that traffic. Fix: create Service shop/web, or route to an existing host.'],
    ['the stable subset, when its pods are gone', (o) => remove(o, (x) => x.kind === 'Pod' && x.metadata.labels?.version === 'v1' && x.metadata.namespace === 'shop'), 'routes traffic to subset green of web.shop.svc.cluster.local (99% in http[2] "primary", 100% in tcp[0], 100% in tls[0]), but no pod matches it'],
  ])('denies a cutover to %s', (_what, world, message) => {
    const findings = canary(world, 'subset-selects-pods');
    expect(findings.map((f) => f.severity)).toContain('deny');
    expect(findings.map((f) => f.message).join('\n')).toContain(message);
  });

  it('only warns when the host is not a Service of this cluster (a ServiceEntry)', () => {
    const { old, next } = currentAndEdited((v) => {
      v.spec.http[1].route = [
        { destination: { host: 'payments.pay.svc.cluster.local', subset: 'green' }, weight: 90 },
        { destination: { host: 'psp.example.com', subset: 'eu' }, weight: 10 },
      ];
    });
    const objects = [...shopObjects(), { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'psp', namespace: 'shop' }, spec: { host: 'psp.example.com', subsets: [{ name: 'eu', labels: { region: 'eu' } }] } }];
    const findings = review(update(old, next), stateOf(objects), config).findings.filter((f) => f.rule === 'subset-selects-pods');
    expect(findings.map((f) => [f.severity, f.message.slice(0, 116)])).toEqual([['warn', 'VirtualService shop/web routes 10% (http[1] "payments") to subset eu of psp.example.com, a host outside this cluster']]);
  });
});

describe('version-labels', () => {
  it.each<[string, World]>([
    ['pods of one Deployment with app and version labels', asIs],
    ['a Deployment mid-rollout (two ReplicaSets, one Deployment)', v2MidRollout],
  ])('allows %s', (_what, world) => {
    expect(canary(world, 'version-labels')).toEqual([]);
  });

  it.each<[string, World, string]>([
    [
      'one v2 pod labeled version=v1 by mistake (partial rollout due to mislabeled pods)',
      oneV2PodLabeledV1,
      'VirtualService shop/web routes traffic to subset green of web.shop.svc.cluster.local (99% in http[2] "primary", 100% in tcp[0], 100% in tls[0]), whose pods are mislabeled: ' +
        'they belong to 2 workloads (Deployment shop/web-v1: 3 pods; Deployment shop/web-v2: 1 pod (web-v2-5d4c8b7f6-x7k2p)). ' +
        'Traffic meant for one version reaches another (partial rollout due to mislabeled pods). ' +
        "Fix: correct the app/version labels in the pod template of the workload that does not belong, redeploy it, and check with 'kubectl get pods -n shop -L app,version'.",
    ],
    ['a version typo in the v2 pod template', v2TemplateTypo, 'they belong to 2 workloads (Deployment shop/web-v1: 3 pods; Deployment shop/web-v2: 3 pods'],
    [
      'a subset that selects two versions',
      (o) => ((find(o, 'DestinationRule', 'shop', 'web').spec.subsets[0].labels = { tier: 'web' }), podsOf(o, 'shop', { app: 'web' }).forEach((p) => (p.metadata.labels.tier = 'web')), o),
      'subset green of web.shop.svc.cluster.local (99% in http[2] "primary", 100% in tcp[0], 100% in tls[0]), whose pods are mislabeled: they carry 2 versions (version=v1: 3 pods, version=v2: 3 pods); they belong to 2 workloads',
    ],
    [
      'pods without a version label',
      (o) => {
        find(o, 'DestinationRule', 'shop', 'web').spec.subsets[1].labels = { track: 'blue' };
        podsOf(o, 'shop', { version: 'v2' }).forEach((p) => {
          p.metadata.labels.track = 'blue';
          delete p.metadata.labels.version;
        });
        return o;
      },
      'whose pods are mislabeled: 3 pods lack an app or version label (web-v2-5d4c8b7f6-x7k2p, web-v2-5d4c8b7f6-m9q4d, web-v2-5d4c8b7f6-t3v8n)',
    ],
  ])('denies %s', (_what, world, message) => {
    const findings = canary(world, 'version-labels');
    expect(findings.map((f) => f.severity)).toContain('deny');
    expect(findings.map((f) => f.message).join('\n')).toContain(message);
  });

  it('leaves a subset with no pods to subset-selects-pods', () => {
    const { old, next } = currentAndEdited(primaryTo(1));
    const rules = review(update(old, next), stateOf(v2TemplateTypo(shopObjects())), config).findings.map((f) => `${f.rule}:${f.message.slice(0, 80)}`);
    expect(rules.filter((r) => r.startsWith('subset-selects-pods'))).toHaveLength(1);
    expect(rules.filter((r) => r.startsWith('version-labels'))).toHaveLength(1); // green, not blue
  });
});

describe('probes', () => {
  it.each<[string, World]>([
    ['every v2 container with both probes', asIs],
    ['the stable workload without probes (only the raised candidate is judged)', (o) => (find(o, 'Deployment', 'shop', 'web-v1').spec.template.spec.containers.forEach((c: Json) => delete c.readinessProbe), o)],
  ])('allows %s', (_what, world) => {
    expect(canary(world, 'probes')).toEqual([]);
  });

  it.each<[string, World, string]>([
    [
      'a container without readinessProbe',
      v2Edit((d) => delete d.spec.template.spec.containers[0].readinessProbe),
      'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but Deployment shop/web-v2 has containers without probes: web (no readinessProbe). ' +
        'Fix: add a readinessProbe and a livenessProbe to every container of Deployment shop/web-v2, roll it out, then raise the weight.',
    ],
    [
      'a sidecar container without any probe',
      v2Edit((d) => {
        delete d.spec.template.spec.containers[1].readinessProbe;
        delete d.spec.template.spec.containers[1].livenessProbe;
      }),
      'has containers without probes: log-shipper (no readinessProbe, no livenessProbe)',
    ],
  ])('denies a cutover to %s', (_what, world, message) => {
    const findings = canary(world, 'probes');
    expect(findings.map((f) => f.severity)).toEqual(['deny']);
    expect(findings[0]?.message).toContain(message);
  });

  it.each<[string, World, string]>([
    ['pods whose ReplicaSet is not in the state', (o) => remove(o, (x) => x.kind === 'ReplicaSet' && x.metadata.name === 'web-v2-5d4c8b7f6'), "its pods' owner ReplicaSet shop/web-v2-5d4c8b7f6 is not in the cluster state"],
    [
      'pods owned by a StatefulSet',
      (o) => (podsOf(o, 'shop', { version: 'v2' }).forEach((p) => (p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web-v2', controller: true }])), o),
      'whose pods belong to StatefulSet shop/web-v2, not to a Deployment',
    ],
  ])('warns that it cannot check %s', (_what, world, message) => {
    const findings = canary(world, 'probes');
    expect(findings.map((f) => f.severity)).toEqual(['warn']);
    expect(findings[0]?.message).toContain(message);
  });
});

describe('pods-ready', () => {
  it('allows a cutover to a fully rolled-out, Ready Deployment', () => {
    expect(canary(asIs, 'pods-ready')).toEqual([]);
  });

  it.each<[string, World, string]>([
    [
      'a Deployment mid-rollout',
      v2MidRollout,
      'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but Deployment shop/web-v2 is not fully rolled out (2/3 updated); pods web-v2-84f6d5c9b-r4t5y are not Ready. ' +
        "Fix: wait until 'kubectl rollout status deployment/web-v2 -n shop' succeeds and every pod of subset blue is Ready, then raise the weight.",
    ],
    ['a pod that is not Ready', v2PodNotReady, 'but pods web-v2-5d4c8b7f6-m9q4d are not Ready'],
    ['a Deployment whose latest spec is not observed yet', v2Edit((d) => (d.metadata.generation = 5)), 'Deployment shop/web-v2 is not fully rolled out (its latest spec (generation 5) is not yet observed)'],
    ['a Deployment with unavailable replicas', v2Edit((d) => (d.status.availableReplicas = 1)), 'is not fully rolled out (1/3 available)'],
    ['a Deployment with old replicas still running', v2Edit((d) => (d.status.replicas = 4)), 'is not fully rolled out (1 old replicas still running)'],
  ])('denies a cutover to %s', (_what, world, message) => {
    const findings = canary(world, 'pods-ready');
    expect(findings.map((f) => f.severity)).toEqual(['deny']);
    expect(findings[0]?.message).toContain(message);
  });

  it.each<[string, number]>([
    ['leaves the weights alone', 0],
  ])('is not judged on a change that %s', (_what, share) => {
    expect(canary(v2PodNotReady, 'pods-ready', share)).toEqual([]);
  });
});
