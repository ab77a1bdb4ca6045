/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// host-conflict, destination-port and dr-host in the shop world: the cases a
// cutover meets, beside Istio's own data (istio-analyzer-checklist.test.ts).
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { Finding, RuleId } from '../../../src/webhook/verdict.js';
import { clone, create, currentAndEdited, dr, find, one, route, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const only = (findings: Finding[], rule: RuleId) => findings.filter((f) => f.rule === rule).map((f) => [f.severity, f.object]);

/** A second VirtualService, edited, created beside shop/web. */
function second(edit: (v: Json) => void): Finding[] {
  const raw = clone(one('shop/vs-current.yaml'));
  raw.metadata = { name: 'web-blue-shortcut', namespace: 'shop' };
  raw.spec = { hosts: ['web'], http: [{ route: [{ destination: { host: 'web', subset: 'blue', port: { number: 8080 } } }] }] };
  edit(raw);
  return review(create(vs(raw)), stateOf(shopObjects()), config).findings;
}

describe('host-conflict', () => {
  it.each<[string, (v: Json) => void, string[][]]>([
    ['a second VirtualService for web (no gateways: the mesh)', () => {}, [['deny', 'VirtualService/shop/web-blue-shortcut']]],
    ['the same host written in full', (v) => (v.spec.hosts = ['web.shop.svc.cluster.local']), [['deny', 'VirtualService/shop/web-blue-shortcut']]],
    ['the same host on the mesh among other gateways', (v) => (v.spec.gateways = ['shop/web-gateway', 'mesh']), [['deny', 'VirtualService/shop/web-blue-shortcut']]],
    ['the same host on an ingress gateway only', (v) => (v.spec.gateways = ['shop/web-gateway']), []],
    // shop/web is exported everywhere, so sidecars in checkout would see both.
    ['the same host exported only to another namespace', (v) => (v.spec.exportTo = ['checkout']), [['deny', 'VirtualService/shop/web-blue-shortcut']]],
    ['another host', (v) => (v.spec.hosts = ['payments.pay.svc.cluster.local']), []],
  ])('%s', (_what, edit, expected) => {
    expect(only(second(edit), 'host-conflict')).toEqual(expected);
  });

  it('does not compare a VirtualService with its own stored version', () => {
    const { old, next } = currentAndEdited((v) => (route(v, 'http', 'primary').timeout = '7s'));
    expect(only(review(update(old, next), stateOf(shopObjects()), config).findings, 'host-conflict')).toEqual([]);
  });
});

describe('destination-port', () => {
  it.each<[string, (v: Json) => void, string | undefined]>([
    ['every destination with a port of the Service', () => {}, undefined],
    ['a route without a port to web, which has three', (v) => delete route(v, 'http', 'testers').route[0].destination.port, 'http[0] "testers" route[0] sends to web without a port, but Service shop/web exposes ports 8080, 9000, 8443 (Istio IST0112)'],
    ['a mirror to a port web lacks', (v) => (route(v, 'http', 'primary').mirror.port.number = 8081), 'http[2] "primary" mirror sends to web port 8081, which Service shop/web does not expose (it has 8080, 9000, 8443; Istio IST0101)'],
    ['a route without a port to payments, which has one', (v) => delete route(v, 'http', 'payments').route[0].destination.port, undefined],
  ])('%s', (_what, edit, problem) => {
    const { old, next } = currentAndEdited(edit);
    const findings = review(update(old, next), stateOf(shopObjects()), config).findings.filter((f) => f.rule === 'destination-port');
    expect(findings.map((f) => f.message.split(': ').slice(1).join(': ').split('. Which port')[0])).toEqual(problem ? [problem] : []);
    expect(findings.every((f) => f.severity === 'deny')).toBe(true);
  });
});

describe('dr-host', () => {
  it.each<[string, string, string[][]]>([
    ['the Service exists', 'web', []],
    ['a typo in the host', 'wbe', [['warn', 'DestinationRule/shop/web']]],
    ['a host in another namespace that exists', 'payments.pay.svc.cluster.local', []],
    ['an external host (ServiceEntries are not checked)', 'api.example.com', []],
  ])('%s', (_what, host, expected) => {
    const objects = shopObjects();
    const raw = clone(find(objects, 'DestinationRule', 'shop', 'web'));
    const edited = clone(raw);
    edited.spec.host = host;
    const verdict = review(update(dr(raw), dr(edited)), stateOf(objects), config);
    expect(only(verdict.findings, 'dr-host')).toEqual(expected);
  });
});

describe("Istio's analyzers never block a rollback", () => {
  it('turns destination-port and host-conflict denials into warnings on a shift back to green', () => {
    const raw = clone(one('shop/vs-current.yaml'));
    const switched = clone(raw);
    setWeights(switched, 'http', 'primary', { green: 0, blue: 100 });
    const back = clone(switched);
    setWeights(back, 'http', 'primary', { green: 100, blue: 0 });
    delete route(back, 'http', 'testers').route[0].destination.port;
    const objects = shopObjects();
    const shortcut = clone(raw);
    shortcut.metadata = { name: 'web-blue-shortcut', namespace: 'shop' };
    objects.push(shortcut);
    const verdict = review(update(vs(switched), vs(back)), stateOf(objects), config);
    expect(verdict).toMatchObject({ allowed: true, exemption: 'rollback' });
    expect(verdict.findings.filter((f) => f.rule === 'destination-port' || f.rule === 'host-conflict').map((f) => [f.rule, f.severity])).toEqual([
      ['host-conflict', 'warn'],
      ['destination-port', 'warn'],
    ]);
    expect(verdict.findings.find((f) => f.rule === 'destination-port')?.message).toContain('a rollback is never blocked');
  });
});
