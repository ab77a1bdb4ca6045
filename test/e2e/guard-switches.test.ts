// The guard's own switches on the real API server: in a guarded namespace,
// `bluegreen-guard.io/guard: disabled` added in the same apply as a cutover,
// and a second VirtualService for the guarded host that names itself stable
// on CREATE, are refused for a team member whose RBAC lets them edit
// VirtualServices but who is in no break-glass group, with a message naming
// who may set them, and honoured for a member of one. Each use is recorded
// in the API server's audit log through the webhook's audit annotations.
// v2's pods are not Ready, so without the switch the same
// cutover is refused by pods-ready: what a switch turns off is visible.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { GUARD_ANNOTATION, STABLE_SUBSET } from '../../src/istio/annotations.js';
import { VS_API, type Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

const SRE = { name: 'sam', token: randomBytes(16).toString('hex'), groups: ['sre'] };
/** A team member who may edit VirtualServices and DestinationRules, and nothing of the guard. */
const DEV = { name: 'dana', token: randomBytes(16).toString('hex'), groups: ['team-shop'] };
/** The webhook entry of the chart that reviews VirtualServices; the API server prefixes its audit annotations with it. */
const WEBHOOK = 'istio-routes.bluegreen-guard.io';
const auditDir = mkdtempSync(join(tmpdir(), 'bgg-guard-switch-audit-'));
const auditLog = join(auditDir, 'audit.log');
writeFileSync(
  join(auditDir, 'policy.yaml'),
  stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [{ level: 'Metadata', resources: [{ group: 'networking.istio.io', resources: ['virtualservices'] }] }, { level: 'None' }],
  }),
);

let stage: Stage;
let scene: Scene;
let sreKubeconfig: string;
let devKubeconfig: string;

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { namespace?: string; name?: string };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
}

/** ResponseComplete audit events for one VirtualService, oldest first. */
function auditEvents(namespace: string, name: string): AuditEvent[] {
  if (!existsSync(auditLog)) return [];
  const lines = readFileSync(auditLog, 'utf8').split('\n');
  // The last piece is empty, or a line the API server is still writing.
  lines.pop();
  return lines
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete' && e.objectRef?.namespace === namespace && e.objectRef.name === name);
}

/** Waits for the audit event of a write by `user` that carries the webhook's guard-switch annotation. */
async function guardSwitchAudit(namespace: string, name: string, user: string): Promise<AuditEvent> {
  let found: AuditEvent | undefined;
  await waitUntil(
    () => {
      found = auditEvents(namespace, name).find((e) => e.user.username === user && e.annotations?.[`${WEBHOOK}/guard-switch`] !== undefined);
      return Promise.resolve(found !== undefined);
    },
    { timeoutMs: 30_000, intervalMs: 200, description: `an audit event for ${user}'s write of VirtualService ${namespace}/${name} with ${WEBHOOK}/guard-switch` },
  );
  return found!;
}

/** A manifest with annotations added to its metadata. */
function annotated(manifest: string, annotations: Record<string, string>): string {
  const doc = parse(manifest) as { metadata: { annotations?: Record<string, string> } };
  doc.metadata.annotations = { ...doc.metadata.annotations, ...annotations };
  return stringify(doc);
}

/** A second VirtualService for the guarded service, bound to an ingress gateway (so it claims no mesh host), sending everything to blue and naming blue its stable subset. */
function selfStable(name: string): string {
  const host = scene.host;
  return stringify({
    apiVersion: VS_API,
    kind: 'VirtualService',
    metadata: { name, namespace: scene.namespace, annotations: { [STABLE_SUBSET]: scene.candidateSubset } },
    spec: {
      hosts: [`${name}.shop.example.com`],
      gateways: ['istio-system/ingress'],
      http: [{ name: 'primary', route: [{ destination: { host, subset: scene.candidateSubset, port: { number: 80 } }, weight: 100 }] }],
    },
  });
}

const fullSwitch = (): string => scene.virtualService({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 });

beforeAll(async () => {
  stage = await startStage({
    watchers: 0,
    users: [SRE, DEV],
    webhookConfig: { rules: { breakGlassGroups: ['sre'] } },
    apiServerArgs: [`--audit-policy-file=${join(auditDir, 'policy.yaml')}`, `--audit-log-path=${auditLog}`],
  });
  await stage.cp.api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sre-cluster-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre' }],
  });
  await stage.cp.api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'istio-routes-editor' },
    rules: [{ apiGroups: ['networking.istio.io'], resources: ['virtualservices', 'destinationrules'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] }],
  });
  await stage.cp.api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'team-shop-istio-routes' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'istio-routes-editor' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'team-shop' }],
  });
  sreKubeconfig = stage.cp.kubeconfigFor(SRE.token, SRE.name);
  devKubeconfig = stage.cp.kubeconfigFor(DEV.token, DEV.name);
  scene = await stage.seed({ namespacePrefix: 'switches', v2: { ready: false }, traffic: false });
  await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
}, 600_000);

