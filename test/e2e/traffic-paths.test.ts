// Traffic reaches a version by more paths than a weight: a match removed, a
// route in front deleted, the VirtualService deleted, a DestinationRule
// relabelling a routed subset. Each, with v2 failing, is refused on a real
// `kubectl` through the real kube-apiserver and the webhook process, with a
// message naming the path and the fix (src/istio/traffic.ts, docs/rules.md).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { stringify } from 'yaml';
import type { Scene } from '../support/stage-scene.js';
import { VS_API } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';

jest.setTimeout(180_000);

let stage: Stage;

beforeAll(async () => {
  stage = await startStage({ watchers: 0 });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

interface HttpRoute {
  name: string;
  match?: unknown[];
  subset: string;
}

/** The scene's VirtualService with the given http routes, each to one subset on port 80. */
function virtualService(scene: Scene, routes: HttpRoute[]): string {
  return stringify({
    apiVersion: VS_API,
    kind: 'VirtualService',
    metadata: { name: scene.virtualServiceName, namespace: scene.namespace },
    spec: {
      hosts: [scene.host],
      http: routes.map((r) => ({ name: r.name, ...(r.match ? { match: r.match } : {}), route: [{ destination: { host: scene.host, subset: r.subset, port: { number: 80 } } }] })),
    },
  });
}

const CANARY_MATCH = [{ headers: { 'x-canary': { exact: 'always' } } }];

async function mustAdmit(scene: Scene, manifest: string): Promise<void> {
  const result = await scene.apply(manifest);
  expect({ code: result.code, stderr: result.stderr.split('\n').filter((l) => l && !l.startsWith('Warning: ')) }).toEqual({ code: 0, stderr: [] });
}

/** Refused by the webhook, on a dry run and for real, with the rule and the message. */
async function expectRefused(result: () => Promise<{ code: number; stderr: string }>, rule: string, message: RegExp): Promise<string> {
  const r = await result();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`admission webhook "${stage.chart.webhookName}" denied the request`);
  expect(r.stderr).toContain(`[${rule}]`);
  expect(r.stderr).toMatch(message);
  return r.stderr;
}

/** A scene where blue already gets the testers' requests through a header-matched route, and then fails. */
async function blueBehindHeader(prefix: string, options: { pinnedInFront?: boolean } = {}): Promise<Scene> {
  const scene = await stage.seed({ namespacePrefix: prefix, traffic: false });
  await mustAdmit(scene, scene.destinationRule());
  await scene.waitUntilScraped();
  const { stableSubset: green, candidateSubset: blue } = scene;
  const front: HttpRoute[] = options.pinnedInFront ? [{ name: 'pinned', match: CANARY_MATCH, subset: green }] : [];
  await mustAdmit(scene, virtualService(scene, [...front, { name: 'canary', match: CANARY_MATCH, subset: blue }, { name: 'primary', subset: green }]));
  await scene.setV2Ready(false);
  return scene;
}

describe('paths that send traffic to a failing v2 are refused, naming the path and the fix', () => {
  it('match opened: removing the match of a header route to blue', async () => {
    const scene = await blueBehindHeader('match-opened');
    const { stableSubset: green, candidateSubset: blue } = scene;
    const opened = virtualService(scene, [{ name: 'canary', subset: blue }, { name: 'primary', subset: green }]);
    const stderr = await expectRefused(() => scene.apply(opened), 'pods-ready', new RegExp(`removing the match of http\\[0\\] "canary" sends every request to subset ${blue} of \\S+ \\(100% of http\\[0\\] "canary"\\), but .* is not Ready`));
    expect(stderr).toMatch(/Fix: .*then apply the change again\. Or keep the route's match and the routes in front of it as they were/);
    expect(await scene.apply(opened, { dryRun: true })).toMatchObject({ code: 1 });
  });

  it('route in front deleted: the route that took the same requests to green is removed', async () => {
    const scene = await blueBehindHeader('front-deleted', { pinnedInFront: true });
    const { stableSubset: green, candidateSubset: blue } = scene;
    const without = virtualService(scene, [{ name: 'canary', match: CANARY_MATCH, subset: blue }, { name: 'primary', subset: green }]);
    await expectRefused(() => scene.apply(without), 'pods-ready', new RegExp(`deleting http\\[0\\] "pinned" in front of http\\[0\\] "canary" sends the requests it took to subset ${blue} of \\S+`));
  });

  it('VirtualService deleted: every version behind the Service gets traffic', async () => {
    const scene = await stage.seed({ namespacePrefix: 'vs-deleted', traffic: false, v2: { probes: false } });
    await mustAdmit(scene, scene.destinationRule());
    const ns = scene.namespace;
    const stderr = await expectRefused(
      () => stage.cp.kubectl(['delete', 'virtualservice', scene.virtualServiceName, '-n', ns]),
      'probes',
      new RegExp(`Deleting VirtualService ${ns}/reviews sends every request for reviews\\.${ns}\\.svc\\.\\S+ to all versions behind Service ${ns}/reviews, not only its stable subset ${scene.stableSubset}, but Deployment ${ns}/reviews-v2 has containers without probes`),
    );
    expect(stderr).toMatch(new RegExp(`Or keep VirtualService ${ns}/reviews until every version behind Service ${ns}/reviews passes, or scale the other versions to 0 first\\.`));
    const stored = await stage.cp.kubectl(['get', 'virtualservice', scene.virtualServiceName, '-n', ns, '-o', 'name']);
    expect(stored.stdout.trim()).toBe(`virtualservice.networking.istio.io/${scene.virtualServiceName}`);
  });

  it('DestinationRule relabel: the routed stable subset re-pointed at v2', async () => {
    const scene = await stage.seed({ namespacePrefix: 'dr-relabel', traffic: false, v2: { probes: false } });
    const relabelled = stringify({
      apiVersion: VS_API,
      kind: 'DestinationRule',
      metadata: { name: scene.service, namespace: scene.namespace },
      spec: { host: scene.host, subsets: [{ name: scene.stableSubset, labels: { version: 'v2' } }] },
    });
    await expectRefused(
      () => scene.apply(relabelled),
      'probes',
      new RegExp(`Relabelling subset ${scene.stableSubset} of \\S+ in DestinationRule ${scene.namespace}/reviews \\(version=v1 → version=v2\\) sends its traffic \\(100% in http\\[0\\] "testers", 100% in http\\[1\\] "primary" of VirtualService ${scene.namespace}/reviews\\) to pods it did not select before, but Deployment ${scene.namespace}/reviews-v2 has containers without probes.*Or keep subset ${scene.stableSubset}'s labels`),
    );
  });
});
