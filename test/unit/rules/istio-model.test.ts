import { describe, expect, it } from '@jest/globals';
import { findHostRules } from '../../../src/istio/destination-rules.js';
import { hostCovers, resolveHost, serviceOfHost } from '../../../src/istio/hosts.js';
import { routesOf, sharesPercent } from '../../../src/istio/routes.js';
import type { DestinationRule } from '../../../src/istio/types.js';
import { one, vs } from './world.js';

const OPTS = { rootNamespace: 'istio-system', clusterDomain: 'cluster.local' };

function rule(namespace: string, name: string, host: string, subsets: string[], exportTo?: string[]): DestinationRule {
  return {
    kind: 'DestinationRule',
    metadata: { namespace, name },
    spec: { host, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })), ...(exportTo ? { exportTo } : {}) },
  };
}

describe('host names, the way Istio resolves them', () => {
  it.each([
    ['web', 'shop', 'web.shop.svc.cluster.local'],
    ['web.shop.svc.cluster.local', 'pay', 'web.shop.svc.cluster.local'],
    // Anything with a dot is taken as written (ResolveShortnameToFQDN), even `name.namespace`.
    ['web.shop', 'pay', 'web.shop'],
    ['api.example.com', 'shop', 'api.example.com'],
    ['*', 'shop', '*'],
    ['*.shop.svc.cluster.local', 'pay', '*.shop.svc.cluster.local'],
  ])('%s named in namespace %s is %s', (host, ns, fqdn) => {
    expect(resolveHost(host, ns, 'cluster.local')).toBe(fqdn);
  });

  it('finds the Service behind a cluster host and nothing behind others', () => {
    expect(serviceOfHost('web.shop.svc.cluster.local', 'cluster.local')).toEqual({ namespace: 'shop', name: 'web' });
    expect(serviceOfHost('web.shop.svc.corp.internal', 'corp.internal')).toEqual({ namespace: 'shop', name: 'web' });
    expect(serviceOfHost('api.example.com', 'cluster.local')).toBeUndefined();
    expect(serviceOfHost('*.shop.svc.cluster.local', 'cluster.local')).toBeUndefined();
  });

  it('lets a wildcard DestinationRule host cover a concrete host', () => {
    expect(hostCovers('*.shop.svc.cluster.local', 'web.shop.svc.cluster.local')).toBe(true);
    expect(hostCovers('*.pay.svc.cluster.local', 'web.shop.svc.cluster.local')).toBe(false);
    expect(hostCovers('web.shop.svc.cluster.local', 'web.shop.svc.cluster.local')).toBe(true);
  });
});

describe('weights as traffic shares', () => {
  it.each([
    [[undefined], [100]],
    [[0], [100]], // a lone destination takes everything, whatever its weight
    [[100, 0], [100, 0]],
    [[99, 1], [99, 1]],
    [[3, 1], [75, 25]], // relative weights (Istio >= 1.15)
    [[50, undefined], [100, 0]],
    [[0, 0], [0, 0]],
    [[-5, 5], [0, 100]],
  ])('weights %j give shares %j', (weights, shares) => {
    expect(sharesPercent(weights)).toEqual(shares);
  });

  it('reads http, tcp and tls routes and http mirrors of the shop VirtualService', () => {
    const routes = routesOf(vs(one('shop/vs-current.yaml')), 'cluster.local');
    expect(routes.map((r) => r.label)).toEqual(['http[0] "testers"', 'http[1] "payments"', 'http[2] "primary"', 'tcp[0]', 'tls[0]']);
    const primary = routes[2];
    expect(primary?.destinations.map((d) => [d.host, d.subset, d.sharePercent])).toEqual([
      ['web.shop.svc.cluster.local', 'green', 100],
      ['web.shop.svc.cluster.local', 'blue', 0],
    ]);
    expect(primary?.mirrors).toEqual([{ host: 'web.shop.svc.cluster.local', writtenHost: 'web', subset: 'blue', port: 8080, field: 'mirror' }]);
    expect(routes[1]?.mirrors.map((m) => [m.field, m.subset])).toEqual([['mirrors[0]', 'blue']]);
    expect(routes[3]?.destinations[0]?.host).toBe('web.shop.svc.cluster.local');
  });
});

describe('DestinationRule lookup: client namespace, service namespace, root namespace', () => {
  const host = 'web.shop.svc.cluster.local';
  it.each<[string, DestinationRule[], string, string | undefined]>([
    ['the rule in the VirtualService namespace', [rule('front', 'local', 'web.shop.svc.cluster.local', ['a']), rule('shop', 'web', 'web', ['b'])], 'front', 'front/local'],
    ['the rule in the service namespace (short host, relative to the rule)', [rule('shop', 'web', 'web', ['b'])], 'front', 'shop/web'],
    ['the rule in the root namespace', [rule('istio-system', 'web', 'web.shop.svc.cluster.local', ['c'])], 'front', 'istio-system/web'],
    ['no rule: a short host in the root namespace means a root-namespace service', [rule('istio-system', 'web', 'web', ['c'])], 'front', undefined],
    ['not a rule exported only to its own namespace', [rule('shop', 'web', 'web', ['b'], ['.'])], 'front', undefined],
    ['a rule exported to the client namespace by name', [rule('shop', 'web', 'web', ['b'], ['front'])], 'front', 'shop/web'],
    ['an exact host before a wildcard in the same namespace', [rule('shop', 'all', '*.shop.svc.cluster.local', ['w']), rule('shop', 'web', 'web', ['b'])], 'shop', 'shop/web'],
    ['a wildcard when nothing more specific exists', [rule('shop', 'all', '*.shop.svc.cluster.local', ['w'])], 'front', 'shop/all'],
    // Istio picks the most specific exported rule of a namespace first and only then checks it is exported to the
    // client (getExportedDestinationRuleFromNamespace): a less specific rule there does not stand in for it.
    [
      'the root namespace when the service namespace\'s most specific rule is not exported to the client',
      [rule('shop', 'web', 'web', ['b'], ['pay']), rule('shop', 'all', '*.shop.svc.cluster.local', ['w']), rule('istio-system', 'web', 'web.shop.svc.cluster.local', ['c'])],
      'front',
      'istio-system/web',
    ],
    // A client in the root namespace sees only the root's private rules first, then the service
    // namespace, then the root's exported rules (a mesh-wide `*.local` rule does not shadow the service's).
    ['the service namespace for a client in the root namespace, before the root\'s exported rules', [rule('istio-system', 'mesh', '*.local', []), rule('shop', 'web', 'web', ['b'])], 'istio-system', 'shop/web'],
    ['a root rule private to the root namespace, for a client there', [rule('istio-system', 'private', 'web.shop.svc.cluster.local', ['c'], ['.']), rule('shop', 'web', 'web', ['b'])], 'istio-system', 'istio-system/private'],
    ['the root\'s exported rule for a client there when the service namespace has none', [rule('istio-system', 'mesh', '*.local', [])], 'istio-system', 'istio-system/mesh'],
  ])('uses %s', (_what, rules, from, expected) => {
    const found = findHostRules(host, from, (ns) => rules.filter((r) => r.metadata.namespace === ns), OPTS);
    expect(found.rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)[0]).toBe(expected);
  });

  it('says where it looked, without repeats', () => {
    expect(findHostRules(host, 'shop', () => [], OPTS).looked).toEqual(['shop', 'istio-system']);
    expect(findHostRules(host, 'front', () => [], OPTS).looked).toEqual(['front', 'shop', 'istio-system']);
    expect(findHostRules('api.example.com', 'front', () => [], OPTS).looked).toEqual(['front', 'istio-system']);
  });
});
