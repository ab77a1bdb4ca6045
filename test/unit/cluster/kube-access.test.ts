// The webhook's kubeconfig reader, against a real HTTPS server: what a list
// request carries (CA trust, bearer token, client certificate) for each way a
// kubeconfig or a pod's ServiceAccount can give access, and the errors that
// name the file and the fix.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { KubeAccessError, loadKubeAccess, type KubeAccessEnvironment } from '../../../src/cluster/kube-access.js';
import { KubeListWatchClient } from '../../../src/cluster/kube-list-watch-client.js';
import { makeServingCertificate, type ServingCertificateFiles } from '../../support/tls.js';

interface Seen {
  authorization: string | undefined;
  clientFingerprint: string | undefined;
  path: string;
}

describe('kube access without client-node', () => {
  let dir: string;
  let serving: ServingCertificateFiles;
  let client: ServingCertificateFiles;
  let server: Server;
  let url: string;
  const seen: Seen[] = [];
  const noDefaults: KubeAccessEnvironment = { env: {}, home: '/nonexistent-home', serviceAccountDir: '/nonexistent-sa' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kube-access-'));
    serving = makeServingCertificate(join(dir, 'server'));
    client = makeServingCertificate(join(dir, 'client'), { dns: ['admin'] });
    server = createServer({ cert: readFileSync(serving.certFile), key: readFileSync(serving.keyFile), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({ authorization: req.headers.authorization, clientFingerprint: peer && 'fingerprint256' in peer ? peer.fingerprint256 : undefined, path: req.url ?? '' });
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ items: [{ metadata: { name: 'reviews-v1-0' } }], metadata: { resourceVersion: '42' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'main',
        contexts: [
          { name: 'main', context: { cluster: 'c', user: 'u' } },
          { name: 'other', context: { cluster: 'c', user: 'other' } },
        ],
        clusters: [{ name: 'c', cluster: { server: `${url}/`, 'certificate-authority-data': Buffer.from(serving.caPem).toString('base64'), ...cluster } }],
        users: [
          { name: 'u', user },
          { name: 'other', user: { token: 'other-token' } },
        ],
        ...extra,
      }),
    );
    return path;
  }

  async function listWith(access: Awaited<ReturnType<typeof loadKubeAccess>>): Promise<Seen> {
    const before = seen.length;
    const page = await new KubeListWatchClient(access).list('/api/v1/pods', { limit: 500, signal: new AbortController().signal });
    expect(page).toEqual({ items: [{ metadata: { name: 'reviews-v1-0' } }], resourceVersion: '42' });
    expect(seen).toHaveLength(before + 1);
    return seen[before]!;
  }

  it('a kubeconfig with a token and CA data: the server is trusted by that CA and sent the token', async () => {
    const access = await loadKubeAccess(kubeconfig('token.yaml', { token: 'secret-token' }), null, noDefaults);
    expect(access.server).toBe(url);
    const request = await listWith(access);
    expect(request.authorization).toBe('Bearer secret-token');
    expect(request.path).toBe('/api/v1/pods?limit=500');
  });

  it('--context picks another context of the file', async () => {
    const access = await loadKubeAccess(kubeconfig('contexts.yaml', { token: 'main-token' }), 'other', noDefaults);
    expect((await listWith(access)).authorization).toBe('Bearer other-token');
  });

  it('a client certificate and key named by paths relative to the kubeconfig file', async () => {
    const access = await loadKubeAccess(
      kubeconfig('client-cert.yaml', { 'client-certificate': 'client/tls.crt', 'client-key': 'client/tls.key' }, { 'certificate-authority': 'server/ca.crt', 'certificate-authority-data': undefined }),
      null,
      noDefaults,
    );
    const request = await listWith(access);
    expect(request.clientFingerprint).toBe(client.fingerprint256);
    expect(request.authorization).toBeUndefined();
  });

  it('a tokenFile is read per request, so a rotated token is picked up', async () => {
    const tokenFile = join(dir, 'rotating-token');
    writeFileSync(tokenFile, 'first\n');
    const access = await loadKubeAccess(kubeconfig('token-file.yaml', { tokenFile }), null, noDefaults);
    expect((await listWith(access)).authorization).toBe('Bearer first');
    writeFileSync(tokenFile, 'second\n');
    expect((await listWith(access)).authorization).toBe('Bearer second');
  });

  it('$KUBECONFIG is used when no --kubeconfig is given, before ~/.kube/config', async () => {
    const path = kubeconfig('from-env.yaml', { token: 'env-token' });
    const access = await loadKubeAccess(undefined, null, { ...noDefaults, env: { KUBECONFIG: path } });
    expect((await listWith(access)).authorization).toBe('Bearer env-token');
  });

  it("in a pod: the ServiceAccount's CA and token, the token re-read per request", async () => {
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'ca.crt'), serving.caPem);
    writeFileSync(join(sa, 'token'), 'pod-token-1');
    const port = new URL(url).port;
    const access = await loadKubeAccess(undefined, null, { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, home: '/nonexistent-home', serviceAccountDir: sa });
    expect(access.server).toBe(url);
    expect((await listWith(access)).authorization).toBe('Bearer pod-token-1');
    writeFileSync(join(sa, 'token'), 'pod-token-2');
    expect((await listWith(access)).authorization).toBe('Bearer pod-token-2');
    const v6 = await loadKubeAccess(undefined, null, { env: { KUBERNETES_SERVICE_HOST: 'fd00::1' }, home: '/nonexistent-home', serviceAccountDir: sa });
    expect(v6.server).toBe('https://[fd00::1]:443');
  });

  it('an exec credential plugin is run through client-node, loaded only for it', async () => {
    const plugin = join(dir, 'credential-plugin.sh');
    writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token"}}'\n`);
    chmodSync(plugin, 0o755);
    const access = await loadKubeAccess(
      kubeconfig('exec.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }),
      null,
      noDefaults,
    );
    expect((await listWith(access)).authorization).toBe('Bearer exec-token');
  });

  it('a $KUBECONFIG list of files is merged as client-node merges it (loaded only for it)', async () => {
    const clusters = kubeconfig('merge-a.yaml', { token: 'merged-token' });
    const second = join(dir, 'merge-b.yaml');
    writeFileSync(second, stringify({ apiVersion: 'v1', kind: 'Config', contexts: [{ name: 'extra', context: { cluster: 'c', user: 'u' } }] }));
    const access = await loadKubeAccess(undefined, null, { ...noDefaults, env: { KUBECONFIG: `${clusters}:${second}` } });
    expect((await listWith(access)).authorization).toBe('Bearer merged-token');
  });

  it('errors name the kubeconfig, what is wrong and the fix', async () => {
    const missing = join(dir, 'missing.yaml');
    await expect(loadKubeAccess(missing, null, noDefaults)).rejects.toThrow(new RegExp(`cannot read the kubeconfig ${missing}: .*ENOENT.*fix: pass --kubeconfig`));
    await expect(loadKubeAccess(kubeconfig('ctx.yaml', { token: 't' }), 'nope', noDefaults)).rejects.toThrow(/has no context nope; fix: pass --context/);
    await expect(loadKubeAccess(kubeconfig('no-current.yaml', { token: 't' }, {}, { 'current-context': '' }), null, noDefaults)).rejects.toThrow(/names no current-context; fix: set current-context or pass --context/);
    await expect(loadKubeAccess(kubeconfig('no-server.yaml', { token: 't' }, { server: '' }), null, noDefaults)).rejects.toThrow(/names no current cluster with a server for context main/);
    await expect(loadKubeAccess(kubeconfig('bad-ca.yaml', { token: 't' }, { 'certificate-authority': 'nowhere/ca.crt', 'certificate-authority-data': undefined }), null, noDefaults)).rejects.toThrow(
      /cannot read the cluster CA named by the kubeconfig .*bad-ca.yaml at .*nowhere\/ca.crt.*fix the path in the kubeconfig/,
    );
    const notYaml = join(dir, 'list.yaml');
    writeFileSync(notYaml, '- a\n- b\n');
    await expect(loadKubeAccess(notYaml, null, noDefaults)).rejects.toThrow(/is not a kubeconfig/);
    await expect(loadKubeAccess(undefined, null, noDefaults)).rejects.toThrow(KubeAccessError);
    await expect(loadKubeAccess(undefined, null, noDefaults)).rejects.toThrow(/no kubeconfig found .* fix: pass --kubeconfig/);
  });
});
