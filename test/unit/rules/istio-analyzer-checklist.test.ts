/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- tests read raw API objects (untyped JSON) */
// Cross-check with Istio's own analyzer test data (test/fixtures/istio-analyzer/README.md):
// host-conflict (IST0109), destination-port (IST0112, and IST0101 for an unknown port),
// dr-host (IST0174), subset-selects-pods (IST0173), unreachable-route (IST0130) and
// ineffective-match (IST0131) flag exactly the objects Istio's
// analyzers flag in those files (pkg/config/analysis/analyzers/analyzers_test.go),
// object by object; where we are stricter, the test says so.
import { describe, expect, it } from '@jest/globals';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig } from '../../../src/webhook/rules-config.js';
import type { RuleId } from '../../../src/webhook/verdict.js';
import type { VirtualService } from '../../../src/istio/types.js';
import { create, dr, fixture, stateOf, vs, type Json } from './world.js';

const config = defaultRulesConfig();
const ref = (o: Json) => `${String(o.metadata.namespace ?? 'default')}/${String(o.metadata.name)}`;
const withNamespace = (o: Json): Json => ({ ...o, metadata: { namespace: 'default', ...o.metadata } });

/** Each VirtualService reviewed as a CREATE against everything else in the file; the ones `rule` flags. */
function flaggedVirtualServices(file: string, rule: RuleId, match: (message: string) => boolean = () => true): string[] {
  const objects = fixture(`istio-analyzer/${file}`).map(withNamespace);
  const services = objects.filter((o) => o.kind === 'VirtualService');
  return services
    .filter((candidate) => {
      const state = stateOf(objects.filter((o) => o !== candidate));
      return review(create(vs(candidate)), state, config).findings.some((f) => f.rule === rule && match(f.message));
    })
    .map(ref)
    .sort();
}

describe('IST0109 ConflictingMeshGatewayVirtualServiceHosts: host-conflict', () => {
  it('virtualservice_conflictingmeshgatewayhosts.yaml: the seven VirtualServices Istio flags', () => {
    expect(flaggedVirtualServices('virtualservice_conflictingmeshgatewayhosts.yaml', 'host-conflict')).toEqual(
      ['team3/ratings', 'team4/ratings', 'foo/ratings', 'bar/ratings', 'foo/productpage', 'foo/bogus-productpage', 'team2/ratings'].sort(),
    );
  });

  it('virtualservice_conflictingmeshgatewayhosts_with_exportto.yaml: the six VirtualServices Istio flags', () => {
    expect(flaggedVirtualServices('virtualservice_conflictingmeshgatewayhosts_with_exportto.yaml', 'host-conflict')).toEqual(
      ['foo/productpage', 'bar/productpage', 'foo/productpage-c', 'bar/productpage-c', 'foo/productpage-d', 'bar/productpage-d'].sort(),
    );
  });

  it('denies the second VirtualService for a host, naming the first and the fix', () => {
    const objects = fixture('istio-analyzer/virtualservice_conflictingmeshgatewayhosts.yaml');
    const second = objects.find((o) => ref(o) === 'foo/bogus-productpage') as Json;
    const verdict = review(create(vs(second)), stateOf(objects.filter((o) => o !== second)), config);
    expect(verdict.allowed).toBe(false);
    expect(verdict.findings.filter((f) => f.rule === 'host-conflict')).toEqual([
      {
        rule: 'host-conflict',
        severity: 'deny',
        object: 'VirtualService/foo/bogus-productpage',
        message:
          'VirtualService foo/bogus-productpage claims host productpage.foo.svc.cluster.local on the mesh gateway, as VirtualService foo/productpage already does for the same namespaces (Istio IST0109): ' +
          'which of the two a sidecar applies is undefined, so traffic can bypass the guarded routes. ' +
          'Fix: merge the routes into one VirtualService (e.g. VirtualService foo/productpage), or remove the host from one of them, or narrow them with exportTo or gateways.',
      },
    ]);
  });

  it('only warns about a conflict the change did not introduce, so a cutover of either is not held up by it', () => {
    const objects = fixture('istio-analyzer/virtualservice_conflictingmeshgatewayhosts.yaml');
    const first = objects.find((o) => ref(o) === 'foo/productpage') as Json;
    const old: VirtualService = vs(first);
    const next: VirtualService = { ...old, spec: { ...old.spec, http: [{ timeout: '5s', route: [{ destination: { host: 'productpage' } }] }] } };
    const verdict = review({ ...create(next), operation: 'UPDATE', oldObject: old }, stateOf(objects.filter((o) => o !== first)), config);
    expect(verdict.findings.filter((f) => f.rule === 'host-conflict').map((f) => f.severity)).toEqual(['warn']);
  });
});

