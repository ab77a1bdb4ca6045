// The Helm chart against a real kube-apiserver: helm (built from
// helm.sh/helm/v3) lints and renders it, the API server accepts every
// documented variant (cert-manager's and the Prometheus Operator's real CRDs
// installed), the schema refuses bad values with the field's path, the
// config files it renders are the ones the processes parse, the RBAC grants
// what each process needs and nothing more, and the webhook configuration
// selects what it should.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseWatcherConfig } from '../../src/config/watcher-config.js';
import { parseWebhookConfig } from '../../src/config/webhook-config.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { Helm, thirdPartyCrdPaths } from '../support/helm.js';
import { waitUntil } from '../support/wait-until.js';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  [key: string]: unknown;
}

let cp: ControlPlane;
let helm: Helm;
let certsDir: string;

function manifests(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

async function render(release: string, namespace: string, values: Record<string, unknown> = {}): Promise<{ text: string; objects: Manifest[] }> {
  const r = await helm.template({ releaseName: release, namespace, values });
  if (r.code !== 0) throw new Error(`helm template ${release} failed:\n${r.stderr}`);
  return { text: r.stdout, objects: manifests(r.stdout) };
}

function configFile(objects: Manifest[], key: string): unknown {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-config'));
  const text = cm?.data?.[key];
  if (text === undefined) throw new Error(`the rendered config ConfigMap has no ${key}`);
  return manifests(text)[0];
}

beforeAll(async () => {
  helm = await Helm.build();
  const crds = await thirdPartyCrdPaths();
  cp = await startControlPlane();
  for (const path of crds) {
    // create, not apply: the Prometheus Operator's CRDs are larger than the
    // last-applied annotation allows.
    const r = await cp.kubectl(['create', '-f', path]);
    if (r.code !== 0) throw new Error(`creating the CRDs in ${path} failed: ${r.stderr}`);
  }
  const established = await cp.kubectl(
    ['wait', '--for=condition=Established', '--timeout=60s', ...['certificates', 'issuers', 'clusterissuers'].map((n) => `crd/${n}.cert-manager.io`),
      'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com'],
    { timeoutMs: 90_000 },
  );
  if (established.code !== 0) throw new Error(`the third-party CRDs never became Established: ${established.stderr}`);
  certsDir = mkdtempSync(join(tmpdir(), 'bluegreen-guard-chart-certs-'));
}, 1_200_000);

afterAll(async () => {
  await cp?.stop();
  helm?.dispose();
  if (certsDir) rmSync(certsDir, { recursive: true, force: true });
});

describe('helm lint', () => {
  it.each([
    ['default values', {}],
    ['cert-manager', { tls: { mode: 'certManager' } }],
    ['monitoring on', { metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }],
  ])('passes --strict with %s', async (_name, values) => {
    const r = await helm.lint(values);
    expect(r.stderr).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });
});

describe('every documented option renders manifests the API server accepts', () => {
  const variants: [string, Record<string, unknown>, string[]][] = [
    ['default values (self-managed TLS)', {}, ['Secret', 'Role']],
    ['cert-manager with its own CA', { tls: { mode: 'certManager' } }, ['Certificate', 'Issuer']],
    ['cert-manager with a ClusterIssuer', { tls: { mode: 'certManager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } }, ['Certificate']],
    ['ServiceMonitor and PrometheusRule', { metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }, ['ServiceMonitor', 'PrometheusRule']],
    ['recording rules for a large mesh', { watcher: { recordingRules: { enabled: true } } }, ['PrometheusRule']],
    ['promotion on', { watcher: { promotion: { enabled: true } } }, []],
    ['failurePolicy Fail', { webhook: { failurePolicy: 'Fail', timeoutSeconds: 10 } }, []],
    ['watcher dry-run, no Alertmanager', { watcher: { dryRun: true, alertmanagerUrl: '' } }, []],
    [
      'NetworkPolicy from the API server CIDRs and a scraper namespace, metrics bound where configured',
      { networkPolicy: { apiServerCidrs: ['10.0.0.0/8'], scraperNamespaces: ['monitoring'] }, metrics: { bindAddress: '0.0.0.0' } },
      ['NetworkPolicy', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
    ],
  ];

  it.each(variants)('%s', async (_name, values, extraKinds) => {
    const namespace = await cp.newNamespace('chart');
    const release = `v${Math.random().toString(36).slice(2, 8)}`;
    const { text, objects } = await render(release, namespace, values);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'PodDisruptionBudget', 'ValidatingWebhookConfiguration', 'ConfigMap', ...extraKinds]) {
      expect(kinds).toContain(kind);
    }
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: text });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // One "(server dry run)" line per object: nothing was skipped.
    expect(r.stdout.trim().split('\n').filter((l) => l.endsWith('(server dry run)'))).toHaveLength(objects.length);
  });

  it('with a Secret made by certs/make-certs.sh and its CA as caBundle', async () => {
    const namespace = await cp.newNamespace('chart-secret');
    const made = spawnSync('bash', ['certs/make-certs.sh', '--out', certsDir, '--dns', `sec-bluegreen-guard-webhook.${namespace}.svc`], { encoding: 'utf8' });
    expect(made.status).toBe(0);
    const caBundle = readFileSync(join(certsDir, 'ca.crt')).toString('base64');
    const { text, objects } = await render('sec', namespace, { tls: { mode: 'secret', secret: { name: 'webhook-tls', caBundle } } });
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as unknown as { webhooks: { clientConfig: { caBundle: string } }[] };
    expect(vwc.webhooks[0]?.clientConfig.caBundle).toBe(caBundle);
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: text });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('the config files the chart renders are the ones the processes read', () => {
  it('parses the webhook and watcher files with the processes own parsers, values carried through', async () => {
    const { objects } = await render('cfg', 'guard-system', {
      webhook: { rules: { modes: { probes: 'warn' }, breakGlassGroups: ['sre'] } },
      watcher: { errorRate: { ratio: 0.02 }, promotion: { enabled: true }, dryRun: true },
    });
    const webhook = parseWebhookConfig(configFile(objects, 'webhook.yaml'));
    expect(webhook.rules.modes.probes).toBe('warn');
    expect(webhook.rules.breakGlassGroups).toEqual(['sre']);
    expect(webhook.rules.watcherUsernames).toEqual(['system:serviceaccount:guard-system:cfg-bluegreen-guard-watcher']);
    expect(webhook.admission.path).toBe('/validate');
    const watcher = parseWatcherConfig(configFile(objects, 'watcher.yaml'));
    expect(watcher.errorRate.ratio).toBe(0.02);
    expect(watcher.promotion.enabled).toBe(true);
    expect(watcher.dryRun).toBe(true);
    expect(watcher.lease).toMatchObject({ name: 'cfg-bluegreen-guard-watcher', namespace: 'guard-system' });
  });

  it('with watcher.recordingRules, the watcher reads the recorded series the chart records, and not otherwise', async () => {
    const on = parseWatcherConfig(configFile((await render('rec', 'guard-system', { watcher: { recordingRules: { enabled: true } } })).objects, 'watcher.yaml'));
    expect(on.queries.recordingRules).toBe(true);
    expect(on.queries.latencyP99.query).toMatch(/^namespace_service_version:/);
    const off = await render('rec0', 'guard-system');
    expect(parseWatcherConfig(configFile(off.objects, 'watcher.yaml')).queries.recordingRules).toBe(false);
    expect(off.objects.filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
  });

  it("skips the watcher's own writes at the API server (matchConditions), except a VirtualService carrying a drill's drill-in-progress mark", async () => {
    const { objects } = await render('mc', 'guard-system');
    const watcher = 'system:serviceaccount:guard-system:mc-bluegreen-guard-watcher';
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as unknown as { webhooks: { name: string; rules: { resources: string[] }[]; matchConditions: { name: string; expression: string }[] }[] };
    const routes = vwc.webhooks.find((w) => w.rules.some((r) => r.resources.includes('virtualservices')));
    expect(routes?.name).toBe('istio-routes.bluegreen-guard.io');
    expect(routes?.matchConditions).toEqual([
      {
        name: 'not-the-watcher-unless-a-drill',
        expression: `request.userInfo.username != '${watcher}' || (object != null && has(object.metadata.annotations) && 'bluegreen-guard.io/drill-in-progress' in object.metadata.annotations)`,
      },
    ]);
    // Every other webhook skips the watcher outright: nothing of a drill is written to workloads.
    const others = vwc.webhooks.filter((w) => w !== routes);
    expect(others.length).toBeGreaterThan(0);
    for (const w of others) expect(w.matchConditions[0]).toEqual({ name: 'not-the-watcher', expression: `request.userInfo.username != '${watcher}'` });
  });

  it('carries the webhook admission limits from values into the file the webhook parses, defaults unchanged', async () => {
    const defaults = parseWebhookConfig(configFile((await render('lim0', 'guard-system')).objects, 'webhook.yaml'));
    expect(defaults.admission).toMatchObject({
      bodyLimitBytes: 6291456,
      workBound: { maxRoutes: 1000, maxDestinations: 4000, maxMatches: 4000 },
      maxConcurrentReviews: 2,
      maxQueuedReviews: 64,
      handshakeTimeoutMs: 10000,
      maxConnections: 256,
    });
    const admission = {
      bodyLimitBytes: 8388608,
      workBound: { maxRoutes: 2000, maxDestinations: 9000, maxMatches: 7000 },
      maxConcurrentReviews: 4,
      maxQueuedReviews: 16,
      handshakeTimeoutMs: 5000,
      maxConnections: 512,
    };
    const { objects } = await render('lim', 'guard-system', { webhook: { admission } });
    expect(parseWebhookConfig(configFile(objects, 'webhook.yaml')).admission).toMatchObject(admission);
  });

  it('writes one mesh section into both files, so the webhook and the watcher read the same stable subset, domain and opt-in label', async () => {
    const mesh = { defaultStableSubset: 'blue', clusterDomain: 'mesh.example', rootNamespace: 'mesh-root', guardLabel: 'corp.example/guarded', versionLabel: 'app.kubernetes.io/version' };
    const { objects } = await render('mesh', 'guard-system', { mesh });
    const webhook = parseWebhookConfig(configFile(objects, 'webhook.yaml'));
    const watcher = parseWatcherConfig(configFile(objects, 'watcher.yaml'));
    expect(webhook.mesh).toEqual(mesh);
    expect(watcher.mesh).toEqual(mesh);
    expect(webhook.rules).toMatchObject({ defaultStableSubset: 'blue', clusterDomain: 'mesh.example', rootNamespace: 'mesh-root', guardLabel: 'corp.example/guarded' });
    expect([webhook.warnings, watcher.warnings]).toEqual([[], []]);
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as unknown as { webhooks: { namespaceSelector: { matchLabels?: Record<string, string> } }[] };
    expect(vwc.webhooks[0]?.namespaceSelector.matchLabels).toEqual({ 'corp.example/guarded': 'enabled' });
  });

  it('still honours the deprecated webhook.rules.clusterDomain for both processes, and fails the install when it disagrees with mesh', async () => {
    const { objects } = await render('legacy', 'guard-system', { webhook: { rules: { clusterDomain: 'corp.internal' } } });
    expect(parseWebhookConfig(configFile(objects, 'webhook.yaml')).mesh.clusterDomain).toBe('corp.internal');
    expect(parseWatcherConfig(configFile(objects, 'watcher.yaml')).mesh.clusterDomain).toBe('corp.internal');
    const r = await helm.template({ namespace: 'guard-system', values: { webhook: { rules: { clusterDomain: 'corp.internal' } }, mesh: { clusterDomain: 'mesh.example' } } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/webhook\.rules\.clusterDomain \(corp\.internal\) and mesh\.clusterDomain \(mesh\.example\) disagree/);
  });

  it('gives the webhook container the ports and paths its config names', async () => {
    const { objects } = await render('ports', 'guard-system', { webhook: { port: 8443, metricsPort: 8080 } });
    const webhook = parseWebhookConfig(configFile(objects, 'webhook.yaml'));
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-webhook')) as unknown as {
      spec: { template: { spec: { containers: { name: string; ports: { name: string; containerPort: number }[]; readinessProbe: { httpGet: { path: string; port: string } } }[] } } };
    };
    const container = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook');
    expect(container?.ports).toEqual(
      expect.arrayContaining([{ name: 'https', containerPort: webhook.admission.port, protocol: 'TCP' }, { name: 'metrics', containerPort: webhook.metrics.port, protocol: 'TCP' }]),
    );
    expect(container?.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'metrics' });
  });

  it("runs the webhook with webhook.nodeOptions as its NODE_OPTIONS (a small young generation by default), overridable", async () => {
    const nodeOptionsOf = async (name: string, values: Record<string, unknown>) => {
      const { objects } = await render(name, 'guard-system', values);
      const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-webhook')) as unknown as {
        spec: { template: { spec: { containers: { name: string; env?: { name: string; value: string }[] }[] } } };
      };
      return deployment.spec.template.spec.containers.find((c) => c.name === 'webhook')?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
    };
    expect(await nodeOptionsOf('node-options', {})).toBe('--enable-source-maps --max-semi-space-size=8');
    expect(await nodeOptionsOf('node-options-set', { webhook: { nodeOptions: '--max-semi-space-size=16' } })).toBe('--max-semi-space-size=16');
  });

  it('sizes memory from the benchmarks: each limit above the largest peak measured (docs/security.md, memory sizing)', async () => {
    const { objects } = await render('mem', 'guard-system');
    const memory = (suffix: string, container: string) => {
      const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith(suffix)) as unknown as {
        spec: { template: { spec: { containers: { name: string; resources: { requests: { memory: string }; limits: { memory: string } } }[] } } };
      };
      const r = d.spec.template.spec.containers.find((c) => c.name === container)?.resources;
      return { request: r?.requests.memory, limit: r?.limits.memory };
    };
    const mib = (q: string | undefined) => Number(/^(\d+)Mi$/.exec(q ?? '')?.[1] ?? NaN);
    const webhook = memory('-webhook', 'webhook');
    const watcher = memory('-watcher', 'watcher');
    expect([webhook, watcher]).toEqual([{ request: '256Mi', limit: '512Mi' }, { request: '256Mi', limit: '640Mi' }]);
    // Measured (docs/benchmarks.md, 2026-12-03): webhook peak 278 MiB and ready 256 MiB with 100,000 pods; watcher about 384 MiB at 5,000 services.
    expect(mib(webhook.limit)).toBeGreaterThan(278 * 1.3);
    expect(mib(webhook.request)).toBeGreaterThanOrEqual(256);
    expect(mib(watcher.limit)).toBeGreaterThan(384 * 1.3);
  });

  it('renders the dashboard as JSON with this release thresholds', async () => {
    const { objects } = await render('dash', 'guard-system', { watcher: { errorRate: { ratio: 0.03 }, latencyP99: { thresholdMs: 1500 } } });
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'));
    expect((cm?.metadata as { labels?: Record<string, string> }).labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(cm?.data?.['bluegreen-guard.json'] ?? '') as { panels: { title: string }[] };
    const titles = dashboard.panels.map((p) => p.title);
    expect(titles).toEqual(expect.arrayContaining(['Traffic split by version', '5xx ratio by version (rollback at 0.03)', 'p99 latency by version (rollback above 1500 ms)', 'Rollbacks', 'Warnings']));
  });

  it('renders alert rules promtool accepts', async () => {
    const { objects } = await render('rules', 'guard-system', { metrics: { prometheusRule: { enabled: true } } });
    const rule = objects.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: { groups: { rules: { alert: string }[] }[] } };
    const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(expect.arrayContaining(['BlueGreenGuardWebhookDown', 'BlueGreenGuardWebhookErrors', 'BlueGreenGuardWebhookSlow', 'BlueGreenGuardWatcherNotLeading', 'BlueGreenGuardBlind']));
    const rulesFile = join(certsDir, 'rules.yaml');
    writeFileSync(rulesFile, JSON.stringify({ groups: rule.spec.groups }));
    const checked = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(checked.status).toBe(0);
  });
});

describe('values.schema.json refuses bad values at install time, naming the field', () => {
  it.each([
    ['an unknown failurePolicy', { webhook: { failurePolicy: 'Sometimes' } }, /at '\/webhook\/failurePolicy': value must be one of 'Ignore', 'Fail'/],
    ['a single webhook replica', { webhook: { replicas: 1 } }, /at '\/webhook\/replicas': minimum: got 1, want 2/],
    ['a timeout the API server refuses', { webhook: { timeoutSeconds: 45 } }, /at '\/webhook\/timeoutSeconds': maximum: got 45, want 30/],
    ['a misspelt field', { webhook: { replica: 3 } }, /at '\/webhook': additional properties 'replica' not allowed/],
    ['an unknown rule', { webhook: { rules: { modes: { 'canary-frist': 'deny' } } } }, /additional properties 'canary-frist' not allowed/],
    ['an unknown rule mode', { webhook: { rules: { modes: { probes: 'block' } } } }, /at '\/webhook\/rules\/modes\/probes': value must be one of 'deny', 'warn', 'off'/],
    ['an error ratio given in percent', { watcher: { errorRate: { ratio: 5 } } }, /at '\/watcher\/errorRate\/ratio': maximum: got 5, want 1/],
    ['a Prometheus address without a scheme', { watcher: { prometheusUrl: 'prometheus:9090' } }, /at '\/watcher\/prometheusUrl'/],
    ['a cluster domain that is not a DNS name', { mesh: { clusterDomain: 'Cluster Local' } }, /at '\/mesh\/clusterDomain'/],
    ['no review judged at a time', { webhook: { admission: { maxConcurrentReviews: 0 } } }, /at '\/webhook\/admission\/maxConcurrentReviews': minimum: got 0, want 1/],
    ['a misspelt work bound', { webhook: { admission: { workBound: { maxRoute: 10 } } } }, /at '\/webhook\/admission\/workBound': additional properties 'maxRoute' not allowed/],
    ['a misspelt mesh field', { mesh: { stableSubset: 'blue' } }, /at '\/mesh': additional properties 'stableSubset' not allowed/],
    ['an unknown TLS mode', { tls: { mode: 'letsencrypt' } }, /at '\/tls\/mode': value must be one of 'certManager', 'selfManaged', 'secret'/],
    ['TLS from a Secret without naming it', { tls: { mode: 'secret' } }, /at '\/tls\/secret\/name': minLength: got 0, want 1/],
    ['renewal later than expiry', { tls: { selfManaged: { certValidityDays: 30, renewBeforeDays: 60 } } }, /tls\.selfManaged\.renewBeforeDays \(60\) must be below tls\.selfManaged\.certValidityDays \(30\)/],
    ['a lease renewed after it expires', { watcher: { lease: { durationSeconds: 10, renewDeadlineSeconds: 12 } } }, /watcher\.lease\.renewDeadlineSeconds \(12\) must be below watcher\.lease\.durationSeconds \(10\)/],
  ])('refuses %s', async (_name, values, message) => {
    const r = await helm.template({ namespace: 'guard-system', values });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

/** `kubectl auth can-i` as a ServiceAccount; true on "yes". */
async function can(namespace: string, serviceAccount: string, args: string[]): Promise<boolean> {
  const r = await cp.kubectl(['auth', 'can-i', `--as=system:serviceaccount:${namespace}:${serviceAccount}`, ...args]);
  if (r.code !== 0 && r.code !== 1) throw new Error(`kubectl auth can-i ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim() === 'yes';
}

describe('RBAC: each ServiceAccount can do what its process needs and nothing more', () => {
  let ns: string;
  let promoNs: string;
  const webhookSa = 'rbac-bluegreen-guard-webhook';
  const watcherSa = 'rbac-bluegreen-guard-watcher';
  const tlsSecret = 'rbac-bluegreen-guard-webhook-tls';

  beforeAll(async () => {
    ns = await cp.newNamespace('rbac');
    promoNs = await cp.newNamespace('rbac-promo');
    for (const [release, namespace, values] of [['rbac', ns, {}], ['promo', promoNs, { watcher: { promotion: { enabled: true } } }]] as const) {
      const { text } = await render(release, namespace, values);
      const r = await cp.kubectl(['apply', '-f', '-'], { stdin: text });
      if (r.code !== 0) throw new Error(`applying release ${release} failed: ${r.stderr}`);
    }
  }, 120_000);

  const webhookMay: string[][] = [
    ['get', 'virtualservices.networking.istio.io', '-A'],
    ['list', 'virtualservices.networking.istio.io', '-A'],
    ['watch', 'destinationrules.networking.istio.io', '-A'],
    ['list', 'services', '-A'],
    ['watch', 'pods', '-A'],
    ['list', 'namespaces'],
    ['watch', 'deployments.apps', '-A'],
    ['list', 'replicasets.apps', '-A'],
    ['list', 'jobs.batch', '-A'],
    ['watch', 'jobs.batch', '-A'],
  ];
  const webhookMayNot: string[][] = [
    ['create', 'virtualservices.networking.istio.io', '-n', 'default'],
    ['patch', 'virtualservices.networking.istio.io', '-A'],
    ['delete', 'virtualservices.networking.istio.io', '-A'],
    ['update', 'destinationrules.networking.istio.io', '-A'],
    ['list', 'secrets', '-A'],
    ['delete', 'pods', '-A'],
    ['get', 'jobs.batch', '-A'],
    ['delete', 'jobs.batch', '-A'],
    ['update', 'validatingwebhookconfigurations/other-webhook'],
    ['delete', 'validatingwebhookconfigurations', 'rbac-bluegreen-guard'],
    ['create', 'validatingwebhookconfigurations'],
    ['*', '*', '-A'],
  ];

  it.each(webhookMay)('lets the webhook %s %s', async (...args) => {
    expect(await can(ns, webhookSa, args)).toBe(true);
  });

  it.each(webhookMayNot)('does not let the webhook %s %s', async (...args) => {
    expect(await can(ns, webhookSa, args)).toBe(false);
  });

  it('lets the webhook read and update its own TLS Secret and caBundle, and no other Secret', async () => {
    expect(await can(ns, webhookSa, ['get', `secrets/${tlsSecret}`, '-n', ns])).toBe(true);
    expect(await can(ns, webhookSa, ['update', `secrets/${tlsSecret}`, '-n', ns])).toBe(true);
    expect(await can(ns, webhookSa, ['update', 'validatingwebhookconfigurations/rbac-bluegreen-guard'])).toBe(true);
    expect(await can(ns, webhookSa, ['get', 'secrets/another-secret', '-n', ns])).toBe(false);
    expect(await can(ns, webhookSa, ['list', 'secrets', '-n', ns])).toBe(false);
    expect(await can(ns, webhookSa, ['delete', `secrets/${tlsSecret}`, '-n', ns])).toBe(false);
    expect(await can(ns, webhookSa, ['get', `secrets/${tlsSecret}`, '-n', 'default'])).toBe(false);
  });

  const watcherMay: string[][] = [
    ['get', 'virtualservices.networking.istio.io', '-A'],
    ['list', 'virtualservices.networking.istio.io', '-A'],
    ['watch', 'virtualservices.networking.istio.io', '-A'],
    ['patch', 'virtualservices.networking.istio.io', '-A'],
    ['create', 'events', '-n', 'default'],
    ['list', 'namespaces'],
  ];
  const watcherMayNot: string[][] = [
    ['delete', 'virtualservices.networking.istio.io', '-A'],
    ['create', 'virtualservices.networking.istio.io', '-n', 'default'],
    ['update', 'virtualservices.networking.istio.io', '-A'],
    ['patch', 'destinationrules.networking.istio.io', '-A'],
    ['get', 'secrets', '-A'],
    ['list', 'secrets', '-A'],
    ['patch', 'deployments.apps', '-A'],
    ['delete', 'events', '-A'],
    ['create', 'leases.coordination.k8s.io', '-n', 'default'],
    ['*', '*', '-A'],
  ];

  it.each(watcherMay)('lets the watcher %s %s', async (...args) => {
    expect(await can(ns, watcherSa, args)).toBe(true);
  });

  it.each(watcherMayNot)('does not let the watcher %s %s', async (...args) => {
    expect(await can(ns, watcherSa, args)).toBe(false);
  });

  it('lets the watcher hold its own Lease in its namespace only', async () => {
    expect(await can(ns, watcherSa, ['get', `leases.coordination.k8s.io/${watcherSa}`, '-n', ns])).toBe(true);
    expect(await can(ns, watcherSa, ['update', `leases.coordination.k8s.io/${watcherSa}`, '-n', ns])).toBe(true);
    expect(await can(ns, watcherSa, ['create', 'leases.coordination.k8s.io', '-n', ns])).toBe(true);
    expect(await can(ns, watcherSa, ['update', 'leases.coordination.k8s.io/kube-scheduler', '-n', ns])).toBe(false);
    expect(await can(ns, watcherSa, ['get', `leases.coordination.k8s.io/${watcherSa}`, '-n', 'kube-system'])).toBe(false);
    expect(await can(ns, watcherSa, ['delete', `leases.coordination.k8s.io/${watcherSa}`, '-n', ns])).toBe(false);
  });

  it('lets the watcher label Deployments only when promotion is on', async () => {
    const promoWatcher = 'promo-bluegreen-guard-watcher';
    expect(await can(promoNs, promoWatcher, ['patch', 'deployments.apps', '-A'])).toBe(true);
    expect(await can(promoNs, promoWatcher, ['get', 'deployments.apps', '-A'])).toBe(true);
    expect(await can(promoNs, promoWatcher, ['delete', 'deployments.apps', '-A'])).toBe(false);
    expect(await can(promoNs, promoWatcher, ['update', 'deployments.apps', '-A'])).toBe(false);
    expect(await can(ns, watcherSa, ['get', 'deployments.apps', '-A'])).toBe(false);
  });

  it('grants nothing beyond the listed rules (kubectl auth can-i --list)', async () => {
    for (const [sa, allowed] of [
      [webhookSa, ['virtualservices.networking.istio.io', 'destinationrules.networking.istio.io', 'services', 'pods', 'namespaces', 'deployments.apps', 'replicasets.apps', 'jobs.batch', 'secrets', 'validatingwebhookconfigurations.admissionregistration.k8s.io']],
      [watcherSa, ['virtualservices.networking.istio.io', 'destinationrules.networking.istio.io', 'namespaces', 'events', 'services', 'pods', 'leases.coordination.k8s.io']],
    ] as const) {
      const r = await cp.kubectl(['auth', 'can-i', '--list', '-n', ns, `--as=system:serviceaccount:${ns}:${sa}`]);
      expect(r.code).toBe(0);
      const resources = r.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/)[0] ?? '')
        // Granted to every authenticated user by the API server's defaults: reviews of one's own access.
        .filter((res) => res !== '' && !res.startsWith('[') && !/^self(subject)?(access|rules)?reviews\.|^selfsubjectreviews\./.test(res));
      expect(new Set(resources)).toEqual(new Set(allowed));
    }
  });
});

describe('the webhook configuration selects what it should', () => {
  const vs = (namespace: string, name: string, apiVersion = 'networking.istio.io/v1'): string => `
apiVersion: ${apiVersion}
kind: VirtualService
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: [${name}]
  http:
    - route:
        - destination: {host: ${name}, subset: green}
          weight: 100
`;
  let release: string;
  let guarded: string;
  let unlabelled: string;
  const watcherAs = (): string => `--as=system:serviceaccount:${release}:wh-bluegreen-guard-watcher`;

  beforeAll(async () => {
    // The release namespace carries the opt-in label too: only the chart's
    // exclusion keeps it out of review.
    release = await cp.newNamespace('wh-release', { guard: true });
    guarded = await cp.newNamespace('wh-guarded', { guard: true });
    unlabelled = await cp.newNamespace('wh-plain');
    const before = await cp.kubectl(['apply', '-f', '-'], { stdin: vs(guarded, 'shop') });
    if (before.code !== 0) throw new Error(before.stderr);
    // failurePolicy Fail and no webhook pod behind the Service: every review
    // the API server attempts is refused, so refusals show what is selected.
    const { text } = await render('wh', release, { webhook: { failurePolicy: 'Fail', timeoutSeconds: 2 } });
    const r = await cp.kubectl(['apply', '-f', '-'], { stdin: text });
    if (r.code !== 0) throw new Error(r.stderr);
    await waitUntil(
      async () => {
        const probe = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: vs(guarded, 'probe') });
        return probe.code !== 0 && /failed calling webhook "istio-routes\.bluegreen-guard\.io"/.test(probe.stderr);
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'the API server to call the webhook for VirtualServices in a guarded namespace' },
    );
  }, 120_000);

  it.each([
    ['creating a v1 VirtualService', (): string => vs(guarded, 'shop-v1')],
    ['creating a v1beta1 VirtualService', (): string => vs(guarded, 'shop-beta', 'networking.istio.io/v1beta1')],
    ['creating a v1alpha3 VirtualService', (): string => vs(guarded, 'shop-alpha', 'networking.istio.io/v1alpha3')],
    ['creating a DestinationRule', (): string => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: shop, namespace: ${guarded}}\nspec:\n  host: shop\n  subsets: [{name: green, labels: {version: v1}}]\n`],
  ])('reviews %s in an opted-in namespace', async (_name, manifest) => {
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: manifest() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed calling webhook "istio-routes\.bluegreen-guard\.io"/);
  });

  it('reviews deletes', async () => {
    const r = await cp.kubectl(['delete', '--dry-run=server', 'virtualservice', 'shop', '-n', guarded]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed calling webhook/);
  });

  it('leaves namespaces that did not opt in, and its own namespace, alone', async () => {
    for (const namespace of [unlabelled, release]) {
      const r = await cp.kubectl(['apply', '-f', '-'], { stdin: vs(namespace, 'free') });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('never calls the webhook for the watcher, so its rollbacks pass even with failurePolicy Fail', async () => {
    const patch = ['patch', 'virtualservice', 'shop', '-n', guarded, '--type=merge', '-p', '{"metadata":{"annotations":{"bluegreen-guard.io/rollback-reason":"test"}}}'];
    const asAdmin = await cp.kubectl(patch);
    expect(asAdmin.code).not.toBe(0);
    expect(asAdmin.stderr).toMatch(/failed calling webhook/);
    const asWatcher = await cp.kubectl([...patch, watcherAs()]);
    expect(asWatcher.stderr).toBe('');
    expect(asWatcher.code).toBe(0);
  });

  it('lets writes through unreviewed with failurePolicy Ignore when the webhook is unreachable', async () => {
    const { text } = await render('wh', release, { webhook: { failurePolicy: 'Ignore', timeoutSeconds: 2 } });
    const r = await cp.kubectl(['apply', '-f', '-'], { stdin: text });
    expect(r.code).toBe(0);
    await waitUntil(
      async () => (await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: vs(guarded, 'ignored') })).code === 0,
      { timeoutMs: 30_000, intervalMs: 250, description: 'writes to pass once failurePolicy is Ignore' },
    );
    const rollback = await cp.kubectl(['apply', '-f', '-'], { stdin: vs(guarded, 'shop') });
    expect(rollback.code).toBe(0);
  }, 60_000);
});
