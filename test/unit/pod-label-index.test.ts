import { describe, expect, it } from '@jest/globals';
import { MemoryClusterState } from '../../src/cluster/memory-cluster-state.js';
import type { Labels, Pod } from '../../src/istio/types.js';

const pod = (name: string, labels: Labels, namespace = 'shop'): Pod => ({ kind: 'Pod', metadata: { name, namespace, labels }, ready: true });
const names = (pods: readonly Pod[]) => pods.map((p) => p.metadata.name).sort();

describe('MemoryClusterState.podsMatching (label index)', () => {
  const fill = () => {
    const state = new MemoryClusterState();
    state.upsert(pod('web-v1-a', { app: 'web', version: 'v1' }));
    state.upsert(pod('web-v1-b', { app: 'web', version: 'v1' }));
    state.upsert(pod('web-v2-a', { app: 'web', version: 'v2' }));
    state.upsert(pod('db-a', { app: 'db', version: 'v1' }));
    state.upsert(pod('web-v1-other', { app: 'web', version: 'v1' }, 'other'));
    return state;
  };

  it.each<[string, Labels, string[]]>([
    ['every label of the selector', { app: 'web', version: 'v1' }, ['web-v1-a', 'web-v1-b']],
    ['one label', { version: 'v1' }, ['db-a', 'web-v1-a', 'web-v1-b']],
    ['a value nobody carries', { app: 'web', version: 'v3' }, []],
    ['a key nobody carries', { tier: 'front' }, []],
    ['an empty selector: every pod of the namespace', {}, ['db-a', 'web-v1-a', 'web-v1-b', 'web-v2-a']],
  ])('selects by %s, within the namespace only', (_, selector, expected) => {
    expect(names(fill().podsMatching('shop', selector))).toEqual(expected);
  });

  it('follows relabels, removals and relists', () => {
    const state = fill();
    state.upsert(pod('web-v2-a', { app: 'web', version: 'v1' }));
    expect(names(state.podsMatching('shop', { version: 'v2' }))).toEqual([]);
    expect(names(state.podsMatching('shop', { app: 'web', version: 'v1' }))).toEqual(['web-v1-a', 'web-v1-b', 'web-v2-a']);
    state.remove('Pod', 'shop', 'web-v1-a');
    expect(names(state.podsMatching('shop', { app: 'web', version: 'v1' }))).toEqual(['web-v1-b', 'web-v2-a']);
    expect(state.count('Pod')).toBe(4);
    state.clear('Pod');
    expect(state.podsMatching('shop', {})).toEqual([]);
    expect(state.pods('other')).toEqual([]);
  });

  it('agrees with a scan of the namespace on a generated population', () => {
    const state = new MemoryClusterState();
    const all: Pod[] = [];
    for (let i = 0; i < 500; i++) {
      const p = pod(`p${i}`, { app: `a${i % 7}`, version: `v${i % 3}`, ...(i % 5 === 0 ? { canary: 'yes' } : {}) });
      all.push(p);
      state.upsert(p);
    }
    const selectors: Labels[] = [{ app: 'a3' }, { app: 'a3', version: 'v1' }, { canary: 'yes', version: 'v0' }, { app: 'a1', canary: 'no' }];
    for (const selector of selectors) {
      const scanned = all.filter((p) => Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v));
      expect(names(state.podsMatching('shop', selector))).toEqual(names(scanned));
    }
  });
});
