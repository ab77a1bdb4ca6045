/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- tests edit raw API objects (untyped JSON) in place */
// Every path by which a change can send more traffic to a version, judged on
// the shop VirtualService (test/fixtures/shop): http[0] "testers" (header
// x-canary: always) sends its requests to blue, http[2] "primary" (no match)
// everyone else to green. Each path is denied with blue broken, allowed with
// blue healthy; taking traffic away from blue is never blocked.
import { describe, expect, it } from '@jest/globals';
import type { MemoryClusterState } from '../../../src/cluster/memory-cluster-state.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { ReviewInput } from '../../../src/webhook/verdict.js';
import { ALICE, clone, del, dr, find, one, podsOf, remove, route, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const current = (): Json => one('shop/vs-current.yaml');

/** Blue (v2): pods not Ready, its Deployment without a readinessProbe. */
function brokenBlue(): MemoryClusterState {
  const objects = shopObjects();
  for (const pod of podsOf(objects, 'shop', { version: 'v2' })) pod.status.conditions = [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }];
  const d = find(objects, 'Deployment', 'shop', 'web-v2');
  d.status = { ...d.status, readyReplicas: 0, availableReplicas: 0 };
  delete d.spec.template.spec.containers[0].readinessProbe;
  return stateOf(objects);
}
const healthy = (): MemoryClusterState => stateOf(shopObjects());

/** A route in front of "testers" that takes the same requests to green. */
const PINNED = { name: 'pinned', match: [{ headers: { 'x-canary': { exact: 'always' } } }], route: [{ destination: { host: 'web', subset: 'green', port: { number: 8080 } } }] };
const withPinned = (): Json => {
  const v = current();
  v.spec.http.unshift(clone(PINNED));
  return v;
};
const edited = (from: Json, edit: (v: Json) => void): Json => {
  const v = clone(from);
  edit(v);
  return v;
};

/** Each path: the object before, the object after, and what the denial must say. */
const PATHS: [string, () => { from: Json; to: Json }, string][] = [
  [
    'the match of a blue route removed',
    () => ({ from: current(), to: edited(current(), (v) => delete route(v, 'http', 'testers').match) }),
    'VirtualService shop/web: removing the match of http[0] "testers" sends every request to subset blue of web.shop.svc.cluster.local (100% of http[0] "testers")',
  ],
  [
    'the match of a blue route widened to uri prefix /',
    () => ({ from: current(), to: edited(current(), (v) => (route(v, 'http', 'testers').match = [{ uri: { prefix: '/' } }])) }),
    'VirtualService shop/web: changing the match of http[0] "testers" (only dropping match entries or adding conditions to one is known to narrow it) may send more requests to subset blue',
  ],
  [
    'an OR entry added to the match of a blue route',
    () => ({ from: current(), to: edited(current(), (v) => route(v, 'http', 'testers').match.push({ headers: { 'x-beta': { exact: '1' } } })) }),
    'changing the match of http[0] "testers"',
  ],
  [
    'the route in front of a blue route deleted',
    () => ({ from: withPinned(), to: current() }),
    'VirtualService shop/web: deleting http[0] "pinned" in front of http[0] "testers" sends the requests it took to subset blue of web.shop.svc.cluster.local (100% of http[0] "testers")',
  ],
  [
    'the routes reordered: the route in front moved behind the blue route',
    () => ({ from: withPinned(), to: edited(withPinned(), (v) => v.spec.http.splice(1, 0, v.spec.http.shift())) }),
    'VirtualService shop/web: moving http[0] "pinned" behind http[0] "testers" sends the requests it took first to subset blue',
  ],
  [
    'the match of the route in front narrowed',
    () => ({ from: withPinned(), to: edited(withPinned(), (v) => (route(v, 'http', 'pinned').match[0].uri = { prefix: '/admin' })) }),
    'changing the match of http[0] "pinned" in front of http[1] "testers" lets requests it took fall through to subset blue',
  ],
  [
    'a blue route, unreachable behind the catch-all, moved in front of it',
    () => ({ from: edited(current(), (v) => v.spec.http.push(v.spec.http.shift())), to: current() }),
    'http[0] "testers", unreachable before behind the catch-all http[1] "primary", now sends requests to subset blue',
  ],
  [
    'a destination without subset',
    () => ({ from: current(), to: edited(current(), (v) => delete route(v, 'http', 'testers').route[0].destination.subset) }),
    'VirtualService shop/web: a destination without subset in http[0] "testers" sends traffic to every version behind Service shop/web (a destination without subset), not only its stable subset green (100% of http[0] "testers")',
  ],
];

