// Self-managed TLS end to end: the chart's objects applied to a real API
// server, the built `bluegreen-guard tls` command run with the chart's own
// config file and the webhook ServiceAccount's token (so the chart's RBAC is
// what it runs on). It fills the empty Secret, sets the caBundle, writes the
// pair, adopts what another replica wrote, and renews a certificate close to
// expiry without touching the CA.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { issueServing } from '../../src/tls/x509-issuer.js';
import { BIN, ensureCliBuilt } from '../support/built-cli.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { freePort } from '../support/free-port.js';
import { Helm } from '../support/helm.js';
import { ManagedProcess } from '../support/managed-process.js';
import { waitUntil } from '../support/wait-until.js';

let cp: ControlPlane;
let helm: Helm;
let work: string;
let ns: string;
const sidecars: ManagedProcess[] = [];
const release = 'self';
const secretName = 'self-bluegreen-guard-webhook-tls';
const vwcName = 'self-bluegreen-guard';

interface SecretData {
  [key: string]: string;
}

async function readSecret(): Promise<{ data: SecretData; resourceVersion: string }> {
  const r = await cp.kubectl(['get', 'secret', secretName, '-n', ns, '-o', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  const secret = JSON.parse(r.stdout) as { data?: Record<string, string>; metadata: { resourceVersion: string } };
  const data: SecretData = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  return { data, resourceVersion: secret.metadata.resourceVersion };
}

async function caBundles(): Promise<string[]> {
  const r = await cp.kubectl(['get', 'validatingwebhookconfiguration', vwcName, '-o', 'json']);
  const vwc = JSON.parse(r.stdout) as { webhooks: { clientConfig: { caBundle?: string } }[] };
  // Every entry of the configuration (Istio routes, workload labels) carries the same bundle.
  return vwc.webhooks.map((w) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8'));
}

async function startSidecar(name: string, overrides: Record<string, unknown> = {}): Promise<{ process: ManagedProcess; outDir: string; port: number }> {
  const rendered = await helm.template({ releaseName: release, namespace: ns });
  const cm = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as { kind: string; data?: Record<string, string> }).find((o) => o?.kind === 'ConfigMap' && o.data?.['tls.yaml']);
  const config = parseYaml(cm?.data?.['tls.yaml'] ?? '') as Record<string, unknown>;
  const outDir = mkdtempSync(join(work, `${name}-out-`));
  const port = await freePort();
  const configPath = join(work, `${name}.yaml`);
  writeFileSync(configPath, stringify({ ...config, outDir, healthPort: port, ...overrides }));
  const token = await cp.serviceAccountToken(ns, `${release}-bluegreen-guard-webhook`);
  const kubeconfig = cp.kubeconfigFor(token, `webhook-${name}`);
  const process = ManagedProcess.start({ name: `tls ${name}`, command: BIN, args: ['tls', '--config', configPath], logPath: join(work, `${name}.log`), env: { ...globalThis.process.env, KUBECONFIG: kubeconfig } });
  sidecars.push(process);
  await waitUntil(
    async () => {
      if (!process.isRunning) throw process.failure('exited');
      return (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 200, description: `tls sidecar ${name} ready` },
  );
  return { process, outDir, port };
}

beforeAll(async () => {
  await ensureCliBuilt();
  helm = await Helm.build();
  cp = await startControlPlane({ istioCrds: false });
  work = mkdtempSync(join(tmpdir(), 'bluegreen-guard-tls-'));
  ns = await cp.newNamespace('tls');
  const rendered = await helm.template({ releaseName: release, namespace: ns });
  const r = await cp.kubectl(['apply', '-f', '-'], { stdin: rendered.stdout });
  if (r.code !== 0) throw new Error(r.stderr);
}, 600_000);

afterAll(async () => {
  for (const s of sidecars) await s.stop();
  await cp?.stop();
  helm?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('tls sidecar (tls.mode selfManaged)', () => {
  let first: { outDir: string };

  it('fills the empty Secret, sets the caBundle and writes the pair the webhook serves', async () => {
    expect((await readSecret()).data).toEqual({});
    expect([...new Set(await caBundles())]).toEqual(['']);
    first = await startSidecar('first');
    const { data } = await readSecret();
    const ca = new X509Certificate(data['ca.crt'] ?? '');
    const serving = new X509Certificate(data['tls.crt'] ?? '');
    expect(ca.ca).toBe(true);
    expect(serving.checkIssued(ca) && serving.verify(ca.publicKey)).toBe(true);
    expect(serving.subjectAltName).toContain(`DNS:${release}-bluegreen-guard-webhook.${ns}.svc`);
    const daysLeft = (new Date(serving.validTo).getTime() - Date.now()) / 86_400_000;
    expect(daysLeft).toBeGreaterThan(364);
    expect([...new Set(await caBundles())]).toEqual([data['ca.crt']?.trim() + '\n']);
    expect(readFileSync(join(first.outDir, 'tls.crt'), 'utf8')).toBe(data['tls.crt']);
    expect(readFileSync(join(first.outDir, 'tls.key'), 'utf8')).toBe(data['tls.key']);
  });

  it('lets a second replica adopt the certificate instead of issuing another', async () => {
    const before = await readSecret();
    const second = await startSidecar('second');
    const after = await readSecret();
    expect(after.resourceVersion).toBe(before.resourceVersion);
    expect(readFileSync(join(second.outDir, 'tls.crt'), 'utf8')).toBe(before.data['tls.crt']);
  });

  it('renews a serving certificate within renewBeforeDays of expiry, keeping the CA', async () => {
    const { data } = await readSecret();
    // What a year-old installation looks like: the same CA, a certificate with 30 days left.
    const old = await issueServing(new Date(Date.now() - 335 * 86_400_000), 365, [`${release}-bluegreen-guard-webhook.${ns}.svc`], { certPem: data['ca.crt'] ?? '', keyPem: data['ca.key'] ?? '' });
    const patch = { data: { 'tls.crt': Buffer.from(old.certPem).toString('base64'), 'tls.key': Buffer.from(old.keyPem).toString('base64') } };
    expect((await cp.kubectl(['patch', 'secret', secretName, '-n', ns, '--type=merge', '-p', JSON.stringify(patch)])).code).toBe(0);
    const renewer = await startSidecar('renewer', { checkIntervalSeconds: 1 });
    const renewed = await waitUntil(
      async () => {
        const s = await readSecret();
        const cert = new X509Certificate(s.data['tls.crt'] ?? '');
        return (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000 > 300 ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'the serving certificate renewed' },
    );
    expect(renewed.data['ca.crt']).toBe(data['ca.crt']);
    expect(renewed.data['tls.crt']).not.toBe(data['tls.crt']);
    expect(readFileSync(join(renewer.outDir, 'tls.crt'), 'utf8')).toBe(renewed.data['tls.crt']);
    // The first replica picks the renewed pair up on its next check (hourly in the chart); the CA it trusts did not change.
    expect([...new Set(await caBundles())]).toEqual([data['ca.crt']?.trim() + '\n']);
  });
});
