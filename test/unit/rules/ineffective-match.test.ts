// ineffective-match (Istio's IST0131) and unreachable-route for a route whose
// entries earlier routes take (IST0130 short of a catch-all): which pairs of
// match entries the traffic model proves overlapping, and which it must not.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { Finding, RuleId } from '../../../src/webhook/verdict.js';
import { create, stateOf, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const to = (subset: string): Json[] => [{ destination: { host: 'web', subset } }];

function object(spec: Json): Json {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'shop' }, spec: { hosts: ['web'], ...spec } };
}

function findings(spec: Json, rule: RuleId): Finding[] {
  return review(create(vs(object(spec))), stateOf([]), config).findings.filter((f) => f.rule === rule);
}

/** Two http routes: `front` in front of `behind`. */
const twoRoutes = (front: Json, behind: Json): Json => ({ http: [{ match: [front], route: to('green') }, { match: [behind], route: to('blue') }] });

describe('ineffective-match', () => {
  it.each<[string, Json, Json]>([
    ['the same conditions, only the entry name differs', { name: 'a', uri: { prefix: '/api' } }, { name: 'b', uri: { prefix: '/api' } }],
    ['a shorter uri prefix in front', { uri: { prefix: '/api' } }, { uri: { prefix: '/api/v1' } }],
    ['a uri prefix in front of an exact uri it starts', { uri: { prefix: '/api' } }, { uri: { exact: '/api/orders' } }],
    ['no method in front of a GET', { uri: { prefix: '/api' } }, { uri: { prefix: '/api' }, method: { exact: 'GET' } }],
    ['a header prefix in front of an exact value it starts', { headers: { 'x-user': { prefix: 'qa-' } } }, { headers: { 'x-user': { exact: 'qa-alice' } } }],
    ['fewer headers in front (the one behind adds a condition)', { headers: { 'x-canary': { exact: 'always' } } }, { headers: { 'x-canary': { exact: 'always' }, 'x-user': { exact: 'bob' } } }],
    ['the same regex', { uri: { regex: '/api/v[0-9]+' } }, { uri: { regex: '/api/v[0-9]+' } }],
    ['withoutHeaders: the one behind excludes more', { withoutHeaders: { 'x-debug': { exact: '1' } } }, { withoutHeaders: { 'x-debug': { prefix: '1' } } }],
    ['ignoreUriCase in front only', { uri: { prefix: '/api' }, ignoreUriCase: true }, { uri: { prefix: '/api/v1' } }],
    ['the same port and source labels, the one behind adds a uri', { port: 8080, sourceLabels: { app: 'gw' } }, { port: 8080, sourceLabels: { app: 'gw' }, uri: { prefix: '/x' } }],
  ])('warns: %s', (_, front, behind) => {
    expect(findings(twoRoutes(front, behind), 'ineffective-match').map((f) => [f.severity, f.message.slice(0, f.message.indexOf(','))])).toEqual([
      ['warn', 'VirtualService shop/web: http[1] match[0]' + (behind.name ? ` "${String(behind.name)}"` : '') + ' never takes a request'],
    ]);
  });

  it.each<[string, Json, Json]>([
    ['a longer uri prefix in front (order matters)', { uri: { prefix: '/api/v1' } }, { uri: { prefix: '/api' } }],
    ['an exact uri in front of a prefix', { uri: { exact: '/api' } }, { uri: { prefix: '/api' } }],
    ['a prefix the uri behind does not start with', { uri: { prefix: '/api/v1' } }, { uri: { exact: '/api' } }],
    ['different regexes, even if one looks wider', { uri: { regex: '/api/.*' } }, { uri: { regex: '/api/v1' } }],
    ['a header in front that the one behind does not require', { uri: { prefix: '/' }, headers: { 'x-canary': { exact: 'always' } } }, { uri: { prefix: '/' } }],
    ['different methods', { uri: { prefix: '/api' }, method: { exact: 'GET' } }, { uri: { prefix: '/api/v1' }, method: { exact: 'POST' } }],
    ['an exact header in front of a prefix of it', { headers: { 'x-user': { exact: 'qa' } } }, { headers: { 'x-user': { prefix: 'qa' } } }],
    ['a query parameter the one behind lacks', { queryParams: { debug: { exact: '1' } } }, { queryParams: { trace: { exact: '1' } } }],
    ['ignoreUriCase behind only (it widens the uri)', { uri: { prefix: '/api' } }, { uri: { prefix: '/api/v1' }, ignoreUriCase: true }],
    ['different ports', { port: 8080 }, { port: 9090 }],
    ['different source labels', { sourceLabels: { app: 'gw' } }, { sourceLabels: { app: 'batch' } }],
    ['withoutHeaders: the one in front excludes more', { withoutHeaders: { 'x-debug': { prefix: 'a' } } }, { withoutHeaders: { 'x-debug': { exact: 'ab' } } }],
  ])('says nothing: %s', (_, front, behind) => {
    expect(findings(twoRoutes(front, behind), 'ineffective-match')).toEqual([]);
    expect(findings(twoRoutes(front, behind), 'unreachable-route')).toEqual([]);
  });

  it('an entry behind a wider one of the same route is redundant, not a lost route', () => {
    const spec = { http: [{ name: 'api', match: [{ uri: { prefix: '/api' } }, { name: 'v1', uri: { prefix: '/api/v1' } }], route: to('green') }] };
    expect(findings(spec, 'ineffective-match')).toEqual([
      {
        rule: 'ineffective-match',
        severity: 'warn',
        object: 'VirtualService/shop/web',
        message:
          'VirtualService shop/web: http[0] "api" match[1] "v1" never decides anything, because match[0] of the same route, in front of it, takes every request it fits (Istio\'s analyzer: IST0131). ' +
          'Fix: remove match[1] "v1"; the route takes those requests through match[0] already.',
      },
    ]);
    expect(findings(spec, 'unreachable-route')).toEqual([]);
  });

  it('compares tcp entries with tcp entries only', () => {
    const spec = { tcp: [{ match: [{ port: 31400 }], route: to('green') }], tls: [{ match: [{ port: 31400, sniHosts: ['web'] }], route: to('blue') }] };
    expect(findings(spec, 'ineffective-match')).toEqual([]);
    const twice = { tcp: [{ match: [{ port: 31400 }], route: to('green') }, { match: [{ port: 31400 }, { port: 31401 }], route: to('blue') }] };
    expect(findings(twice, 'ineffective-match').map((f) => f.message)).toEqual([
      'VirtualService shop/web: tcp[1] match[0] never takes a connection, because tcp[0] match[0] in front of it has the same conditions (Istio\'s analyzer: IST0131). ' +
        'Fix: remove match[0], or move tcp[1] in front of tcp[0], or narrow tcp[0] match[0].',
    ]);
    expect(findings(twice, 'unreachable-route')).toEqual([]);
  });

  it('finds a duplicate however many routes share its uri, and compares only within a bucket', () => {
    // 300 routes on prefix / that differ by a header value, then a copy of the 250th: the copy is
    // found by its conditions (a map), not by comparing it with the 299 others.
    const http: Json[] = Array.from({ length: 300 }, (_, i) => ({ match: [{ uri: { prefix: '/' }, headers: { 'x-user': { exact: `u${i}` } } }], route: to('green') }));
    http.push({ match: [{ uri: { prefix: '/' }, headers: { 'x-user': { exact: 'u250' } } }], route: to('blue') });
    expect(findings({ http }, 'ineffective-match').map((f) => f.message.slice(0, f.message.indexOf('(')))).toEqual([
      'VirtualService shop/web: http[300] match[0] never takes a request, because http[250] match[0] in front of it has the same conditions ',
    ]);
  });

  it('a duplicate of an entry already taken is taken by the same entry in front, however many routes lie between', () => {
    // /api/v1 is taken by /api; 300 routes later, a copy of /api/v1 is found by its conditions.
    const http: Json[] = [
      { match: [{ uri: { prefix: '/api' } }], route: to('green') },
      { match: [{ uri: { prefix: '/api/v1' } }], route: to('green') },
      ...Array.from({ length: 300 }, (_, i) => ({ match: [{ uri: { prefix: '/' }, headers: { 'x-user': { exact: `u${i}` } } }], route: to('green') })),
      { match: [{ uri: { prefix: '/api/v1' } }], route: to('blue') },
    ];
    expect(findings({ http }, 'ineffective-match').map((f) => f.message.slice(0, f.message.indexOf('(')))).toEqual([
      'VirtualService shop/web: http[1] match[0] never takes a request, because http[0] match[0] in front of it takes every request it fits ',
      'VirtualService shop/web: http[302] match[0] never takes a request, because http[0] match[0] in front of it takes every request it fits ',
    ]);
  });
});

