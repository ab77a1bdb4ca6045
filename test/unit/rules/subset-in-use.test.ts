/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- tests edit raw API objects (untyped JSON) in place */
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { ReviewInput } from '../../../src/webhook/verdict.js';
import { clone, create, del, dr, find, one, shopObjects, stateOf, update, type Json } from './world.js';

const config = defaultRulesConfig();

function webRule(objects: Json[]): Json {
  return find(objects, 'DestinationRule', 'shop', 'web');
}
function paymentsRule(objects: Json[]): Json {
  return find(objects, 'DestinationRule', 'istio-system', 'payments');
}
function withoutSubset(rule: Json, name: string): Json {
  const r = clone(rule);
  r.spec.subsets = r.spec.subsets.filter((s: Json) => s.name !== name);
  return r;
}

type Case = [string, (objects: Json[]) => ReviewInput, string[]];

describe('subset-in-use', () => {
  it.each<Case>([
    ['adding a subset', (o) => update(dr(webRule(o)), dr({ ...clone(webRule(o)), spec: { ...webRule(o).spec, subsets: [...webRule(o).spec.subsets, { name: 'purple', labels: { version: 'v3' } }] } })), []],
    ['changing a subset’s traffic policy', (o) => update(dr(webRule(o)), dr({ ...clone(webRule(o)), spec: { ...webRule(o).spec, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } })), []],
    [
      'removing a subset no VirtualService names',
      (o) => {
        const before = clone(webRule(o));
        before.spec.subsets.push({ name: 'old-v0', labels: { version: 'v0' } });
        return update(dr(before), dr(webRule(o)));
      },
      [],
    ],
    [
      'deleting a root-namespace rule shadowed by one in the VirtualService namespace that defines the same subsets',
      (o) => {
        const local = { ...clone(paymentsRule(o)), metadata: { name: 'payments', namespace: 'shop' } };
        o.push(local);
        return del(dr(paymentsRule(o)));
      },
      [],
    ],
    ['creating an unrelated rule', (o) => create(dr({ ...clone(webRule(o)), metadata: { name: 'cart', namespace: 'shop' }, spec: { host: 'cart', subsets: [] } })), []],
  ])('allows %s', (_what, input, expected) => {
    const objects = shopObjects();
    const request = input(objects);
    const verdict = review(request, stateOf(objects), config);
    expect(verdict.findings.filter((f) => f.rule === 'subset-in-use').map((f) => f.message)).toEqual(expected);
    expect(verdict.allowed).toBe(true);
  });

  it.each<Case>([
    [
      'removing a subset still named at 0%, by a tester route and a mirror',
      (o) => update(dr(webRule(o)), dr(withoutSubset(webRule(o), 'blue'))),
      [
        'This change to DestinationRule shop/web leaves subset blue of web.shop.svc.cluster.local undefined, but VirtualService shop/web still names it ' +
          '(100% in http[0] "testers", 0% in http[2] "primary", mirror of http[2] "primary", 0% in tcp[0], 0% in tls[0]). ' +
          "Fix: first remove subset blue from VirtualService shop/web's routes and mirrors (make-before-break), then change the DestinationRule.",
      ],
    ],
    [
      'renaming a subset',
      (o) => {
        const renamed = clone(webRule(o));
        renamed.spec.subsets[1].name = 'candidate';
        return update(dr(webRule(o)), dr(renamed));
      },
      ['This change to DestinationRule shop/web leaves subset blue of web.shop.svc.cluster.local undefined'],
    ],
    [
      'removing a subset named only by a mirror, from the root namespace',
      (o) => update(dr(paymentsRule(o)), dr(withoutSubset(paymentsRule(o), 'blue'))),
      ['This change to DestinationRule istio-system/payments leaves subset blue of payments.pay.svc.cluster.local undefined, but VirtualService shop/web still names it (mirrors[0] of http[1] "payments")'],
    ],
    [
      'deleting a DestinationRule',
      (o) => del(dr(webRule(o))),
      [
        'Deleting DestinationRule shop/web leaves 2 subsets undefined that VirtualService shop/web still names: ' +
          'subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 0% in http[2] "primary", mirror of http[2] "primary", 0% in tcp[0], 0% in tls[0]); ' +
          'subset green of web.shop.svc.cluster.local (100% in http[2] "primary", 100% in tcp[0], 100% in tls[0]). ' +
          "Fix: first remove subset blue, green from VirtualService shop/web's routes and mirrors",
      ],
    ],
    [
      'changing the host of a rule',
      (o) => update(dr(webRule(o)), dr({ ...clone(webRule(o)), spec: { ...webRule(o).spec, host: 'web-v2' } })),
      ['This change to DestinationRule shop/web leaves 2 subsets undefined that VirtualService shop/web still names: subset blue of web.shop.svc.cluster.local'],
    ],
    [
      'creating a rule in the VirtualService namespace that shadows the root-namespace rule without the mirrored subset',
      () => create(dr({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'payments-local', namespace: 'shop' }, spec: { host: 'payments.pay.svc.cluster.local', subsets: [{ name: 'green', labels: { version: 'v1' } }] } })),
      ['Creating DestinationRule shop/payments-local leaves subset blue of payments.pay.svc.cluster.local undefined (the new rule takes precedence for clients in shop and does not define it)'],
    ],
  ])('denies %s', (_what, input, expected) => {
    const objects = shopObjects();
    const request = input(objects);
    const verdict = review(request, stateOf(objects), config);
    const findings = verdict.findings.filter((f) => f.rule === 'subset-in-use');
    expect(findings).toHaveLength(expected.length);
    findings.forEach((f, i) => {
      expect(f.severity).toBe('deny');
      expect(f.object.startsWith('DestinationRule/')).toBe(true);
      expect(f.message).toContain(expected[i]);
    });
    expect(verdict.allowed).toBe(false);
  });

  it('does not blame a change for a reference that was already broken', () => {
    const objects = shopObjects();
    const vsRaw = find(objects, 'VirtualService', 'shop', 'web');
    vsRaw.spec.http[2].mirror.subset = 'bleu'; // already broken before the change
    const before = clone(webRule(objects));
    before.spec.subsets.push({ name: 'old-v0', labels: { version: 'v0' } });
    const verdict = review(update(dr(before), dr(webRule(objects))), stateOf(objects), config);
    expect(verdict.findings).toEqual([]);
  });

  it('sees a VirtualService in another namespace that names the subset', () => {
    const objects = shopObjects();
    const other = clone(one('shop/vs-current.yaml'));
    other.metadata.namespace = 'pay';
    other.metadata.name = 'checkout';
    other.spec = { hosts: ['payments'], http: [{ route: [{ destination: { host: 'payments', subset: 'blue' }, weight: 0 }, { destination: { host: 'payments', subset: 'green' }, weight: 100 }] }] };
    objects.push(other);
    const verdict = review(update(dr(paymentsRule(objects)), dr(withoutSubset(paymentsRule(objects), 'blue'))), stateOf(objects), config);
    expect(verdict.findings.map((f) => f.message.slice(f.message.indexOf('VirtualService'), f.message.indexOf(' still')))).toEqual(['VirtualService shop/web', 'VirtualService pay/checkout']);
  });
});

