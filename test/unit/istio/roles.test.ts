import { describe, expect, it } from '@jest/globals';
import { STABLE_SUBSET } from '../../../src/istio/annotations.js';
import { stableSubsetOf } from '../../../src/istio/roles.js';
import type { VirtualService } from '../../../src/istio/types.js';

function vs(stable?: string): VirtualService {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: 'shop', annotations: stable === undefined ? {} : { [STABLE_SUBSET]: stable } },
    spec: { hosts: ['reviews'] },
  };
}

describe('stableSubsetOf', () => {
  it.each([
    ['the configured default when nothing is recorded', vs(), undefined, 'blue', 'blue'],
    ['the recorded subset, trimmed', vs(' v1 '), undefined, 'green', 'v1'],
    ['the default when the recorded value is blank', vs('  '), undefined, 'green', 'green'],
    ['the object as it is now on an update, not the one the update writes', vs('blue'), vs('green'), 'x', 'green'],
    ['the default when the current object records nothing, whatever the update writes', vs('blue'), vs(), 'green', 'green'],
  ])('answers %s', (_name, next, old, fallback, expected) => {
    expect(stableSubsetOf(next, old, fallback)).toBe(expected);
  });
});
