// The mesh simulator routes like a sidecar would; these are the cases the
// end-to-end tests rely on when they wait for "traffic back on v1".
import { describe, expect, it } from '@jest/globals';
import { shareFromVirtualService } from '../support/mesh-simulator.js';
import type { KubeObject } from '../support/kube-api.js';

const versions = [
  { version: 'v1', subset: 'green' },
  { version: 'v2', subset: 'blue' },
];

function vs(http: unknown[]): KubeObject {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'shop' }, spec: { hosts: ['reviews'], http } };
}

function route(...weights: [string, string, number | undefined][]): { route: unknown[] } {
  return { route: weights.map(([host, subset, weight]) => ({ destination: { host, subset }, ...(weight === undefined ? {} : { weight }) })) };
}

describe('shareFromVirtualService', () => {
  it.each([
    ['all on green', vs([route(['reviews', 'green', 100], ['reviews', 'blue', 0])]), { v1: 1, v2: 0 }],
    ['a 90/10 split', vs([route(['reviews', 'green', 90], ['reviews', 'blue', 10])]), { v1: 0.9, v2: 0.1 }],
    ['one destination without weight', vs([route(['reviews', 'blue', undefined])]), { v2: 1 }],
    ['the fully qualified host', vs([route(['reviews.shop.svc.cluster.local', 'blue', 100])]), { v2: 1 }],
    ['no subset: the Service spreads evenly', vs([route(['reviews', '', 100])]), { v1: 0.5, v2: 0.5 }],
    ['no VirtualService', undefined, { v1: 0.5, v2: 0.5 }],
    ['weights summing to zero: nothing routable', vs([route(['reviews', 'green', 0], ['reviews', 'blue', 0])]), {}],
  ])('%s', (_name, object, expected) => {
    const share = shareFromVirtualService(object, 'reviews', 'shop', versions);
    expect(Object.keys(share).sort()).toEqual(Object.keys(expected).sort());
    for (const [version, value] of Object.entries(expected)) expect(share[version]).toBeCloseTo(value, 9);
  });

  it('skips a header-matched route before the catch-all one, as plain requests would', () => {
    const headerRoute = { match: [{ headers: { 'x-canary': { exact: 'yes' } } }], ...route(['reviews', 'blue', 100]) };
    expect(shareFromVirtualService(vs([headerRoute, route(['reviews', 'green', 100])]), 'reviews', 'shop', versions)).toEqual({ v1: 1 });
  });

  it('ignores routes to other hosts', () => {
    expect(shareFromVirtualService(vs([route(['ratings', 'blue', 100]), route(['reviews', 'green', 100])]), 'reviews', 'shop', versions)).toEqual({ v1: 1 });
  });
});
