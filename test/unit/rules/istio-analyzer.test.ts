/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
// Cross-check with Istio's analyzer test data (see test/fixtures/istio-analyzer/README.md):
// subset-exists flags exactly the VirtualServices Istio's analyzer flags.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import { create, fixture, stateOf, vs } from './world.js';

describe("Istio's analyzer data: virtualservice_destinationrules.yaml", () => {
  const objects = fixture('istio-analyzer/virtualservice_destinationrules.yaml');
  const state = stateOf(objects.filter((o) => o.kind === 'DestinationRule'));
  const virtualServices = objects.filter((o) => o.kind === 'VirtualService');

  it('holds the five VirtualServices the analyzer test expects', () => {
    expect(virtualServices.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'default/reviews',
      'default/reviews-bogussubset',
      'default/reviews-fqdn',
      'default/reviews-mirror',
      'default/reviews-mirror-bogussubset',
    ]);
  });

  it('flags exactly default/reviews-bogussubset and default/reviews-mirror-bogussubset', () => {
    const flagged = virtualServices
      .map(vs)
      .map((v) => review(create(v), state, defaultRulesConfig()))
      .flatMap((verdict) => verdict.findings.filter((f) => f.rule === 'subset-exists'))
      .map((f) => f.object);
    expect(flagged).toEqual(['VirtualService/default/reviews-bogussubset', 'VirtualService/default/reviews-mirror-bogussubset']);
  });

  it('explains the mirror case by naming the mirror, the host and where it looked', () => {
    const mirror = vs(virtualServices[4] ?? {});
    const finding = review(create(mirror), state, defaultRulesConfig()).findings.find((f) => f.rule === 'subset-exists');
    expect(finding?.message).toBe(
      'VirtualService default/reviews-mirror-bogussubset mirrors http[0] to subset bogus of reviews.default.svc.cluster.local, ' +
        'but no DestinationRule for that host defines subset bogus (looked in default, istio-system): ' +
        'DestinationRule default/reviews, which Istio applies to that host, defines only v1. ' +
        'Fix: add subset bogus to DestinationRule default/reviews, or route to an existing subset.',
    );
  });
});
