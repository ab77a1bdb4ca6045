// Workload changes judged by the traffic they move (issue 9): a Deployment's
// pod template labels, a Pod's labels and a Service's selector decide which
// pods the routed subsets of shop/web select. The world is the shop fixture:
// subset green (version=v1, 100% in http[2] "primary") selects web-v1, subset
// blue (version=v2, 100% in http[0] "testers") selects web-v2. Every case
// goes through the judge the webhook and preflight use (judgeAdmission), with
// the objects decoded from an AdmissionReview as the API server sends them.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- tests edit raw API objects */
import { describe, expect, it } from '@jest/globals';
import { decodeAdmissionReview } from '../../../src/webhook/admission.js';
import { defaultRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import type { ReviewInput, ReviewVerdict } from '../../../src/webhook/verdict.js';
import { review } from '../../../src/webhook/review.js';
import { judgeAdmission } from '../../../src/webhook/workload-review.js';
import { ALICE, clone, currentAndEdited, find, primaryTo, remove, shopObjects, stateOf, update, type Json } from './world.js';

const config: RulesConfig = { ...defaultRulesConfig(), breakGlassGroups: ['sre'] };
const WATCHER = { username: config.watcherUsernames[0] as string, groups: [] };

const GROUPS: Record<string, { group: string; version: string; resource: string }> = {
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments' },
  Pod: { group: '', version: 'v1', resource: 'pods' },
  Service: { group: '', version: 'v1', resource: 'services' },
};

/** An AdmissionReview as the API server sends it, decoded by the admission seam. */
function admitted(operation: 'CREATE' | 'UPDATE' | 'DELETE', object: Json | undefined, oldObject: Json | undefined, requester = ALICE, subResource?: string): ReviewInput | string {
  const subject = (object ?? oldObject) as Json;
  const gvr = GROUPS[subject.kind as string]!;
  const decoded = decodeAdmissionReview(
    {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u-1',
        kind: { group: gvr.group, version: gvr.version, kind: subject.kind },
        resource: { group: gvr.group, version: gvr.version, resource: gvr.resource },
        ...(subResource ? { subResource } : {}),
        namespace: subject.metadata.namespace,
        name: subject.metadata.name,
        operation,
        userInfo: requester,
        object: object ?? null,
        oldObject: oldObject ?? null,
        dryRun: false,
      },
    },
    0,
  );
  if (!decoded.ok) throw new Error(decoded.message);
  return decoded.review.input ?? `skipped: ${decoded.review.skipReason ?? ''}`;
}

interface Case {
  name: string;
  world?: (objects: Json[]) => Json[];
  /** The review, built from the world's raw objects. */
  input: (objects: Json[]) => ReviewInput | string;
  allowed: boolean;
  /** Every finding's rule and a pattern its message must match; [] means no finding at all. */
  findings: [string, string, RegExp][];
  exemption?: string;
}

const deployment = (objects: Json[], name: string): Json => find(objects, 'Deployment', 'shop', name);
const pod = (objects: Json[], name: string): Json => find(objects, 'Pod', 'shop', name);
const service = (objects: Json[]): Json => find(objects, 'Service', 'shop', 'web');
const V2_POD = 'web-v2-5d4c8b7f6-x7k2p';

/** A copy of a Deployment with other pod template labels (and matching selector). */
function relabelled(d: Json, labels: Record<string, string>, name = d.metadata.name as string): Json {
  const next = clone(d);
  next.metadata.name = name;
  next.spec.template.metadata.labels = labels;
  next.spec.selector.matchLabels = labels;
  return next;
}

function withoutWorkload(objects: Json[], name: string): Json[] {
  return remove(objects, (o) => o.metadata.namespace === 'shop' && (o.metadata.name === name || String(o.metadata.name).startsWith(`${name}-`)));
}

