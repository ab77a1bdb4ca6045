// The traffic model alone (src/istio/traffic.ts): Istio's first-match order,
// catch-all shadowing, which match changes are provable narrowings, and the
// growth paths a change opens.
import { describe, expect, it } from '@jest/globals';
import { narrows, reachableDestinations, trafficChange, trafficOf } from '../../src/istio/traffic.js';
import type { VirtualService } from '../../src/istio/types.js';

const D = 'cluster.local';
type R = { name?: string; match?: unknown[]; to: Record<string, number> };
function vsOf(http: R[], tcp: R[] = []): VirtualService {
  const route = (r: R) => ({
    ...(r.name ? { name: r.name } : {}),
    ...(r.match ? { match: r.match } : {}),
    route: Object.entries(r.to).map(([subset, weight]) => ({ destination: { host: 'web', ...(subset === '-' ? {} : { subset }) }, weight })),
  });
  return { kind: 'VirtualService', metadata: { name: 'web', namespace: 'shop' }, spec: { hosts: ['web'], http: http.map(route), tcp: tcp.map(route) } };
}
const H = (v: string) => ({ headers: { 'x-canary': { exact: v } } });
const grown = (old: VirtualService | undefined, next: VirtualService) =>
  trafficChange(old, next, D)
    .destinations.filter((d) => d.grows)
    .map((d) => `${d.route.label} ${d.subset ?? '(all)'}${d.path ? ` ${d.path.kind}` : ''}`);

describe('narrows(from, to): to matches no request from does not', () => {
  it.each<[string, unknown, unknown, boolean]>([
    ['the same match', [H('1')], [H('1')], true],
    ['an OR entry removed', [H('1'), { uri: { prefix: '/a' } }], [H('1')], true],
    ['an AND condition added to an entry', [H('1')], [{ ...H('1'), uri: { prefix: '/a' } }], true],
    ['a match given to a catch-all', undefined, [H('1')], true],
    ['the match removed', [H('1')], undefined, false],
    ['an OR entry added', [H('1')], [H('1'), H('2')], false],
    ['a condition changed', [H('1')], [H('2')], false],
    ['a condition removed from an entry', [{ ...H('1'), uri: { prefix: '/a' } }], [H('1')], false],
  ])('%s: %s', (_what, from, to, expected) => {
    const f = trafficOf(vsOf([{ match: from as unknown[] | undefined, to: { blue: 1 } }]), D)[0]?.match;
    const t = trafficOf(vsOf([{ match: to as unknown[] | undefined, to: { blue: 1 } }]), D)[0]?.match;
    expect(narrows(f, t)).toBe(expected);
  });
});

describe('trafficOf and reachableDestinations', () => {
  it('a route without match, or with an empty entry, shadows every later route of its kind only', () => {
    const vs = vsOf([{ name: 'all', match: [{}], to: { green: 1 } }, { name: 'late', match: [H('1')], to: { blue: 1 } }], [{ to: { blue: 1 } }]);
    expect(trafficOf(vs, D).map((t) => [t.route.label, t.shadowedBy?.label])).toEqual([
      ['http[0] "all"', undefined],
      ['http[1] "late"', 'http[0] "all"'],
      ['tcp[0]', undefined],
    ]);
    expect(reachableDestinations(vs, D).map((d) => `${d.route.label} ${d.subset} ${d.sharePercent}`)).toEqual(['http[0] "all" green 100', 'tcp[0] blue 100']);
  });

  it('leaves out destinations at 0% and names a destination without subset', () => {
    const vs = vsOf([{ to: { green: 100, blue: 0, '-': 0 } }, { to: { '-': 1 } }]);
    expect(reachableDestinations(vs, D).map((d) => `${d.route.label} ${d.subset ?? '(all)'}`)).toEqual(['http[0] green']);
    expect(reachableDestinations(vsOf([{ match: [H('1')], to: { '-': 1 } }]), D).map((d) => d.subset)).toEqual([undefined]);
  });
});

describe('trafficChange: which destinations may get more traffic', () => {
  const base = () => vsOf([{ name: 'canary', match: [H('1')], to: { blue: 1 } }, { name: 'primary', to: { green: 100, blue: 0 } }]);

  it.each<[string, VirtualService, VirtualService, string[]]>([
    ['nothing changed', base(), base(), []],
    ['a new object: every routed destination', undefined as unknown as VirtualService, base(), ['http[0] "canary" blue new-route', 'http[1] "primary" green new-route']],
    ['the canary match removed', base(), vsOf([{ name: 'canary', to: { blue: 1 } }, { name: 'primary', to: { green: 100, blue: 0 } }]), ['http[0] "canary" blue match-removed']],
    ['the canary match widened (not provably: the catch-all behind may get more too)', base(), vsOf([{ name: 'canary', match: [{ uri: { prefix: '/' } }], to: { blue: 1 } }, { name: 'primary', to: { green: 100, blue: 0 } }]), ['http[0] "canary" blue match-changed', 'http[1] "primary" green front-match-changed']],
    ['the canary route deleted: the catch-all behind it takes its requests', base(), vsOf([{ name: 'primary', to: { green: 100, blue: 0 } }]), ['http[0] "primary" green front-deleted']],
    ['the canary match narrowed', base(), vsOf([{ name: 'canary', match: [{ ...H('1'), uri: { prefix: '/a' } }], to: { blue: 1 } }, { name: 'primary', to: { green: 100, blue: 0 } }]), ['http[1] "primary" green front-match-changed']],
    ['a route inserted in front of the canary', base(), vsOf([{ name: 'pin', match: [H('1')], to: { green: 1 } }, { name: 'canary', match: [H('1')], to: { blue: 1 } }, { name: 'primary', to: { green: 100, blue: 0 } }]), ['http[0] "pin" green new-route']],
    ['blue raised in the catch-all', base(), vsOf([{ name: 'canary', match: [H('1')], to: { blue: 1 } }, { name: 'primary', to: { green: 90, blue: 10 } }]), ['http[1] "primary" blue']],
    ['the canary moved behind the catch-all: unreachable, nothing grows there', base(), vsOf([{ name: 'primary', to: { green: 100, blue: 0 } }, { name: 'canary', match: [H('1')], to: { blue: 1 } }]), ['http[0] "primary" green front-moved']],
    ['an unnamed route keeps its identity by position when its match changes', vsOf([{ match: [H('1')], to: { blue: 1 } }]), vsOf([{ match: [H('2')], to: { blue: 1 } }]), ['http[0] blue match-changed']],
  ])('%s', (_what, old, next, expected) => {
    expect(grown(old, next)).toEqual(expected);
  });
});
