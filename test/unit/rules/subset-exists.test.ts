/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { Finding } from '../../../src/webhook/verdict.js';
import { clone, create, find, one, remove, route, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config = defaultRulesConfig();

function judge(edit: (v: Json) => void, editState: (objects: Json[]) => Json[] = (o) => o, asCreate = false): Finding[] {
  const raw = one('shop/vs-current.yaml');
  const next = clone(raw);
  edit(next);
  const state = stateOf(editState(shopObjects()));
  const input = asCreate ? create(vs(next)) : update(vs(raw), vs(next));
  return review(input, state, config).findings.filter((f) => f.rule === 'subset-exists');
}

describe('subset-exists', () => {
  const same = (o: Json[]) => o;
  it.each<[string, (v: Json) => void, (o: Json[]) => Json[]]>([
    ['the current VirtualService (short host, FQDN host, DestinationRule in the root namespace, mirrors)', () => undefined, same],
    ['a timeout change', (v) => (route(v, 'http', 'primary').timeout = '10s'), same],
    ['a route to an FQDN host whose DestinationRule uses a short name', (v) => (route(v, 'tls', 0).route[1].destination.host = 'web.shop.svc.cluster.local'), same],
    ['a mirror to a subset defined in the root namespace', (v) => (route(v, 'http', 'payments').mirrors[0].destination.subset = 'green'), same],
    ['a destination without subset', (v) => delete route(v, 'http', 'testers').route[0].destination.subset, same],
    [
      'a subset defined in a second rule for the same host in the same namespace (Istio merges them)',
      (v) => (route(v, 'http', 'testers').route[0].destination.subset = 'purple'),
      (o) => [...o, { ...clone(find(o, 'DestinationRule', 'shop', 'web')), metadata: { name: 'web-extra', namespace: 'shop' }, spec: { host: 'web', subsets: [{ name: 'purple', labels: { version: 'v3' } }] } }],
    ],
  ])('allows %s', (_what, edit, editState) => {
    expect(judge(edit, editState)).toEqual([]);
  });

  it.each<[string, (v: Json) => void, ((o: Json[]) => Json[]) | undefined, string]>([
    [
      'an http route to a subset no DestinationRule defines',
      (v) => (route(v, 'http', 'primary').route[1].destination.subset = 'purple'),
      undefined,
      'VirtualService shop/web routes 0% (http[2] "primary") to subset purple of web.shop.svc.cluster.local, but no DestinationRule for that host defines subset purple (looked in shop, istio-system): ' +
        'DestinationRule shop/web, which Istio applies to that host, defines only green, blue. Fix: add subset purple to DestinationRule shop/web, or route to an existing subset.',
    ],
    [
      'a typo in a mirror',
      (v) => (route(v, 'http', 'primary').mirror.subset = 'bleu'),
      undefined,
      'VirtualService shop/web mirrors http[2] "primary" to subset bleu of web.shop.svc.cluster.local, but no DestinationRule for that host defines subset bleu',
    ],
    [
      'a typo in mirrors[] to a host whose rule lives in the root namespace',
      (v) => (route(v, 'http', 'payments').mirrors[0].destination.subset = 'bleu'),
      undefined,
      'mirrors http[1] "payments" to subset bleu of payments.pay.svc.cluster.local, but no DestinationRule for that host defines subset bleu (looked in shop, pay, istio-system): DestinationRule istio-system/payments',
    ],
    [
      'a tcp route to a missing subset',
      (v) => (route(v, 'tcp', 0).route[1].destination.subset = 'purple'),
      undefined,
      'routes 0% (tcp[0]) to subset purple of web.shop.svc.cluster.local',
    ],
    [
      'a tls route to a missing subset',
      (v) => (route(v, 'tls', 0).route[0].destination.subset = 'purple'),
      undefined,
      'routes 100% (tls[0]) to subset purple',
    ],
    [
      'a host with no DestinationRule at all',
      (v) => (route(v, 'http', 'payments').route[0].destination.host = 'ledger.pay.svc.cluster.local'),
      undefined,
      'VirtualService shop/web routes 100% (http[1] "payments") to subset green of ledger.pay.svc.cluster.local, but no DestinationRule for that host defines subset green (looked in shop, pay, istio-system). ' +
        'Fix: create a DestinationRule for host ledger.pay.svc.cluster.local in namespace shop with subset green, or route to an existing subset.',
    ],
    [
      '`name.namespace`, which Istio does not expand to the service host',
      (v) => (route(v, 'http', 'payments').route[0].destination.host = 'payments.pay'),
      undefined,
      'subset green of payments.pay, but no DestinationRule for that host defines subset green (looked in shop, istio-system)',
    ],
    [
      'a subset defined only in a rule shadowed by one in the VirtualService namespace',
      () => undefined,
      (o) => [...o, { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'payments-local', namespace: 'shop' }, spec: { host: 'payments.pay.svc.cluster.local', subsets: [{ name: 'green', labels: { version: 'v1' } }] } }],
      'mirrors http[1] "payments" to subset blue of payments.pay.svc.cluster.local, but no DestinationRule for that host defines subset blue (looked in shop, pay, istio-system): ' +
        'DestinationRule shop/payments-local, which Istio applies to that host, defines only green; DestinationRule istio-system/payments defines blue, but Istio uses the rule in the first namespace that has one.',
    ],
    [
      'a subset whose DestinationRule is exported only to its own namespace',
      () => undefined,
      (o) => {
        find(o, 'DestinationRule', 'istio-system', 'payments').spec.exportTo = ['.'];
        return o;
      },
      'subset green of payments.pay.svc.cluster.local, but no DestinationRule for that host defines subset green (looked in shop, pay, istio-system).',
    ],
    [
      'every reference once the DestinationRule is gone, grouped per subset',
      () => undefined,
      (o) => remove(o, (x) => x.kind === 'DestinationRule' && x.metadata.name === 'web'),
      'VirtualService shop/web names subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 0% in http[2] "primary", mirror of http[2] "primary", 0% in tcp[0], 0% in tls[0])',
    ],
  ])('denies %s', (_what, edit, editState, message) => {
    const findings = judge(edit, editState);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.severity === 'deny' && f.object === 'VirtualService/shop/web')).toBe(true);
    expect(findings.map((f) => f.message).join('\n')).toContain(message);
  });

  it('judges a short host relative to the VirtualService, not to the service', () => {
    // The same VirtualService moved to namespace `front`: `web` now means web.front.svc.cluster.local.
    const raw = one('shop/vs-current.yaml');
    raw.metadata.namespace = 'front';
    const findings = review(create(vs(raw)), stateOf(shopObjects()), config).findings.filter((f) => f.rule === 'subset-exists');
    expect(findings.map((f) => f.message.slice(0, f.message.indexOf(','))).sort()).toEqual([
      'VirtualService front/web names subset blue of web.front.svc.cluster.local (100% in http[0] "testers"',
      'VirtualService front/web names subset green of web.front.svc.cluster.local (100% in http[2] "primary"',
    ]);
  });

  it('is judged on a change that raises no candidate (structural rule)', () => {
    const findings = judge((v) => {
      route(v, 'http', 'primary').timeout = '10s';
      route(v, 'http', 'primary').mirror.subset = 'bleu';
    });
    expect(findings.map((f) => f.severity)).toEqual(['deny']);
  });

  it('is judged on CREATE as on UPDATE', () => {
    expect(judge((v) => (route(v, 'tcp', 0).route[1].destination.subset = 'purple'), undefined, true).map((f) => f.severity)).toEqual(['deny']);
  });
});