describe.each(PATHS)('a change where %s', (_what, objects, message) => {
  it('is denied when blue is broken, naming the path and the fix', () => {
    const { from, to } = objects();
    const verdict = review(update(vs(from), vs(to)), brokenBlue(), config);
    expect(verdict.allowed).toBe(false);
    const denials = verdict.findings.filter((f) => f.severity === 'deny');
    expect(denials.map((f) => f.rule).sort()).toEqual(['pods-ready', 'probes']);
    for (const f of denials) expect(f.message).toContain(message);
    expect(denials.find((f) => f.rule === 'probes')?.message).toContain('Fix: add a readinessProbe and a livenessProbe to every container of Deployment shop/web-v2, roll it out, then apply the change again.');
  });

  it('is allowed when blue is healthy', () => {
    const { from, to } = objects();
    const verdict = review(update(vs(from), vs(to)), healthy(), config);
    expect(verdict.findings.filter((f) => f.severity === 'deny')).toEqual([]);
    expect(verdict.allowed).toBe(true);
  });
});

describe('taking traffic away from blue is never blocked, with blue broken', () => {
  it.each<[string, () => { from: Json; to: Json }]>([
    ['the route below the blue route deleted', () => ({ from: current(), to: edited(current(), (v) => v.spec.http.splice(1, 1)) })],
    ['the blue route\'s match narrowed (a condition added)', () => ({ from: current(), to: edited(current(), (v) => (route(v, 'http', 'testers').match[0].uri = { prefix: '/beta' })) })],
    ['an OR entry removed from the blue route\'s match', () => ({ from: edited(current(), (v) => route(v, 'http', 'testers').match.push({ uri: { prefix: '/beta' } })), to: current() })],
    ['a match added to a catch-all blue route', () => ({ from: edited(current(), (v) => delete route(v, 'http', 'testers').match), to: current() })],
    ['a route inserted in front of the blue route', () => ({ from: current(), to: withPinned() })],
    ['the blue route deleted', () => ({ from: current(), to: edited(current(), (v) => v.spec.http.shift()) })],
    ['blue\'s weight lowered', () => ({ from: edited(current(), (v) => setWeights(v, 'http', 'primary', { green: 50, blue: 50 })), to: current() })],
    [
      'the stable subset given to a destination without one',
      () => ({ from: edited(current(), (v) => delete route(v, 'http', 'testers').route[0].destination.subset), to: edited(current(), (v) => (route(v, 'http', 'testers').route[0].destination.subset = 'green')) }),
    ],
  ])('%s', (_what, objects) => {
    const { from, to } = objects();
    const verdict = review(update(vs(from), vs(to)), brokenBlue(), config);
    expect(verdict.findings.filter((f) => f.severity === 'deny')).toEqual([]);
    expect(verdict.allowed).toBe(true);
  });
});

describe('a change that moves no traffic stays structural', () => {
  it('a timeout on the blue route is not judged by the cutover rules', () => {
    const to = edited(current(), (v) => (route(v, 'http', 'testers').timeout = '3s'));
    const verdict = review(update(vs(current()), vs(to)), brokenBlue(), config);
    expect(verdict.findings).toEqual([]);
  });
});

