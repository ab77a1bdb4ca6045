// A real Kubernetes control plane for end-to-end tests: etcd and kube-apiserver
// (built from the Kubernetes Go modules by test/kube/build.sh) on free loopback
// ports, token authentication with an admin in system:masters, RBAC, Istio's
// real CRDs. No controller-manager, scheduler or kubelet runs: what they would
// create (ServiceAccounts, ReplicaSets, Pods, statuses) the tests create
// themselves (see workloads.ts).
//
//   const cp = await startControlPlane();        // beforeAll, ~5 s
//   const ns = await cp.newNamespace('cutover', { guard: true });
//   await cp.kubectl(['apply', '-f', '-'], { stdin: manifest });
//   await cp.stop();                             // afterAll
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { GUARD_LABEL } from '../../src/istio/annotations.js';
import { freePort } from './free-port.js';
import { istioCrdsPath, kubeBinDir } from './kube-binaries.js';
import { KubeApi, type KubeObject } from './kube-api.js';
import { kubectl, type KubectlOptions, type KubectlResult } from './kubectl.js';
import { ManagedProcess } from './managed-process.js';
import { waitUntil } from './wait-until.js';

export interface StaticUser {
  name: string;
  token: string;
  groups?: string[];
}

export interface ControlPlaneOptions {
  /** Directory with etcd, kube-apiserver, kubectl; default: built by test/kube/build.sh. */
  binDir?: string;
  /** Install Istio's CRDs (default true). */
  istioCrds?: boolean;
  /** Extra identities in the token file, e.g. a user outside system:masters for RBAC tests. */
  users?: StaticUser[];
  /** Appended to kube-apiserver's flags. */
  apiServerArgs?: string[];
  /** How long each component may take to become ready (default 60 s). */
  readyTimeoutMs?: number;
}

export interface NamespaceOptions {
  /** Label the namespace `bluegreen-guard.io/guard=enabled`. */
  guard?: boolean;
  labels?: Record<string, string>;
}

export interface ValidatingWebhookOptions {
  url: string;
  /** PEM of the CA that signed the webhook's serving certificate. */
  caBundlePem: string;
  /** Name of the ValidatingWebhookConfiguration (default: random). */
  name?: string;
  failurePolicy?: 'Fail' | 'Ignore';
  timeoutSeconds?: number;
  /** Default: namespaces labelled bluegreen-guard.io/guard=enabled. */
  namespaceSelector?: Record<string, unknown>;
  objectSelector?: Record<string, unknown>;
  /** Default: CREATE and UPDATE of VirtualServices and DestinationRules, every version. */
  rules?: Record<string, unknown>[];
}

export interface RegisteredWebhook {
  name: string;
  remove(): Promise<void>;
}

const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const ISTIO_GROUP_SUFFIX = '.istio.io';

function randomSuffix(): string {
  return randomBytes(3).toString('hex');
}

export class ControlPlane {
  readonly api: KubeApi;
  readonly kubeconfigPath: string;
  readonly kubectlCacheDir: string;
  private apiServer: ManagedProcess;

  private constructor(
    readonly binDir: string,
    readonly workDir: string,
    readonly server: string,
    readonly adminToken: string,
    /** PEM bundle the API server's self-signed serving certificate chains to. */
    readonly caPem: string,
    private readonly etcd: ManagedProcess,
    apiServer: ManagedProcess,
    private readonly apiServerArgs: readonly string[],
    private readonly readyTimeoutMs: number,
  ) {
    this.apiServer = apiServer;
    this.api = new KubeApi({ server, caPem, token: adminToken });
    this.kubeconfigPath = this.kubeconfigFor(adminToken, 'admin');
    this.kubectlCacheDir = join(workDir, 'kubectl-cache');
  }

