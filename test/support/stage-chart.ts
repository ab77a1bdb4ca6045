// What `helm install bluegreen-guard charts/bluegreen-guard -n bluegreen-guard`
// puts in a cluster, minus the pods: the chart is rendered by the real helm
// (test/helm/build.sh) and the stage installs its ServiceAccounts and
// least-privilege RBAC, its ValidatingWebhookConfiguration (pointed at the
// webhook process by URL, since no Service routes to the loopback address), and
// runs both processes with the config files the chart renders, changing only
// what differs on one machine (addresses, file paths, the kubeconfig). So the
// end-to-end tests prove the chart's roles grant enough, its failurePolicy does
// what the docs say, and its config files are the ones that work.
import { parseAllDocuments, parse } from 'yaml';
import type { ControlPlane } from './control-plane.js';
import { Helm } from './helm.js';
import type { KubeObject } from './kube-api.js';

export const RELEASE = 'bluegreen-guard';
export const RELEASE_NAMESPACE = 'bluegreen-guard';

export type FailurePolicy = 'Fail' | 'Ignore';

export interface ChartOptions {
  /** PEM of the CA that signed the webhook's serving certificate (the configuration's caBundle). */
  caPem: string;
  /** Overrides the chart's `webhook.failurePolicy`; default: whatever values.yaml says. */
  failurePolicy?: FailurePolicy;
  /** `watcher.promotion.enabled` (seed step 7); default true. */
  promotion?: boolean;
  /** The chart's `mesh:` values (default stable subset, cluster domain, ...); default: values.yaml's. */
  mesh?: Record<string, string>;
}

export interface RenderedChart {
  /** ServiceAccounts, (Cluster)Roles and their bindings, in the order to create them. */
  rbac: KubeObject[];
  webhookConfiguration: KubeObject & { webhooks: WebhookEntry[] };
  /** The ValidatingAdmissionPolicy on the watcher's writes and its binding, in the order to create them. */
  admissionPolicies: KubeObject[];
  /** The decoded `webhook.yaml` and `watcher.yaml` of the chart's ConfigMap. */
  webhookConfig: Record<string, unknown>;
  watcherConfig: Record<string, unknown>;
  webhookServiceAccount: string;
  watcherServiceAccount: string;
  /** The identity the API server gives the watcher, which the webhook configuration's matchCondition skips. */
  watcherUsername: string;
  failurePolicy: FailurePolicy;
  /** The entry that reviews VirtualServices and DestinationRules. */
  webhookName: string;
}

interface WebhookEntry {
  name: string;
  failurePolicy: FailurePolicy;
  clientConfig: { service?: unknown; url?: string; caBundle?: string };
  [field: string]: unknown;
}

const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

function componentOf(o: KubeObject): string | undefined {
  return o.metadata.labels?.['app.kubernetes.io/component'];
}

/** `helm template` of the chart with TLS from a Secret whose CA is `caPem`. */
export async function renderChart(options: ChartOptions): Promise<RenderedChart> {
  const helm = await Helm.build();
  try {
    const values: Record<string, unknown> = {
      tls: { mode: 'secret', secret: { name: `${RELEASE}-webhook-tls`, caBundle: Buffer.from(options.caPem).toString('base64') } },
      watcher: { promotion: { enabled: options.promotion ?? true } },
      ...(options.failurePolicy ? { webhook: { failurePolicy: options.failurePolicy } } : {}),
      ...(options.mesh ? { mesh: options.mesh } : {}),
    };
    const result = await helm.template({ releaseName: RELEASE, namespace: RELEASE_NAMESPACE, values });
    if (result.code !== 0) throw new Error(`helm template ${RELEASE} charts/bluegreen-guard failed (exit ${result.code}):\n${result.stderr}`);
    const objects = parseAllDocuments(result.stdout)
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null);
    const one = (kind: string, component?: string): KubeObject => {
      const found = objects.filter((o) => o.kind === kind && (component === undefined || componentOf(o) === component));
      if (found.length !== 1) throw new Error(`the rendered chart has ${found.length} ${kind}${component ? ` of component ${component}` : ''}, expected one`);
      return found[0]!;
    };
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${RELEASE}-config`) as (KubeObject & { data: Record<string, string> }) | undefined;
    if (!configMap) throw new Error(`the rendered chart has no ConfigMap ${RELEASE}-config with webhook.yaml and watcher.yaml`);
    const webhookConfiguration = one('ValidatingWebhookConfiguration') as RenderedChart['webhookConfiguration'];
    // The first entry reviews VirtualServices and DestinationRules; the others, workload label changes.
    const entry = webhookConfiguration.webhooks[0];
    if (!entry) throw new Error('the rendered ValidatingWebhookConfiguration holds no webhook');
    const webhookServiceAccount = one('ServiceAccount', 'webhook').metadata.name;
    const watcherServiceAccount = one('ServiceAccount', 'watcher').metadata.name;
    return {
      rbac: RBAC_KINDS.flatMap((kind) => objects.filter((o) => o.kind === kind)),
      webhookConfiguration,
      admissionPolicies: ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].flatMap((kind) => objects.filter((o) => o.kind === kind)),
      webhookConfig: parse(configMap.data['webhook.yaml'] ?? '') as Record<string, unknown>,
      watcherConfig: parse(configMap.data['watcher.yaml'] ?? '') as Record<string, unknown>,
      webhookServiceAccount,
      watcherServiceAccount,
      watcherUsername: `system:serviceaccount:${RELEASE_NAMESPACE}:${watcherServiceAccount}`,
      failurePolicy: entry.failurePolicy,
      webhookName: entry.name,
    };
  } finally {
    helm.dispose();
  }
}

export interface InstalledIdentities {
  webhookKubeconfig: string;
  watcherKubeconfig: string;
}

/** Creates the release namespace, the chart's RBAC objects and its ValidatingAdmissionPolicy; returns a kubeconfig for each process's ServiceAccount. */
export async function installChartIdentities(cp: ControlPlane, chart: RenderedChart): Promise<InstalledIdentities> {
  await cp.api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: RELEASE_NAMESPACE } });
  for (const object of chart.rbac) {
    const namespaced = object.kind === 'ServiceAccount' || object.kind === 'Role' || object.kind === 'RoleBinding';
    await cp.api.create({ ...object, metadata: { ...object.metadata, ...(namespaced ? { namespace: object.metadata.namespace ?? RELEASE_NAMESPACE } : {}) } });
  }
  // The API server's own check of the watcher's writes, as `helm install` creates it.
  for (const policy of chart.admissionPolicies) await cp.api.create(policy);
  // Long enough for a demo left running; no token controller rotates them here.
  const expirationSeconds = 12 * 3600;
  const kubeconfig = async (account: string) => cp.kubeconfigFor(await cp.serviceAccountToken(RELEASE_NAMESPACE, account, expirationSeconds), account);
  return { webhookKubeconfig: await kubeconfig(chart.webhookServiceAccount), watcherKubeconfig: await kubeconfig(chart.watcherServiceAccount) };
}

/** Creates the chart's ValidatingWebhookConfiguration with its Service reference replaced by `url`. */
export async function registerChartWebhook(cp: ControlPlane, chart: RenderedChart, url: string): Promise<void> {
  const { webhookConfiguration } = chart;
  await cp.api.create({
    ...webhookConfiguration,
    webhooks: webhookConfiguration.webhooks.map((w) => ({ ...w, clientConfig: { url, caBundle: w.clientConfig.caBundle } })),
  });
}
