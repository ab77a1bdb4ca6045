import { describe, expect, it } from '@jest/globals';
import { MemoryClusterState } from '../../../src/cluster/memory-cluster-state.js';
import { isGuarded } from '../../../src/istio/guard.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import { defaultRulesConfig, parseRulesConfig } from '../../../src/webhook/rules-config.js';
import { one, vs } from './world.js';

describe('rules config', () => {
  it('has the documented defaults', () => {
    const c = defaultRulesConfig();
    expect(c.modes).toEqual({
      'subset-exists': 'deny',
      'subset-in-use': 'deny',
      'subset-selects-pods': 'deny',
      'version-labels': 'deny',
      probes: 'deny',
      'pods-ready': 'deny',
      'zero-start': 'deny',
      weights: 'deny',
      'metrics-scraped': 'deny',
      'canary-first': 'warn',
      'rollback-latch': 'deny',
      'keep-previous': 'deny',
      'smoke-passed': 'warn',
      jobs: 'deny',
      'host-conflict': 'deny',
      'destination-port': 'deny',
      'dr-host': 'warn',
      'unreachable-route': 'warn',
      'ineffective-match': 'warn',
    });
    expect(c).toMatchObject({
      rootNamespace: 'istio-system',
      clusterDomain: 'cluster.local',
      canaryMaxWeightPercent: 1,
      defaultStableSubset: 'green',
      watcherUsernames: ['system:serviceaccount:bluegreen-guard:bluegreen-guard-watcher'],
      breakGlassGroups: [],
      latchAckGroups: [],
      keepPreviousSeconds: 3600,
      restartWindowSeconds: 600,
      jobLabels: { service: 'app', version: 'version' },
      probePaths: {},
    });
  });

  it('reads restartWindowSeconds, jobLabels and probePaths', () => {
    const c = parseRulesConfig({ restartWindowSeconds: 120, jobLabels: { service: 'app.kubernetes.io/name' }, probePaths: { readinessPath: '/ready', livenessPath: '/live' } });
    expect(c.restartWindowSeconds).toBe(120);
    expect(c.jobLabels).toEqual({ service: 'app.kubernetes.io/name', version: 'version' });
    expect(c.probePaths).toEqual({ readinessPath: '/ready', livenessPath: '/live' });
  });

  it.each<[string, unknown, string]>([
    ['a negative restart window', { restartWindowSeconds: -1 }, 'rules config: restartWindowSeconds is number -1. Fix: set it to a whole number of seconds, 0 or more (default 600; 0 ignores restarts).'],
    ['a job label key that is not a field', { jobLabels: { team: 'x' } }, 'rules config: jobLabels.team is not a field. Fix: use service or version (e.g. jobLabels: { service: app, version: version }).'],
    ['an empty job label key', { jobLabels: { version: '' } }, "rules config: jobLabels.version is ''. Fix: set it to a non-empty string (e.g. jobLabels: { service: app, version: version })."],
    ['a probe path without a slash', { probePaths: { readinessPath: 'ready' } }, "rules config: probePaths.readinessPath is 'ready'. Fix: write an HTTP path starting with '/', e.g. /ready."],
    ['probe paths as a list', { probePaths: ['/ready'] }, 'rules config: probePaths must be a mapping, got a list. Fix: e.g. probePaths: { readinessPath: /ready, livenessPath: /live }.'],
  ])('refuses %s with the field and the fix', (_what, raw, message) => {
    expect(() => parseRulesConfig(raw)).toThrow(message);
  });

  it('fills what a config leaves out with the defaults', () => {
    const c = parseRulesConfig({ modes: { probes: 'warn' }, rootNamespace: 'mesh-root', breakGlassGroups: ['sre'] });
    expect(c.modes.probes).toBe('warn');
    expect(c.modes['subset-exists']).toBe('deny');
    expect(c.rootNamespace).toBe('mesh-root');
    expect(c.breakGlassGroups).toEqual(['sre']);
    expect(parseRulesConfig(undefined)).toEqual(defaultRulesConfig());
  });

  it.each<[string, unknown, string]>([
    ['a list', ['probes'], 'rules config: expected a mapping'],
    ['an unknown field', { rootNamspace: 'x' }, "rules config: unknown field 'rootNamspace'. Fix: remove it, or use one of modes, rootNamespace"],
    ['an unknown rule', { modes: { probe: 'warn' } }, 'rules config: modes.probe is not a rule. Fix: use one of subset-exists,'],
    ['a bad mode', { modes: { probes: 'warm' } }, "rules config: modes.probes is 'warm'. Fix: set it to one of deny, warn, off."],
    ['a bad root namespace', { rootNamespace: 'Istio_System' }, "rules config: rootNamespace 'Istio_System' is not a valid namespace name."],
    ['a canary share of 0', { canaryMaxWeightPercent: 0 }, 'rules config: canaryMaxWeightPercent is number 0. Fix: set it to a number above 0 and below 100 (default 1).'],
    ['a user name list that is a string', { watcherUsernames: 'system:serviceaccount:x:y' }, 'rules config: watcherUsernames must be a list of non-empty strings'],
    ['an empty stable subset', { defaultStableSubset: '' }, "rules config: defaultStableSubset is ''. Fix: set it to a non-empty string (default 'green')."],
  ])('rejects %s, naming the field and the fix', (_what, raw, message) => {
    expect(() => parseRulesConfig(raw)).toThrow(message);
  });
});

describe('isGuarded', () => {
  const state = new MemoryClusterState();
  state.upsert({ kind: 'Namespace', metadata: { name: 'shop', labels: { 'bluegreen-guard.io/guard': 'enabled' } } });
  state.upsert({ kind: 'Namespace', metadata: { name: 'lab', labels: { 'bluegreen-guard.io/guard': 'disabled' } } });
  const at = (namespace: string, guard?: string) => {
    const raw = one('shop/vs-current.yaml');
    raw.metadata = { ...(raw.metadata as object), namespace, annotations: guard ? { 'bluegreen-guard.io/guard': guard } : {} };
    return vs(raw);
  };

  state.upsert({ kind: 'Namespace', metadata: { name: 'corp', labels: { 'corp.example/guarded': 'enabled' } } });

  it.each<[string, string, string | undefined, boolean]>([
    ['an object in an opted-in namespace', 'shop', undefined, true],
    ['an object in a namespace without the label', 'lab', undefined, false],
    ['an object in a namespace the state does not know', 'elsewhere', undefined, false],
    ['an object that opts out in an opted-in namespace', 'shop', 'disabled', false],
    ['an object that opts in in a namespace without the label', 'lab', 'enabled', true],
  ])('%s: %s', (_what, namespace, guard, expected) => {
    expect(isGuarded(at(namespace, guard), state, DEFAULT_MESH)).toBe(expected);
  });

  it.each<[string, string, boolean]>([
    ['the configured label opts a namespace in', 'corp', true],
    ['the default label does not, once another is configured', 'shop', false],
  ])('mesh.guardLabel corp.example/guarded: %s', (_what, namespace, expected) => {
    expect(isGuarded(at(namespace), state, { guardLabel: 'corp.example/guarded' })).toBe(expected);
  });
});