afterAll(async () => {
  await stage?.stop();
  rmSync(auditDir, { recursive: true, force: true });
}, 120_000);

describe('the guard switches on the real API server', () => {
  it('without a switch, the cutover to blue (pods not Ready) is refused by pods-ready', async () => {
    const r = await scene.apply(fullSwitch(), { kubeconfigPath: devKubeconfig });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[pods-ready]');
  });

  it(`${GUARD_ANNOTATION}: disabled in the same apply as the cutover is refused for a user outside the break-glass groups, naming who may set it`, async () => {
    const r = await scene.apply(annotated(fullSwitch(), { [GUARD_ANNOTATION]: 'disabled' }), { kubeconfigPath: devKubeconfig });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `VirtualService ${scene.namespace}/${scene.service} sets ${GUARD_ANNOTATION}: disabled, a switch of the guard itself in a guarded namespace; only members of the break-glass groups (sre) may set it, and ${DEV.name} is in none.`,
    );
    expect(r.stderr).toContain('Fix: remove the annotation from the change');
    const vs = await scene.readVirtualService();
    expect(vs.metadata.annotations?.[GUARD_ANNOTATION]).toBeUndefined();
    expect(await scene.primaryWeights()).toEqual({ [scene.stableSubset]: 100 });
    const audit = await guardSwitchAudit(scene.namespace, scene.service, DEV.name);
    expect(audit.annotations?.[`${WEBHOOK}/guard-switch`]).toBe(`refused: ${GUARD_ANNOTATION}: disabled`);
  });

  it('and honoured for a member of a break-glass group, audited with the switch, the group and the user', async () => {
    const r = await scene.apply(annotated(fullSwitch(), { [GUARD_ANNOTATION]: 'disabled' }), { kubeconfigPath: sreKubeconfig });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const vs = await scene.readVirtualService();
    expect(vs.metadata.annotations?.[GUARD_ANNOTATION]).toBe('disabled');
    expect(await scene.primaryWeights()).toEqual({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 });
    const audit = await guardSwitchAudit(scene.namespace, scene.service, SRE.name);
    expect(audit.responseStatus?.code).toBe(200);
    expect(audit.annotations?.[`${WEBHOOK}/guard-switch`]).toBe(`${GUARD_ANNOTATION}: disabled (group sre)`);
    expect(audit.annotations?.[`${WEBHOOK}/guard-switch-user`]).toBe(SRE.name);
  });

  it(`a second VirtualService for the guarded service that names itself stable (${STABLE_SUBSET}: blue, blue 100 %) is refused on CREATE for a user outside the break-glass groups`, async () => {
    const name = `${scene.service}-ingress`;
    // Without the annotation the same route to blue is a cutover, and blue's pods are not Ready.
    const withoutSwitch = parse(selfStable(name)) as { metadata: { annotations?: Record<string, string> } };
    delete withoutSwitch.metadata.annotations;
    const control = await scene.apply(stringify(withoutSwitch), { dryRun: true, kubeconfigPath: devKubeconfig });
    expect(control.code).not.toBe(0);
    expect(control.stderr).toContain('[pods-ready]');
    const r = await scene.apply(selfStable(name), { kubeconfigPath: devKubeconfig });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `VirtualService ${scene.namespace}/${name} sets ${STABLE_SUBSET}: ${scene.candidateSubset}, a switch of the guard itself in a guarded namespace; only members of the break-glass groups (sre) may set it, and ${DEV.name} is in none.`,
    );
    const exists = await stage.cp.kubectl(['get', 'virtualservice', name, '-n', scene.namespace]);
    expect(exists.code).not.toBe(0);
    expect(exists.stderr).toContain('NotFound');
    const audit = await guardSwitchAudit(scene.namespace, name, DEV.name);
    expect(audit.annotations?.[`${WEBHOOK}/guard-switch`]).toBe(`refused: ${STABLE_SUBSET}: ${scene.candidateSubset}`);
  });

  it('and honoured on CREATE for a member of a break-glass group, audited', async () => {
    const name = `${scene.service}-ingress`;
    const r = await scene.apply(selfStable(name), { kubeconfigPath: sreKubeconfig });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const vs = await stage.cp.api.read(VS_API, 'VirtualService', scene.namespace, name);
    expect(vs.metadata.annotations?.[STABLE_SUBSET]).toBe(scene.candidateSubset);
    const audit = await guardSwitchAudit(scene.namespace, name, SRE.name);
    expect(audit.verb).toBe('create');
    expect(audit.responseStatus?.code).toBe(201);
    expect(audit.annotations?.[`${WEBHOOK}/guard-switch`]).toBe(`${STABLE_SUBSET}: ${scene.candidateSubset} (group sre)`);
    expect(audit.annotations?.[`${WEBHOOK}/guard-switch-user`]).toBe(SRE.name);
  });
});