describe('IST0112 VirtualServiceDestinationPortSelectorRequired: destination-port', () => {
  const file = 'virtualservice_destinationhosts.yaml';

  it('flags exactly default/reviews-2port-missing for a missing port', () => {
    expect(flaggedVirtualServices(file, 'destination-port', (m) => m.includes('IST0112'))).toEqual(['default/reviews-2port-missing']);
  });

  it("flags exactly default/reviews-bogusport for a port the Service lacks (Istio's IST0101 host:port)", () => {
    expect(flaggedVirtualServices(file, 'destination-port', (m) => m.includes('IST0101'))).toEqual(['default/reviews-bogusport']);
  });

  it('says which destination, which ports, and the fix', () => {
    const objects = fixture(`istio-analyzer/${file}`).map(withNamespace);
    const missing = objects.find((o) => ref(o) === 'default/reviews-2port-missing') as Json;
    const finding = review(create(vs(missing)), stateOf(objects), config).findings.find((f) => f.rule === 'destination-port');
    expect(finding).toEqual({
      rule: 'destination-port',
      severity: 'deny',
      object: 'VirtualService/default/reviews-2port-missing',
      message:
        'VirtualService default/reviews-2port-missing: http[0] route[0] sends to reviews-2port without a port, but Service default/reviews-2port exposes ports 80, 443 (Istio IST0112). ' +
        "Which port receives that traffic is ambiguous or nobody listens on it. Fix: set destination.port.number to one of the Service's ports on each of those destinations.",
    });
  });
});

describe('IST0174 UnknownDestinationRuleHost: dr-host', () => {
  /** Each DestinationRule reviewed as a CREATE against the rest of its file. */
  function flaggedRules(file: string): string[] {
    const objects = fixture(`istio-analyzer/${file}`).map(withNamespace);
    return objects
      .filter((o) => o.kind === 'DestinationRule')
      .filter((rule) => review(create(dr(rule)), stateOf(objects.filter((o) => o !== rule)), config).findings.some((f) => f.rule === 'dr-host'))
      .map(ref);
  }

  it.each<[string, string[]]>([
    ['destinationrule-with-fake-host.yaml', ['default/fake-host']],
    ['destinationrule-subsets-not-select-pods.yaml', []],
    ['destinationrule-subsets-with-topology-labels.yaml', []],
  ])('%s: flags %j', (file, expected) => {
    expect(flaggedRules(file)).toEqual(expected);
  });

  it('warns by default (Istio reports it as a Warning), with the host and the fix', () => {
    const [rule] = fixture('istio-analyzer/destinationrule-with-fake-host.yaml');
    const verdict = review(create(dr(rule as Json)), stateOf([]), config);
    expect(verdict.allowed).toBe(true);
    expect(verdict.findings.filter((f) => f.rule === 'dr-host')).toEqual([
      {
        rule: 'dr-host',
        severity: 'warn',
        object: 'DestinationRule/default/fake-host',
        message:
          'DestinationRule default/fake-host is for host fake-svc.default.svc.cluster.local, but Service default/fake-svc does not exist, so the rule and its subsets apply to nothing (Istio IST0174). ' +
          'Fix: correct spec.host to the Service\'s name (e.g. <service>.default.svc.cluster.local), or create Service default/fake-svc first.',
      },
    ]);
  });
});

describe('IST0173 DestinationRuleSubsetNotSelectPods: subset-selects-pods', () => {
  /** A VirtualService routing all traffic of its host to one subset, reviewed against the file: is it denied for selecting no pods? */
  function selectsNoPods(file: string): Record<string, boolean> {
    const objects = fixture(`istio-analyzer/${file}`).map(withNamespace);
    const state = stateOf(objects);
    const out: Record<string, boolean> = {};
    for (const rule of objects.filter((o) => o.kind === 'DestinationRule')) {
      for (const subset of rule.spec.subsets as Json[]) {
        const route: VirtualService = {
          kind: 'VirtualService',
          metadata: { name: `to-${String(subset.name)}`, namespace: 'default' },
          spec: { hosts: [rule.spec.host as string], http: [{ route: [{ destination: { host: rule.spec.host as string, subset: subset.name as string } }] }] },
        };
        out[`${ref(rule)} ${String(subset.name)}`] = review(create(route), state, config).findings.some((f) => f.rule === 'subset-selects-pods' && f.message.includes('no pod matches'));
      }
    }
    return out;
  }

  it('destinationrule-subsets-not-select-pods.yaml: subset fake selects no pod, as Istio reports', () => {
    expect(selectsNoPods('destinationrule-subsets-not-select-pods.yaml')).toEqual({ 'default/subsets-not-select-pods fake': true });
  });

  it('destinationrule-subsets-with-topology-labels.yaml: agrees on app-v1; stricter on the subsets that select node topology labels', () => {
    // Istio adds the Node's topology labels to the pod's (label.AugmentLabels); the webhook does not
    // cache Nodes, so a subset that selects only on them selects no pod here and is denied.
    expect(selectsNoPods('destinationrule-subsets-with-topology-labels.yaml')).toEqual({
      'default/subsets-with-topology-labels app-v1': false,
      'default/subsets-with-topology-labels region-us-west': true,
      'default/subsets-with-topology-labels zone-us-west-1a': true,
      'default/subsets-with-topology-labels mixed-labels': true,
    });
  });
});