describe('deleting a VirtualService', () => {
  const NAMESPACE_CONTROLLER = { username: 'system:serviceaccount:kube-system:namespace-controller', groups: ['system:serviceaccounts'] };

  it('is a cutover to every version behind its hosts\' Services: denied when blue is broken', () => {
    const verdict = review(del(vs(current())), brokenBlue(), config);
    expect(verdict.allowed).toBe(false);
    const denials = verdict.findings.filter((f) => f.severity === 'deny');
    expect(denials.map((f) => f.rule).sort()).toEqual(['pods-ready', 'probes']);
    for (const f of denials) {
      expect(f.message).toContain(
        'Deleting VirtualService shop/web sends every request for web.shop.svc.cluster.local to all versions behind Service shop/web, not only its stable subset green, but ',
      );
      expect(f.message).toContain('Or keep VirtualService shop/web until every version behind Service shop/web passes, or scale the other versions to 0 first.');
    }
    // The green pods carry traffic already and are not what the delete adds.
    expect(denials.find((f) => f.rule === 'probes')?.message).toContain('Deployment shop/web-v2');
    expect(denials.find((f) => f.rule === 'probes')?.message).not.toContain('web-v1');
  });

  it('is allowed when every version behind the Service passes', () => {
    expect(review(del(vs(current())), healthy(), config).allowed).toBe(true);
  });

  it('is allowed when only the stable version is behind the Service', () => {
    const objects = remove(shopObjects(), (o) => (o.kind === 'Pod' && o.metadata.labels?.version === 'v2') || (o.kind === 'Deployment' && o.metadata.name === 'web-v2'));
    expect(review(del(vs(current())), stateOf(objects), config).findings.filter((f) => f.severity === 'deny')).toEqual([]);
  });

  it.each<[string, () => { input: ReviewInput; state: MemoryClusterState }]>([
    ['by the namespace controller', () => ({ input: del(vs(current()), NAMESPACE_CONTROLLER), state: brokenBlue() })],
    [
      'in a namespace being deleted',
      () => {
        const objects = shopObjects();
        for (const pod of podsOf(objects, 'shop', { version: 'v2' })) pod.status.conditions = [{ type: 'Ready', status: 'False' }];
        const ns = find(objects, 'Namespace', '', 'shop');
        ns.metadata.deletionTimestamp = '2026-12-02T20:00:00Z';
        ns.status = { phase: 'Terminating' };
        return { input: del(vs(current()), ALICE), state: stateOf(objects) };
      },
    ],
  ])('is never denied %s, however broken the versions behind it (a denial would wedge the namespace)', (_what, make) => {
    const { input, state } = make();
    const verdict = review(input, state, config);
    expect(verdict).toEqual({ allowed: true, findings: [], auditAnnotations: {} });
  });
});

