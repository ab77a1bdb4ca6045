/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- tests edit raw API objects (untyped JSON) in place */
// The watcher's writes are exempt from review (rollbacks are never blocked),
// except a failover drill's raise of a candidate: it carries
// bluegreen-guard.io/drill-in-progress and is judged like anyone's cutover.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { Requester } from '../../../src/webhook/verdict.js';
import { clone, find, one, podsOf, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const WATCHER: Requester = { username: 'system:serviceaccount:bluegreen-guard:bluegreen-guard-watcher', groups: ['system:serviceaccounts'] };
const scraped = { podScraped: () => true };

function unreadyBlue() {
  const objects = shopObjects();
  for (const pod of podsOf(objects, 'shop', { version: 'v2' })) pod.status.conditions = [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }];
  const d = find(objects, 'Deployment', 'shop', 'web-v2');
  d.status = { ...d.status, readyReplicas: 0, availableReplicas: 0 };
  return stateOf(objects);
}

/** Blue raised to 1 % on the primary route, with or without the drill's mark. */
function raised(marked: boolean): Json {
  const raw = clone(one('shop/vs-current.yaml'));
  setWeights(raw, 'http', 'primary', { green: 99, blue: 1 });
  if (marked) raw.metadata.annotations['bluegreen-guard.io/drill-in-progress'] = '{"id":"d1","startedAt":"2026-12-03T10:00:00.000Z"}';
  return raw;
}

describe("a drill's raise by the watcher is judged", () => {
  it('refuses a marked raise onto unready pods, as it would anyone\'s', () => {
    const verdict = review(update(vs(one('shop/vs-current.yaml')), vs(raised(true)), WATCHER), unreadyBlue(), defaultRulesConfig(), scraped);
    expect(verdict.allowed).toBe(false);
    expect(verdict.exemption).toBeUndefined();
    expect(verdict.findings.map((f) => f.rule)).toContain('pods-ready');
  });

  it('still exempts the watcher\'s other writes (its rollbacks and records)', () => {
    const verdict = review(update(vs(one('shop/vs-current.yaml')), vs(raised(false)), WATCHER), unreadyBlue(), defaultRulesConfig(), scraped);
    expect(verdict).toMatchObject({ allowed: true, exemption: 'watcher' });
  });
});