describe('subset-selects-pods, on a DestinationRule change', () => {
  function relabel(edit: (rule: Json) => void, which: 'web' | 'payments' = 'web') {
    const objects = shopObjects();
    const current = which === 'web' ? webRule(objects) : paymentsRule(objects);
    const next = clone(current);
    edit(next);
    return review(update(dr(current), dr(next)), stateOf(objects), config);
  }

  it('denies re-pointing a subset that carries traffic at labels no pod has', () => {
    const verdict = relabel((r) => (r.spec.subsets[1].labels = { version: 'v3' }));
    expect(verdict.allowed).toBe(false);
    expect(verdict.findings).toEqual([
      {
        rule: 'subset-selects-pods',
        severity: 'deny',
        object: 'DestinationRule/shop/web',
        message:
          "This change to DestinationRule shop/web makes subset blue of web.shop.svc.cluster.local select no pod ('kubectl get pods -n shop -l app=web,version=v3' finds nothing), " +
          'but VirtualService shop/web routes traffic to it (100% in http[0] "testers"). ' +
          "Fix: deploy pods with those labels first, or keep subset blue's labels until traffic has moved off it.",
      },
    ]);
  });

  it.each<[string, (r: Json) => void, 'web' | 'payments']>([
    ['new labels that still select pods', (r) => (r.spec.subsets[1].labels = { version: 'v2', app: 'web' }), 'web'],
    ['a subset that is only mirrored', (r) => (r.spec.subsets[1].labels = { version: 'v9' }), 'payments'],
    ['a traffic policy change', (r) => (r.spec.trafficPolicy = { loadBalancer: { simple: 'LEAST_REQUEST' } }), 'web'],
  ])('allows %s', (_what, edit, which) => {
    expect(relabel(edit, which)).toEqual({ allowed: true, findings: [], auditAnnotations: {} });
  });
});