describe('a DestinationRule relabelling a routed subset', () => {
  const webRule = (): Json => find(shopObjects(), 'DestinationRule', 'shop', 'web');
  const relabel = (labels: Record<string, string>) => {
    const before = webRule();
    const after = clone(before);
    after.spec.subsets.find((s: Json) => s.name === 'green').labels = labels;
    return update(dr(before), dr(after));
  };

  it('to another version is a cutover to it: denied when that version is broken', () => {
    const verdict = review(relabel({ version: 'v2' }), brokenBlue(), config);
    expect(verdict.allowed).toBe(false);
    const denials = verdict.findings.filter((f) => f.severity === 'deny');
    expect(denials.map((f) => f.rule).sort()).toEqual(['pods-ready', 'probes']);
    for (const f of denials) {
      expect(f.object).toBe('DestinationRule/shop/web');
      expect(f.message).toContain(
        'Relabelling subset green of web.shop.svc.cluster.local in DestinationRule shop/web (version=v1 → version=v2) sends its traffic (100% in http[2] "primary", 100% in tcp[0], 100% in tls[0] of VirtualService shop/web) to pods it did not select before, but ',
      );
      expect(f.message).toContain("Or keep subset green's labels");
    }
  });

  it('to another version is allowed when that version passes', () => {
    expect(review(relabel({ version: 'v2' }), healthy(), config).allowed).toBe(true);
  });

  it('with its labels emptied selects every version: denied (two versions, and the broken one)', () => {
    const verdict = review(relabel({}), brokenBlue(), config);
    expect(verdict.allowed).toBe(false);
    const denials = verdict.findings.filter((f) => f.severity === 'deny');
    expect(denials.map((f) => f.rule).sort()).toEqual(['pods-ready', 'probes', 'version-labels']);
    expect(denials[0]?.message).toContain('(version=v1 → no labels, so every version behind the Service)');
  });

  it('with its labels emptied is allowed when they select the same pods as before', () => {
    // Only v1 is deployed, and nothing routes to blue.
    const objects = remove(shopObjects(), (o) => (o.kind === 'Pod' && o.metadata.labels?.version === 'v2') || (o.kind === 'Deployment' && o.metadata.name === 'web-v2')).map((o) =>
      o.kind === 'VirtualService' ? edited(o, (v) => v.spec.http.shift()) : o,
    );
    expect(review(relabel({}), stateOf(objects), config).findings.filter((f) => f.severity === 'deny')).toEqual([]);
  });

  it('of a subset routed at 0% only is not a cutover', () => {
    const before = webRule();
    const after = clone(before);
    after.spec.subsets.find((s: Json) => s.name === 'blue').labels = { version: 'v1' };
    // blue is reached through http[0] "testers"; without that route it gets 0% everywhere.
    const objects = shopObjects().map((o) => (o.kind === 'VirtualService' ? edited(o, (v) => v.spec.http.shift()) : o));
    const verdict = review(update(dr(before), dr(after)), stateOf(objects), config);
    expect(verdict.findings.filter((f) => f.severity === 'deny')).toEqual([]);
  });
});

describe('unreachable-route', () => {
  it('warns about a route whose every match entry a route in front takes, like IST0130, and about the entry, like IST0131; the change is allowed', () => {
    const verdict = review(update(vs(current()), vs(withPinned())), brokenBlue(), config);
    expect(verdict.allowed).toBe(true);
    expect(verdict.findings.filter((f) => f.rule === 'unreachable-route' || f.rule === 'ineffective-match')).toEqual([
      {
        rule: 'unreachable-route',
        severity: 'warn',
        object: 'VirtualService/shop/web',
        message:
          'VirtualService shop/web: http[1] "testers" is unreachable, because http[0] "pinned" in front of it takes every request its match entries fit (match[0] by match[0]) (Istio\'s analyzer: IST0130). ' +
          'Fix: remove http[1] "testers", or move it in front of http[0] "pinned", or narrow the match in front.',
      },
      {
        rule: 'ineffective-match',
        severity: 'warn',
        object: 'VirtualService/shop/web',
        message:
          'VirtualService shop/web: http[1] "testers" match[0] never takes a request, because http[0] "pinned" match[0] in front of it has the same conditions (Istio\'s analyzer: IST0131). ' +
          'Fix: remove match[0], or move http[1] "testers" in front of http[0] "pinned", or narrow http[0] "pinned" match[0].',
      },
    ]);
  });

  it('warns about a route behind a catch-all, like IST0130', () => {
    const to = edited(current(), (v) => v.spec.http.push(v.spec.http.shift()));
    const findings = review(update(vs(current()), vs(to)), healthy(), config).findings.filter((f) => f.rule === 'unreachable-route');
    expect(findings).toEqual([
      {
        rule: 'unreachable-route',
        severity: 'warn',
        object: 'VirtualService/shop/web',
        message:
          'VirtualService shop/web: http[2] "testers" is unreachable, because http[1] "primary" in front of it has no match and takes every request (Istio\'s analyzer: IST0130). Fix: move http[2] "testers" in front of http[1] "primary", or give http[1] "primary" a match.',
      },
    ]);
  });
});
