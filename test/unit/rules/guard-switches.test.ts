// The guard's own switches: in a guarded namespace, turning the guard off for
// an object or naming a stable subset on CREATE is honoured only from the
// break-glass groups.
import { describe, expect, it } from '@jest/globals';
import { judgeGuardSwitches } from '../../../src/webhook/rules/guard-switches.js';
import { parseRulesConfig } from '../../../src/webhook/rules-config.js';
import type { ReviewInput } from '../../../src/webhook/verdict.js';
import type { VirtualService } from '../../../src/istio/types.js';

const config = parseRulesConfig({ breakGlassGroups: ['sre'], watcherUsernames: ['system:serviceaccount:bgg:watcher'] });
const vs = (annotations: Record<string, string> = {}): VirtualService => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'web', namespace: 'shop', annotations },
  spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web', subset: 'blue' }, weight: 100 }] }] },
});
const input = (operation: 'CREATE' | 'UPDATE', object: VirtualService, oldObject: VirtualService | undefined, username = 'dev', groups = ['team-shop']): ReviewInput => ({
  operation,
  object,
  oldObject,
  dryRun: false,
  requester: { username, groups },
  nowMs: 0,
});

describe('guard switches', () => {
  it.each<[string, ReviewInput]>([
    ['guard: disabled added on UPDATE', input('UPDATE', vs({ 'bluegreen-guard.io/guard': 'disabled' }), vs())],
    ['guard set to an unknown value', input('UPDATE', vs({ 'bluegreen-guard.io/guard': 'off' }), vs())],
    ['guard: disabled on CREATE', input('CREATE', vs({ 'bluegreen-guard.io/guard': 'disabled' }), undefined)],
    ['a stable subset named on CREATE', input('CREATE', vs({ 'bluegreen-guard.io/stable-subset': 'blue' }), undefined)],
  ])('refuses %s from a normal user, naming who may set it', (_what, change) => {
    const v = judgeGuardSwitches(change, true, config);
    expect(v.kind).toBe('refused');
    expect(v.kind === 'refused' && v.message).toMatch(/^VirtualService shop\/web sets bluegreen-guard\.io\/(guard|stable-subset): \w+, a switch of the guard itself in a guarded namespace; only members of the break-glass groups \(sre\) may set it, and dev is in none\. Fix:/);
  });

  it('honours the same switch from a break-glass group', () => {
    expect(judgeGuardSwitches(input('CREATE', vs({ 'bluegreen-guard.io/guard': 'disabled', 'bluegreen-guard.io/stable-subset': 'blue' }), undefined, 'ada', ['sre']), true, config)).toEqual({
      kind: 'honoured',
      switches: ['bluegreen-guard.io/guard: disabled', 'bluegreen-guard.io/stable-subset: blue'],
      group: 'sre',
    });
  });

  it.each<[string, ReviewInput, boolean]>([
    ['a namespace that is not guarded', input('UPDATE', vs({ 'bluegreen-guard.io/guard': 'disabled' }), vs()), false],
    ['guard: enabled (tightening)', input('UPDATE', vs({ 'bluegreen-guard.io/guard': 'enabled' }), vs()), true],
    ['an opt-out already stored, unchanged', input('UPDATE', vs({ 'bluegreen-guard.io/guard': 'disabled' }), vs({ 'bluegreen-guard.io/guard': 'disabled' })), true],
    ['the stable subset on UPDATE (judged by the stable-subset change rules)', input('UPDATE', vs({ 'bluegreen-guard.io/stable-subset': 'blue' }), vs()), true],
    ['the watcher', input('UPDATE', vs({ 'bluegreen-guard.io/guard': 'disabled' }), vs(), 'system:serviceaccount:bgg:watcher', []), true],
  ])('lets through %s', (_what, change, guarded) => {
    expect(judgeGuardSwitches(change, guarded, config)).toEqual({ kind: 'none' });
  });

  it('says nobody may set a switch when no break-glass group is configured', () => {
    const v = judgeGuardSwitches(input('CREATE', vs({ 'bluegreen-guard.io/stable-subset': 'blue' }), undefined), true, parseRulesConfig({}));
    expect(v.kind === 'refused' && v.message).toContain('nobody may set it here: no break-glass groups are configured (rules.breakGlassGroups)');
  });
});
