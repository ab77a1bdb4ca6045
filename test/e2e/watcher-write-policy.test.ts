// The chart's ValidatingAdmissionPolicy on the real API server: the watcher's
// ServiceAccount may change a VirtualService's route weights and its
// bluegreen-guard.io/ annotations, and nothing else, whatever its RBAC allows.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { installChartIdentities, renderChart, type InstalledIdentities } from '../support/stage-chart.js';
import { makeServingCertificate } from '../support/tls.js';

jest.setTimeout(120_000);

let cp: ControlPlane;
let identities: InstalledIdentities;
let namespace: string;

beforeAll(async () => {
  cp = await startControlPlane();
  const chart = await renderChart({ caPem: makeServingCertificate(mkdtempSync(join(tmpdir(), 'bgg-vap-'))).caPem });
  expect(chart.admissionPolicies.map((o) => o.kind)).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
  identities = await installChartIdentities(cp, chart);
  namespace = await cp.newNamespace('vap');
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace, labels: { app: 'reviews' }, annotations: { owner: 'shop' } },
    spec: { hosts: ['reviews'], http: [{ name: 'primary', route: [{ destination: { host: 'reviews', subset: 'green' }, weight: 0 }, { destination: { host: 'reviews', subset: 'blue' }, weight: 100 }] }] },
  };
  const created = await cp.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(vs) });
  expect(created.code).toBe(0);
}, 600_000);

afterAll(async () => {
  await cp?.stop();
}, 60_000);

const asWatcher = (patch: unknown[]) =>
  cp.kubectl(['patch', 'virtualservice', 'reviews', '-n', namespace, '--type=json', '-p', JSON.stringify(patch)], { kubeconfigPath: identities.watcherKubeconfig });

describe('ValidatingAdmissionPolicy on the watcher\'s writes', () => {
  it('admits a rollback: weights and bluegreen-guard.io/ annotations', async () => {
    const r = await asWatcher([
      { op: 'replace', path: '/spec/http/0/route/0/weight', value: 100 },
      { op: 'replace', path: '/spec/http/0/route/1/weight', value: 0 },
      { op: 'add', path: '/metadata/annotations/bluegreen-guard.io~1rolled-back-at', value: '2026-12-02T20:00:00Z' },
    ]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it.each<[string, unknown[], RegExp]>([
    ['a destination subset', [{ op: 'replace', path: '/spec/http/0/route/1/destination/subset', value: 'evil' }], /http routes or destinations changed/],
    ['a match added', [{ op: 'add', path: '/spec/http/0/match', value: [{ uri: { prefix: '/' } }] }], /http\[\]\.match changed/],
    ['the hosts', [{ op: 'replace', path: '/spec/hosts', value: ['other'] }], /hosts, gateways or exportTo changed/],
    ['a label', [{ op: 'replace', path: '/metadata/labels/app', value: 'x' }], /labels changed/],
    ['another annotation', [{ op: 'replace', path: '/metadata/annotations/owner', value: 'x' }], /another annotation changed/],
  ])('refuses a change of %s', async (_what, patch, message) => {
    const r = await asWatcher(patch);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ValidatingAdmissionPolicy/);
    expect(r.stderr).toMatch(message);
  });
});
