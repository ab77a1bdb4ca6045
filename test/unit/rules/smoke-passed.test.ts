/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// smoke-passed: a cutover of a revision needs a passing pre-traffic smoke
// test of that revision, recorded by the watcher on the VirtualService.
import { describe, expect, it } from '@jest/globals';
import { SMOKE_RESULT } from '../../../src/istio/annotations.js';
import type { SmokeRecord } from '../../../src/istio/smoke-result.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import { clone, one, primaryTo, shopObjects, stateOf, update, vs, type Json } from './world.js';

const V2 = 'shop/web-v2@5d4c8b7f6';
const record = (over: Partial<SmokeRecord> = {}): SmokeRecord => ({ subset: 'blue', version: 'v2', revisions: [V2], outcome: 'passed', at: '2026-12-02T19:00:00.000Z', url: 'http://web-v2.shop/healthz', message: 'GET http://web-v2.shop/healthz answered 200 as expected', ...over });

function canary(records: SmokeRecord[] | undefined, config: RulesConfig = defaultRulesConfig()) {
  const raw: Json = clone(one('shop/vs-current.yaml'));
  if (records) raw.metadata.annotations[SMOKE_RESULT] = JSON.stringify(records);
  const next = clone(raw);
  primaryTo(1)(next);
  return review(update(vs(raw), vs(next)), stateOf(shopObjects()), config).findings.filter((f) => f.rule === 'smoke-passed');
}

describe('smoke-passed', () => {
  it('says nothing about a revision whose pre-traffic smoke test passed', () => {
    expect(canary([record()])).toEqual([]);
  });

  it('warns by default on a failed result, with the command to run it', () => {
    const [f] = canary([record({ outcome: 'failed', message: 'GET http://web-v2.shop/healthz answered 503, expected 200' })]);
    expect(f?.severity).toBe('warn');
    expect(f?.message).toContain('pre-traffic smoke test failed at 2026-12-02T19:00:00.000Z: GET http://web-v2.shop/healthz answered 503');
    expect(f?.message).toContain('curl -fsS http://web-v2.shop/healthz');
  });

  it('does not count a result for another revision', () => {
    const [f] = canary([record({ revisions: ['shop/web-v2@0ld0ld0ld'] })]);
    expect(f?.message).toContain(`passed at 2026-12-02T19:00:00.000Z for shop/web-v2@0ld0ld0ld, but its pods now run ${V2}`);
  });

  it('denies when configured to, and flags a missing result only with requireSmokeTest', () => {
    const deny = { ...defaultRulesConfig(), modes: { ...defaultRulesConfig().modes, 'smoke-passed': 'deny' as const } };
    expect(canary([record({ outcome: 'failed' })], deny)[0]?.severity).toBe('deny');
    expect(canary(undefined, deny)).toEqual([]);
    expect(canary(undefined, { ...deny, requireSmokeTest: true })[0]?.message).toContain('no pre-traffic smoke test result is recorded');
  });
});