  /** @internal use startControlPlane */
  static async launch(options: ControlPlaneOptions, binDir: string, workDir: string): Promise<ControlPlane> {
    const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    const adminToken = randomBytes(24).toString('hex');
    const tokenLines = [`${adminToken},admin,admin,"system:masters"`];
    for (const u of options.users ?? []) tokenLines.push(`${u.token},${u.name},${u.name},"${(u.groups ?? []).join(',')}"`);
    writeFileSync(join(workDir, 'tokens.csv'), `${tokenLines.join('\n')}\n`, { mode: 0o600 });
    // The API server signs ServiceAccount tokens (TokenRequest) with this key.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(workDir, 'sa.key'), privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(workDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

    const etcd = await startEtcd(binDir, workDir, readyTimeoutMs);
    try {
      const port = await freePort();
      const server = `https://127.0.0.1:${port}`;
      const apiServerArgs = [
        `--etcd-servers=${etcd.url}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${join(workDir, 'apiserver-certs')}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(workDir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(workDir, 'sa.key')}`,
        `--token-auth-file=${join(workDir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--profiling=false',
        ...(options.apiServerArgs ?? []),
      ];
      const apiServer = startProcess(binDir, 'kube-apiserver', apiServerArgs, workDir);
      try {
        const caPem = await waitForApiServer(apiServer, server, adminToken, workDir, readyTimeoutMs);
        return new ControlPlane(binDir, workDir, server, adminToken, caPem, etcd.process, apiServer, apiServerArgs, readyTimeoutMs);
      } catch (error) {
        await apiServer.stop();
        throw error;
      }
    } catch (error) {
      await etcd.process.stop();
      throw error;
    }
  }

  /** Runs the built kubectl against this API server (as admin unless options.kubeconfigPath says otherwise). */
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult> {
    return kubectl(this, args, options);
  }

  /** A kubeconfig for another identity (a ServiceAccount token, a static user); returns its path. */
  kubeconfigFor(token: string, user: string): string {
    const path = join(this.workDir, `kubeconfig-${user.replace(/[^a-zA-Z0-9-]/g, '_')}`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: this.server, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user, namespace: 'default' } }],
      'current-context': 'test',
    };
    writeFileSync(path, stringify(config), { mode: 0o600 });
    return path;
  }

  /** A token for a ServiceAccount through the TokenRequest API (no token controller runs). */
  async serviceAccountToken(namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
    const review = await this.api.call<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } } },
    );
    return review.status.token;
  }

  /**
   * A fresh namespace `<prefix>-<random>` with its `default` ServiceAccount
   * (which the ServiceAccount admission plugin requires before any Pod).
   * Namespaces are never deleted: without a controller-manager they would
   * stay Terminating, and etcd lives in a temp dir anyway.
   */
  async newNamespace(prefix: string, options: NamespaceOptions = {}): Promise<string> {
    const base = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
    const name = `${base}-${randomSuffix()}`;
    const labels = { ...options.labels, ...(options.guard ? { [GUARD_LABEL]: 'enabled' } : {}) };
    await this.api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    await this.createServiceAccount(name, 'default');
    return name;
  }

  async createServiceAccount(namespace: string, name: string): Promise<KubeObject> {
    return this.api.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
  }

  /**
   * Registers a ValidatingWebhookConfiguration that calls `url` with
   * `caBundlePem`. The API server picks it up a moment later: poll with a
   * server-side dry-run until a bad object is refused before relying on it.
   */
  async registerValidatingWebhook(options: ValidatingWebhookOptions): Promise<RegisteredWebhook> {
    const name = options.name ?? `bluegreen-guard-${randomSuffix()}`;
    const rules = options.rules ?? [
      {
        apiGroups: ['networking.istio.io'],
        apiVersions: ['*'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['virtualservices', 'destinationrules'],
        scope: 'Namespaced',
      },
    ];
    await this.api.create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          name: 'istio-routes.bluegreen-guard.io',
          clientConfig: { url: options.url, caBundle: Buffer.from(options.caBundlePem).toString('base64') },
          rules,
          failurePolicy: options.failurePolicy ?? 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: options.timeoutSeconds ?? 5,
          namespaceSelector: options.namespaceSelector ?? { matchLabels: { [GUARD_LABEL]: 'enabled' } },
          ...(options.objectSelector ? { objectSelector: options.objectSelector } : {}),
        },
      ],
    });
    return {
      name,
      remove: () => this.api.remove('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', undefined, name),
    };
  }

  /** Stops kube-apiserver (etcd keeps the data): open watches end, requests fail until startApiServer. */
  async stopApiServer(): Promise<void> {
    await this.apiServer.stop();
  }

  /** Starts kube-apiserver again with the same flags, port and certificates; resolves when /readyz is ok. */
  async startApiServer(): Promise<void> {
    if (this.apiServer.isRunning) return;
    this.apiServer = startProcess(this.binDir, 'kube-apiserver', this.apiServerArgs, this.workDir);
    await waitForApiServer(this.apiServer, this.server, this.adminToken, this.workDir, this.readyTimeoutMs);
  }

  /** Ends every watch the API server serves, the way an upgrade or a crash does, then waits until it is ready again. */
  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  /** Kills everything this control plane started and removes its files. Safe to call twice. */
  async stop(): Promise<void> {
    await this.apiServer.stop();
    await this.etcd.stop();
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(this.workDir, { recursive: true, force: true });
  }
}

function startProcess(binDir: string, name: string, args: readonly string[], workDir: string): ManagedProcess {
  return ManagedProcess.start({ name, command: join(binDir, name), args, logPath: join(workDir, `${name}.log`), cwd: workDir });
}

async function startEtcd(binDir: string, workDir: string, readyTimeoutMs: number): Promise<{ process: ManagedProcess; url: string }> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const etcd = startProcess(
    binDir,
    'etcd',
    [
      '--name=test',
      `--data-dir=${join(workDir, 'etcd-data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=test=${peer}`,
      // Tests need speed, not durability: etcd's data dir is thrown away.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    workDir,
  );
  try {
    await waitUntil(
      async () => {
        if (!etcd.isRunning) throw etcd.failure('exited before it was healthy');
        const response = await fetch(`${url}/health`);
        const body = (await response.json()) as { health?: string };
        return body.health === 'true';
      },
      { timeoutMs: readyTimeoutMs, description: `etcd healthy on ${url}` },
    ).catch((error: unknown) => {
      if (!etcd.isRunning) throw etcd.failure('exited before it was healthy');
      throw etcd.failure(error instanceof Error ? error.message : String(error));
    });
  } catch (error) {
    await etcd.stop();
    throw error;
  }
  return { process: etcd, url };
}

/** Waits for /readyz; returns the CA bundle the API server wrote beside its self-signed certificate. */
async function waitForApiServer(apiServer: ManagedProcess, server: string, token: string, workDir: string, timeoutMs: number): Promise<string> {
  const certPath = join(workDir, 'apiserver-certs', 'apiserver.crt');
  try {
    return await waitUntil(
      async () => {
        if (!apiServer.isRunning) throw new Error('exited');
        if (!existsSync(certPath)) return undefined;
        const caPem = readFileSync(certPath, 'utf8');
        const response = await new KubeApi({ server, caPem, token }).request('GET', '/readyz');
        return response.status === 200 && response.text.trim() === 'ok' ? caPem : undefined;
      },
      { timeoutMs, intervalMs: 100, description: `kube-apiserver ready on ${server}/readyz` },
    );
  } catch (error) {
    if (!apiServer.isRunning) throw apiServer.failure('exited before it was ready');
    throw apiServer.failure(error instanceof Error ? error.message : String(error));
  }
}

/** Creates every CRD in Istio's generated file and waits until the API server serves them. */
export async function installIstioCrds(api: KubeApi, crdsPath: string, timeoutMs = 60_000): Promise<string[]> {
  const docs = parseAllDocuments(readFileSync(crdsPath, 'utf8'));
  const crds = docs
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && o.kind === 'CustomResourceDefinition');
  if (crds.length === 0) throw new Error(`${crdsPath} holds no CustomResourceDefinition; is it istio.io/api's customresourcedefinitions.gen.yaml?`);
  for (const crd of crds) await api.create(crd);
  const names = crds.map((c) => c.metadata.name);
  for (const name of names) {
    await waitUntil(
      async () => {
        const crd = await api.read<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
          'apiextensions.k8s.io/v1',
          'CustomResourceDefinition',
          undefined,
          name,
        );
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      },
      { timeoutMs, description: `CustomResourceDefinition ${name} Established` },
    );
  }
  return names.filter((n) => n.endsWith(ISTIO_GROUP_SUFFIX));
}

/**
 * Starts etcd and kube-apiserver, writes a kubeconfig, installs Istio's CRDs.
 * Everything started is stopped again if any step fails; the error names the
 * component and quotes the end of its log.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? (await kubeBinDir());
  const crdsPath = options.istioCrds === false ? undefined : await istioCrdsPath();
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    const workDir = mkdtempSync(join(tmpdir(), 'bluegreen-guard-cp-'));
    mkdirSync(join(workDir, 'kubectl-cache'));
    let cp: ControlPlane | undefined;
    try {
      cp = await ControlPlane.launch(options, binDir, workDir);
      if (crdsPath) await installIstioCrds(cp.api, crdsPath, options.readyTimeoutMs);
      return cp;
    } catch (error) {
      if (cp) await cp.stop();
      else rmSync(workDir, { recursive: true, force: true });
      // Free ports are only free until someone else binds them: try new ones.
      const portTaken = error instanceof Error && /address already in use/.test(error.message);
      if (!portTaken || attempt >= attempts) throw error;
    }
  }
}