describe('unreachable-route: every entry taken by earlier routes', () => {
  it('names each entry, the route that takes it, and the fix', () => {
    const spec = {
      http: [
        { name: 'api', match: [{ uri: { prefix: '/api' } }], route: to('green') },
        { name: 'admin', match: [{ uri: { prefix: '/admin' } }], route: to('green') },
        { name: 'both', match: [{ uri: { prefix: '/api/v2' } }, { uri: { exact: '/admin/users' } }], route: to('blue') },
      ],
    };
    expect(findings(spec, 'unreachable-route')).toEqual([
      {
        rule: 'unreachable-route',
        severity: 'warn',
        object: 'VirtualService/shop/web',
        message:
          'VirtualService shop/web: http[2] "both" is unreachable, because http[0] "api" and http[1] "admin" in front of it take every request its match entries fit (match[0] by http[0] "api" match[0], match[1] by http[1] "admin" match[0]) (Istio\'s analyzer: IST0130). ' +
          'Fix: remove http[2] "both", or move it in front of http[0] "api", or narrow the match in front.',
      },
    ]);
    expect(findings(spec, 'ineffective-match')).toHaveLength(2);
  });

  it('a route with one entry left that no route in front takes is reachable', () => {
    const spec = { http: [{ match: [{ uri: { prefix: '/api' } }], route: to('green') }, { match: [{ uri: { prefix: '/api/v2' } }, { uri: { prefix: '/beta' } }], route: to('blue') }] };
    expect(findings(spec, 'unreachable-route')).toEqual([]);
    expect(findings(spec, 'ineffective-match')).toHaveLength(1);
  });

  it('off: the rules say nothing', () => {
    const off = { ...config, modes: { ...config.modes, 'ineffective-match': 'off' as const, 'unreachable-route': 'off' as const } };
    const spec = twoRoutes({ uri: { prefix: '/api' } }, { uri: { prefix: '/api' } });
    const all = review(create(vs(object(spec))), stateOf([]), off).findings;
    expect(all.filter((f) => f.rule === 'ineffective-match' || f.rule === 'unreachable-route')).toEqual([]);
  });
});
