import { describe, expect, it } from '@jest/globals';
import { STABLE_SUBSET } from '../../../src/istio/annotations.js';
import type { VirtualService } from '../../../src/istio/types.js';
import { candidateRouteWeights, checkRolledBack, planRollback } from '../../../src/watcher/plan-rollback.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import { routesOf, subsetShare } from '../../../src/istio/routes.js';
import { applyPatch } from './support/rfc6902.js';
import { differingPaths, loadVirtualService } from './support/fixtures.js';

const WEIGHT_PATH = /^\/spec\/(http|tcp|tls)\/\d+\/route\/\d+\/weight$/;

function stableOf(vs: VirtualService): string {
  return vs.metadata.annotations?.[STABLE_SUBSET] ?? 'green';
}

function rollBack(vs: VirtualService): { after: VirtualService; changed: string[] } {
  const plan = planRollback(vs, { stableSubset: stableOf(vs) }, DEFAULT_MESH);
  if (plan.outcome !== 'patch') throw new Error(`expected a patch, got ${plan.outcome}`);
  const after = applyPatch(vs, plan.ops);
  return { after, changed: differingPaths(vs, after) };
}

describe('planRollback on realistic VirtualServices', () => {
  it.each([
    ['reviews-full-cutover.yaml', ['/spec/http/0/route/0/weight', '/spec/http/0/route/1/weight', '/spec/http/1/route/0/weight', '/spec/http/1/route/1/weight', '/spec/http/3/route/0/weight', '/spec/http/3/route/1/weight']],
    ['checkout-partial-canary.yaml', ['/spec/http/0/route/0/weight', '/spec/http/0/route/1/weight', '/spec/http/2/route/0/weight', '/spec/http/2/route/1/weight']],
    ['ledger-tcp-tls.yaml', ['/spec/tcp/0/route/0/weight', '/spec/tcp/0/route/1/weight', '/spec/tls/0/route/0/weight', '/spec/tls/0/route/1/weight', '/spec/http/0/route/1/weight', '/spec/http/0/route/0/weight']],
  ])('%s: changes only the weights of routes that carry the candidate', (file, expectedPaths) => {
    const vs = loadVirtualService(file);
    const { after, changed } = rollBack(vs);
    expect(changed.every((p) => WEIGHT_PATH.test(p))).toBe(true);
    expect([...changed].sort()).toEqual([...expectedPaths].sort());
    expect(checkRolledBack(after, { stableSubset: stableOf(vs) }, DEFAULT_MESH)).toEqual({ ok: true });
  });

  it('keeps every other field of the object byte for byte, metadata and unknown fields included', () => {
    const vs = loadVirtualService('reviews-full-cutover.yaml');
    const { after } = rollBack(vs);
    const withoutWeights = (o: VirtualService): unknown =>
      JSON.parse(JSON.stringify(o), (key, value: unknown) => (key === 'weight' ? undefined : value));
    expect(withoutWeights(after)).toEqual(withoutWeights(vs));
    expect(after.metadata).toEqual(vs.metadata);
    expect(after.spec.http?.[1]?.mirror).toEqual({ host: 'reviews.shop.svc.cluster.local', subset: 'green' });
    expect(after.spec.http?.[0]?.retries).toEqual({ attempts: 3, perTryTimeout: '1s', retryOn: '5xx,connect-failure,refused-stream' });
  });

  it('puts the stable subset at 100 and the candidate at 0 on every route that carried it, http, tcp and tls', () => {
    const vs = loadVirtualService('ledger-tcp-tls.yaml');
    const { after } = rollBack(vs);
    const routes = routesOf(after, 'cluster.local').filter((r) => r.destinations.some((d) => d.subset !== undefined));
    expect(routes.map((r) => [r.kind, r.index, subsetShare(r, 'blue'), subsetShare(r, 'green')])).toEqual([
      ['http', 0, 100, 0],
      ['tcp', 0, 100, 0],
      ['tls', 0, 100, 0],
    ]);
  });

  it('adds a weight the stable destination left out instead of replacing a missing field', () => {
    const vs = loadVirtualService('ledger-tcp-tls.yaml');
    const plan = planRollback(vs, { stableSubset: 'blue' }, DEFAULT_MESH);
    expect(plan.outcome).toBe('patch');
    if (plan.outcome !== 'patch') return;
    expect(plan.ops).toContainEqual({ op: 'add', path: '/spec/http/0/route/1/weight', value: 100 });
    expect(plan.ops).toContainEqual({ op: 'replace', path: '/spec/http/0/route/0/weight', value: 0 });
  });

  it('leaves a route alone whose candidate destination carries no traffic', () => {
    const vs = loadVirtualService('checkout-partial-canary.yaml');
    const { after } = rollBack(vs);
    expect(after.spec.http?.[1]).toEqual(vs.spec.http?.[1]);
  });

  it('records the weights it replaces, by route and subset', () => {
    const vs = loadVirtualService('checkout-partial-canary.yaml');
    expect(candidateRouteWeights(vs, { stableSubset: 'green' }, DEFAULT_MESH)).toEqual({
      'http[0] "mobile"': { green: 99, blue: 1 },
      'http[2] "web"': { green: 90, blue: 10 },
    });
    const plan = planRollback(vs, { stableSubset: 'green' }, DEFAULT_MESH);
    expect(plan.outcome === 'patch' && plan.changes).toEqual([
      { route: 'http[0] "mobile"', before: { green: 99, blue: 1 }, after: { green: 100, blue: 0 } },
      { route: 'http[2] "web"', before: { green: 90, blue: 10 }, after: { green: 100, blue: 0 } },
    ]);
  });

  it('does nothing on an object that is already rolled back, mirrors to the candidate included', () => {
    const vs = loadVirtualService('reviews-rolled-back.yaml');
    expect(planRollback(vs, { stableSubset: 'green' }, DEFAULT_MESH)).toEqual({ outcome: 'unchanged' });
    expect(checkRolledBack(vs, { stableSubset: 'green' }, DEFAULT_MESH)).toEqual({ ok: true });
  });

  it('is idempotent: planning again on its own result changes nothing', () => {
    for (const file of ['reviews-full-cutover.yaml', 'checkout-partial-canary.yaml', 'ledger-tcp-tls.yaml']) {
      const vs = loadVirtualService(file);
      const { after } = rollBack(vs);
      expect(planRollback(after, { stableSubset: stableOf(vs) }, DEFAULT_MESH)).toEqual({ outcome: 'unchanged' });
    }
  });

  it('reports a route with candidate traffic but no stable destination as blocked, and still moves the others', () => {
    const vs = loadVirtualService('search-header-only-candidate.yaml');
    const plan = planRollback(vs, { stableSubset: 'green' }, DEFAULT_MESH);
    expect(plan.outcome).toBe('patch');
    if (plan.outcome !== 'patch') return;
    expect(plan.blocked).toHaveLength(1);
    expect(plan.blocked[0]?.route).toBe('http[0] "testers"');
    expect(plan.blocked[0]?.message).toMatch(/catalog\/search .*no destination with the stable subset 'green'.*fix: add/);
    const after = applyPatch(vs, plan.ops);
    expect(differingPaths(vs, after).sort()).toEqual(['/spec/http/1/route/0/weight', '/spec/http/1/route/1/weight']);
    const check = checkRolledBack(after, { stableSubset: 'green' }, DEFAULT_MESH);
    expect(check).toEqual({ ok: false, problems: [`http[0] "testers" still sends 100% to subset 'blue'`] });
    expect(planRollback(after, { stableSubset: 'green' }, DEFAULT_MESH)).toMatchObject({ outcome: 'blocked' });
  });

  it('drains only the named candidates when told which they are', () => {
    const vs = loadVirtualService('checkout-partial-canary.yaml');
    expect(planRollback(vs, { stableSubset: 'green', candidateSubsets: ['purple'] }, DEFAULT_MESH)).toEqual({ outcome: 'unchanged' });
  });
});