describe('IST0130 VirtualServiceUnreachableRule and IST0131 VirtualServiceIneffectiveMatch: unreachable-route and ineffective-match', () => {
  // Istio runs both files through one analyzer (the "dupmatches" case of analyzers_test.go).
  const flagged = (rule: RuleId) => [...flaggedVirtualServices('virtualservice_dupmatches.yaml', rule), ...flaggedVirtualServices('virtualservice_overlappingmatches.yaml', rule)].sort();

  it('IST0130: the five VirtualServices Istio flags, and default/overlapping-in-two-matches, whose second route an earlier prefix takes whole', () => {
    // overlapping-in-two-matches: http[1] (uri prefix /api/v1/products, GET) fits only requests http[0]
    // (uri prefix /api/v1/product, GET) takes. Istio reports that overlap as IST0131 only, and IST0130
    // only when every entry duplicates an earlier one; here a route no request reaches is unreachable.
    expect(flagged('unreachable-route')).toEqual(
      ['default/duplicate-match', 'foo/sample-foo-cluster01', 'default/duplicate-tcp-match', 'default/duplicate-empty-tcp', 'none/tls-routing', 'default/overlapping-in-two-matches'].sort(),
    );
  });

  it('IST0131: the ten VirtualServices Istio flags, and default/uri-with-prefix-exact, where Istio compares only prefix with prefix', () => {
    // uri-with-prefix-exact: its second entry (uri exact "/", method GET) fits only requests its first
    // (uri prefix "/", any method) takes; Istio's overlap check skips an exact uri, ours does not.
    expect(flagged('ineffective-match')).toEqual(
      [
        'default/almost-duplicate-match',
        'default/duplicate-match',
        'default/almost-duplicate-tcp-match',
        'default/duplicate-tcp-match',
        'none/tls-routing-almostmatch',
        'none/tls-routing',
        'default/non-method-get',
        'default/overlapping-in-single-match',
        'default/overlapping-in-two-matches',
        'default/overlapping-mathes-with-different-methods',
        'default/uri-with-prefix-exact',
      ].sort(),
    );
  });

  it('names the entry, the entry in front that takes its requests, and the fix; a warning only', () => {
    const objects = fixture('istio-analyzer/virtualservice_dupmatches.yaml').map(withNamespace);
    const duplicate = objects.find((o) => ref(o) === 'default/duplicate-match') as Json;
    const verdict = review(create(vs(duplicate)), stateOf(objects.filter((o) => o !== duplicate)), config);
    expect(verdict.findings.filter((f) => f.rule === 'unreachable-route' || f.rule === 'ineffective-match')).toEqual([
      {
        rule: 'unreachable-route',
        severity: 'warn',
        object: 'VirtualService/default/duplicate-match',
        message:
          'VirtualService default/duplicate-match: http[1] "send /api/v1/products to sample.bar" is unreachable, because http[0] "send /api/v1/products to sample.foo" in front of it takes every request its match entries fit ' +
          '(match[0] by match[0] "prefix /api/v1/products") (Istio\'s analyzer: IST0130). ' +
          'Fix: remove http[1] "send /api/v1/products to sample.bar", or move it in front of http[0] "send /api/v1/products to sample.foo", or narrow the match in front.',
      },
      {
        rule: 'ineffective-match',
        severity: 'warn',
        object: 'VirtualService/default/duplicate-match',
        message:
          'VirtualService default/duplicate-match: http[1] "send /api/v1/products to sample.bar" match[0] never takes a request, because http[0] "send /api/v1/products to sample.foo" match[0] "prefix /api/v1/products" in front of it has the same conditions (Istio\'s analyzer: IST0131). ' +
          'Fix: remove match[0], or move http[1] "send /api/v1/products to sample.bar" in front of http[0] "send /api/v1/products to sample.foo", or narrow http[0] "send /api/v1/products to sample.foo" match[0] "prefix /api/v1/products".',
      },
    ]);
  });
});