/** A second app's workload `web2-v1` (app=web2, version=v1): its pods unready and the containers without probes. */
function brokenWeb2(objects: Json[]): Json[] {
  const out = [...objects];
  for (const o of objects) {
    if (o.metadata.namespace !== 'shop' || !String(o.metadata.name).startsWith('web-v1')) continue;
    const c = clone(o);
    c.metadata.name = String(o.metadata.name).replace('web-v1', 'web2-v1');
    if (c.metadata.labels) c.metadata.labels.app = 'web2';
    for (const ref of c.metadata.ownerReferences ?? []) ref.name = String(ref.name).replace('web-v1', 'web2-v1');
    if (c.kind === 'Deployment') {
      c.spec.template.metadata.labels.app = 'web2';
      for (const k of c.spec.template.spec.containers) {
        delete k.readinessProbe;
        delete k.livenessProbe;
      }
    }
    if (c.kind === 'Pod') c.status.conditions = [{ type: 'Ready', status: 'False' }];
    out.push(c);
  }
  return out;
}

const CASES: Case[] = [
  {
    name: 'denies a Deployment update with a version-label typo (v2 labelled version=v1), naming both workloads and the label to fix',
    input: (o) => admitted('UPDATE', relabelled(deployment(o, 'web-v2'), { app: 'web', version: 'v1' }), deployment(o, 'web-v2')),
    allowed: false,
    findings: [
      [
        'version-labels',
        'Deployment/shop/web-v2',
        /^Deployment shop\/web-v2's pod template has version=v1, so subset green of web\.shop\.svc\.cluster\.local \(100% in http\[2\] "primary", 100% in tcp\[0\], 100% in tls\[0\] of VirtualService shop\/web\) would send traffic to its pods beside Deployment shop\/web-v1's: .*Fix: set version: v2 in the pod template of Deployment shop\/web-v2 \(the label subset blue selects\)/,
      ],
    ],
  },
  {
    name: 'denies creating a Deployment whose pod template carries the stable version by mistake',
    world: (o) => withoutWorkload(o, 'web-v2'),
    input: () => admitted('CREATE', relabelled(deployment(shopObjects(), 'web-v2'), { app: 'web', version: 'v1' }), undefined),
    allowed: false,
    findings: [['version-labels', 'Deployment/shop/web-v2', /pod template has version=v1, so subset green .* beside Deployment shop\/web-v1's.*Fix: set version: v2/]],
  },
  {
    name: 'allows a correctly labelled new Deployment that no routed subset selects',
    input: (o) => admitted('CREATE', relabelled(deployment(o, 'web-v2'), { app: 'web', version: 'v3' }, 'web-v3'), undefined),
    allowed: true,
    findings: [],
  },
  {
    name: 'allows a correctly labelled Deployment that takes over a routed subset alone, with probes (pods-ready is not judged before its pods exist)',
    world: (o) => withoutWorkload(o, 'web-v2'),
    input: () => admitted('CREATE', deployment(shopObjects(), 'web-v2'), undefined),
    allowed: true,
    findings: [],
  },
  {
    name: 'denies a Deployment that takes over a routed subset alone without probes (a cutover)',
    world: (o) => withoutWorkload(o, 'web-v2'),
    input: () => {
      const d = clone(deployment(shopObjects(), 'web-v2'));
      for (const c of d.spec.template.spec.containers) delete c.livenessProbe;
      return admitted('CREATE', d, undefined);
    },
    allowed: false,
    findings: [['probes', 'Deployment/shop/web-v2', /puts its pods in subset blue of web\.shop\.svc\.cluster\.local \(100% in http\[0\] "testers" .*containers without probes: web \(no livenessProbe\); log-shipper \(no livenessProbe\)/]],
  },
  {
    name: 'denies a Pod relabelled into a routed subset beside another workload (kubectl label pod … version=v1)',
    input: (o) => {
      const next = clone(pod(o, V2_POD));
      next.metadata.labels.version = 'v1';
      return admitted('UPDATE', next, pod(o, V2_POD));
    },
    allowed: false,
    findings: [
      [
        'version-labels',
        `Pod/shop/${V2_POD}`,
        new RegExp(`^Pod shop/${V2_POD} \\(of Deployment shop/web-v2\\) would have version=v1, so subset green .* beside Deployment shop/web-v1's pods.*Fix: 'kubectl label pod ${V2_POD} -n shop version=v2 --overwrite' \\(the label subset blue selects\\)`),
      ],
    ],
  },
  {
    name: 'allows a Pod relabelled out of a routed subset (traffic taken away is never blocked)',
    input: (o) => {
      const next = clone(pod(o, V2_POD));
      next.metadata.labels.version = 'v2-quarantined';
      return admitted('UPDATE', next, pod(o, V2_POD));
    },
    allowed: true,
    findings: [],
  },
  {
    name: 'denies a Service selector change that newly selects a broken version (unready, without probes) and leaves blue without pods',
    world: brokenWeb2,
    input: (o) => {
      const next = clone(service(o));
      next.spec.selector = { app: 'web2' };
      return admitted('UPDATE', next, service(o));
    },
    allowed: false,
    findings: [
      ['probes', 'Service/shop/web', /^Service shop\/web's new selector app=web2 puts the pods of Deployment shop\/web2-v1 in subset green .*containers without probes/],
      ['pods-ready', 'Service/shop/web', /puts the pods of Deployment shop\/web2-v1 in subset green .*3 pods web2-v1-6b7f9c4d8-x7k2p, .* are not Ready/],
      // web2 has no v2: blue, routed for the testers, would select nothing.
      ['subset-selects-pods', 'Service/shop/web', /makes subset blue of web\.shop\.svc\.cluster\.local select no pod/],
    ],
  },
  {
    name: 'allows a Service selector change that selects nothing new',
    world: (o) => o.map((x) => (x.kind === 'Pod' && x.metadata.labels?.app === 'web' ? { ...x, metadata: { ...x.metadata, labels: { ...x.metadata.labels, tier: 'frontend' } } } : x)),
    input: (o) => {
      const next = clone(service(o));
      next.spec.selector = { app: 'web', tier: 'frontend' };
      return admitted('UPDATE', next, service(o));
    },
    allowed: true,
    findings: [],
  },
  {
    name: 'denies a Service selector typo that leaves the routed subsets without pods (subset-selects-pods)',
    input: (o) => {
      const next = clone(service(o));
      next.spec.selector = { app: 'wbe' };
      return admitted('UPDATE', next, service(o));
    },
    allowed: false,
    findings: [
      ['subset-selects-pods', 'Service/shop/web', /^Service shop\/web's new selector app=wbe \(was app=web\) makes subset blue of web\.shop\.svc\.cluster\.local select no pod \('kubectl get pods -n shop -l app=wbe,version=v2' finds nothing\), but it gets traffic \(100% in http\[0\] "testers" of VirtualService shop\/web\).*Fix: keep the selector/],
      ['subset-selects-pods', 'Service/shop/web', /makes subset green of web\.shop\.svc\.cluster\.local select no pod .*100% in http\[2\] "primary", 100% in tcp\[0\], 100% in tls\[0\] of VirtualService shop\/web/],
    ],
  },
  {
    name: 'does not judge a status-only update of a Deployment that is already mislabeled into a subset',
    world: (o) => o.map((x) => (x.kind === 'Pod' && x.metadata.name === V2_POD ? { ...x, metadata: { ...x.metadata, labels: { ...x.metadata.labels, version: 'v1' } } } : x)),
    input: (o) => {
      const next = clone(deployment(o, 'web-v2'));
      next.status.readyReplicas = 2;
      return admitted('UPDATE', next, deployment(o, 'web-v2'));
    },
    allowed: true,
    findings: [],
  },
  {
    name: 'skips the status subresource of a Pod: a status update is not judged',
    input: (o) => {
      const next = clone(pod(o, V2_POD));
      next.metadata.labels.version = 'v1';
      return admitted('UPDATE', next, pod(o, V2_POD), ALICE, 'status');
    },
    allowed: true,
    findings: [],
  },
  {
    name: "exempts the watcher's own writes",
    input: (o) => admitted('UPDATE', relabelled(deployment(o, 'web-v2'), { app: 'web', version: 'v1' }), deployment(o, 'web-v2'), WATCHER),
    allowed: true,
    findings: [],
    exemption: 'watcher',
  },
  {
    name: 'never denies a Deployment delete',
    input: (o) => admitted('DELETE', undefined, deployment(o, 'web-v1')),
    allowed: true,
    findings: [],
  },
  {
    name: 'turns the denial into a warning with break-glass by a member of a break-glass group, and audits it',
    input: (o) => {
      const next = relabelled(deployment(o, 'web-v2'), { app: 'web', version: 'v1' });
      next.metadata.annotations = { ...next.metadata.annotations, 'bluegreen-guard.io/break-glass': 'incident 42' };
      return admitted('UPDATE', next, deployment(o, 'web-v2'), { username: 'sam', groups: ['sre'] });
    },
    allowed: true,
    findings: [['version-labels', 'Deployment/shop/web-v2', /Overridden by break-glass: "incident 42", by sam/]],
    exemption: 'break-glass',
  },
  {
    name: "honours the namespace's rule modes (version-labels=warn)",
    world: (o) => o.map((x) => (x.kind === 'Namespace' && x.metadata.name === 'shop' ? { ...x, metadata: { ...x.metadata, annotations: { 'bluegreen-guard.io/rules': 'version-labels=warn' } } } : x)),
    input: (o) => admitted('UPDATE', relabelled(deployment(o, 'web-v2'), { app: 'web', version: 'v1' }), deployment(o, 'web-v2')),
    allowed: true,
    findings: [['version-labels', 'Deployment/shop/web-v2', /pod template has version=v1/]],
  },
];

describe('workload changes are judged by the traffic they move', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const objects = (c.world ?? ((o: Json[]) => o))(shopObjects());
    const input = c.input(objects);
    const verdict: ReviewVerdict = typeof input === 'string' ? { allowed: true, findings: [], auditAnnotations: {} } : judgeAdmission(input, stateOf(objects), config);
    if (typeof input === 'string') expect(input).toMatch(/^skipped: subresource "status"/);
    expect({ allowed: verdict.allowed, exemption: verdict.exemption }).toEqual({ allowed: c.allowed, exemption: c.exemption });
    expect(verdict.findings.map((f) => [f.rule, f.object])).toEqual(c.findings.map(([rule, object]) => [rule, object]));
    verdict.findings.forEach((f, i) => expect(f.message).toMatch(c.findings[i]![2]));
    if (c.exemption === 'break-glass') expect(verdict.auditAnnotations).toMatchObject({ 'break-glass-reason': 'incident 42', 'break-glass-overridden': 'version-labels' });
  });

  it('judges nothing when the VirtualService routing to the subset is not guarded', () => {
    const objects = shopObjects().map((x) => (x.kind === 'Namespace' && x.metadata.name === 'shop' ? { ...x, metadata: { ...x.metadata, labels: {} } } : x));
    const input = admitted('UPDATE', relabelled(deployment(objects, 'web-v2'), { app: 'web', version: 'v1' }), deployment(objects, 'web-v2'));
    expect(judgeAdmission(input as ReviewInput, stateOf(objects), config).findings).toEqual([]);
  });

  it('leaves VirtualService reviews as they were: judgeAdmission gives review()\'s verdict, and back to green is allowed with mislabeled pods behind blue', () => {
    const { old: current, next: switched } = currentAndEdited(primaryTo(100));
    // A v1 pod relabelled version=v2 puts two workloads behind blue.
    const objects = shopObjects().map((x) => (x.kind === 'Pod' && x.metadata.name === 'web-v1-6b7f9c4d8-x7k2p' ? { ...x, metadata: { ...x.metadata, labels: { ...x.metadata.labels, version: 'v2' } } } : x));
    const state = stateOf(objects);
    const forward = judgeAdmission(update(current, switched), state, config);
    expect(forward).toEqual(review(update(current, switched), state, config));
    expect(forward.findings.filter((f) => f.severity === 'deny').map((f) => f.rule)).toContain('version-labels');
    const back = judgeAdmission(update(switched, current), state, config);
    expect(back).toEqual(review(update(switched, current), state, config));
    expect(back.allowed).toBe(true);
  });
});
