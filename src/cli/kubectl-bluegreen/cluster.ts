// The plugin's view of the cluster, as the person running it: their
// kubeconfig, context and namespace (kubectl's flags and rules), their RBAC.
// Every failure becomes a sentence naming the object and the fix.
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { apiFailure } from '../../cluster/api-error.js';
import { KubernetesEventRecorder } from '../../cluster/events.js';
import { KubernetesVirtualServiceStore } from '../../cluster/kubernetes-virtual-service-store.js';
import { slimIstio } from '../../cluster/slim.js';
import { GUARD_ANNOTATION, GUARD_LABEL } from '../../istio/annotations.js';
import type { DestinationRule, VirtualService } from '../../istio/types.js';
import type { EventView } from './status-view.js';

export class PluginError extends Error {}

export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export class PluginCluster {
  readonly kc: KubeConfig;
  readonly namespace: string;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(flags: ClusterFlags) {
    const kc = new KubeConfig();
    try {
      if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
      else kc.loadFromDefault();
    } catch (e) {
      throw new PluginError(`cannot load the kubeconfig ${flags.kubeconfig ?? '(KUBECONFIG or ~/.kube/config)'}: ${(e as Error).message}; fix: pass --kubeconfig`);
    }
    if (flags.context) {
      if (!kc.getContextObject(flags.context)) throw new PluginError(`the kubeconfig has no context ${flags.context}; fix: kubectl config get-contexts`);
      kc.setCurrentContext(flags.context);
    }
    if (!kc.getCurrentCluster()) throw new PluginError('no cluster: the kubeconfig names no current context or cluster; fix: pass --kubeconfig and --context, or kubectl config use-context');
    this.kc = kc;
    this.namespace = flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '(unknown)';
  }

  /** Who the API server says we are (for the record of who rolled back or promoted). */
  async whoAmI(): Promise<{ username: string; groups: string[] }> {
    try {
      const review = await this.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      return { username: review.status?.userInfo?.username ?? 'unknown', groups: review.status?.userInfo?.groups ?? [] };
    } catch (err) {
      throw this.failure(err, 'ask who you are (SelfSubjectReview)', 'the cluster');
    }
  }

  async virtualService(name: string): Promise<VirtualService> {
    try {
      const raw = (await this.custom.getNamespacedCustomObject({ ...this.vsRef(this.namespace), name })) as Record<string, unknown>;
      return slimIstio<VirtualService>({ ...raw, kind: 'VirtualService' });
    } catch (err) {
      throw this.failure(err, 'get', `VirtualService ${this.namespace}/${name}`);
    }
  }

  async virtualServices(allNamespaces: boolean): Promise<VirtualService[]> {
    try {
      const list = (allNamespaces
        ? await this.custom.listClusterCustomObject({ group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' })
        : await this.custom.listNamespacedCustomObject(this.vsRef(this.namespace))) as { items: Record<string, unknown>[] };
      return list.items.map((raw) => slimIstio<VirtualService>({ ...raw, kind: 'VirtualService' }));
    } catch (err) {
      throw this.failure(err, 'list', allNamespaces ? 'VirtualServices in all namespaces' : `VirtualServices in ${this.namespace}`);
    }
  }

  async destinationRules(namespace: string): Promise<DestinationRule[]> {
    try {
      const list = (await this.custom.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'destinationrules' })) as { items: Record<string, unknown>[] };
      return list.items.map((raw) => slimIstio<DestinationRule>({ ...raw, kind: 'DestinationRule' }));
    } catch (err) {
      throw this.failure(err, 'list', `DestinationRules in ${namespace}`);
    }
  }

  /** Whether bluegreen-guard guards it: the object's annotation, else its namespace's label (as the webhook decides). */
  async isGuarded(vs: VirtualService, namespaceLabels?: Map<string, Record<string, string>>): Promise<boolean> {
    const own = vs.metadata.annotations?.[GUARD_ANNOTATION];
    if (own === 'enabled') return true;
    if (own === 'disabled') return false;
    let labels = namespaceLabels?.get(vs.metadata.namespace);
    if (!labels) {
      labels = await this.namespaceLabels(vs.metadata.namespace);
      namespaceLabels?.set(vs.metadata.namespace, labels);
    }
    return labels[GUARD_LABEL] === 'enabled';
  }

  async namespaceLabels(namespace: string): Promise<Record<string, string>> {
    try {
      return (await this.core.readNamespace({ name: namespace })).metadata?.labels ?? {};
    } catch (err) {
      throw this.failure(err, 'get', `Namespace ${namespace}`);
    }
  }

  /** A guarded VirtualService, or an error saying how to guard it. */
  async guardedVirtualService(name: string): Promise<VirtualService> {
    const vs = await this.virtualService(name);
    if (!(await this.isGuarded(vs))) {
      throw new PluginError(
        `VirtualService ${this.namespace}/${name} is not guarded by bluegreen-guard; fix: kubectl label namespace ${this.namespace} ${GUARD_LABEL}=enabled (or annotate the VirtualService ${GUARD_ANNOTATION}=enabled)`,
      );
    }
    return vs;
  }

  async events(vs: VirtualService): Promise<EventView[]> {
    try {
      const list = await this.core.listNamespacedEvent({ namespace: vs.metadata.namespace, fieldSelector: `involvedObject.kind=VirtualService,involvedObject.name=${vs.metadata.name}` });
      return list.items.map((e) => ({
        type: e.type ?? 'Normal',
        reason: e.reason ?? '',
        message: e.message ?? '',
        at: new Date(e.lastTimestamp ?? e.firstTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0).toISOString(),
      }));
    } catch (err) {
      throw this.failure(err, 'list', `Events of VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`);
    }
  }

  store(): KubernetesVirtualServiceStore {
    return new KubernetesVirtualServiceStore(this.custom);
  }

  recorder(instance: string): KubernetesEventRecorder {
    return new KubernetesEventRecorder(this.core, instance);
  }

  /** The API server's answer as a sentence: unreachable, forbidden, missing. */
  failure(err: unknown, verb: string, what: string): PluginError {
    if (err instanceof PluginError) return err;
    const f = apiFailure(err);
    if (f.code === 0) return new PluginError(`no cluster: cannot reach the API server at ${this.server} to ${verb} ${what}: ${f.message}; fix: check --kubeconfig/--context and that the cluster is up`);
    if (f.code === 401) return new PluginError(`the API server at ${this.server} does not accept your credentials (HTTP 401); fix: log in again or pick another --context`);
    if (f.code === 403) return new PluginError(`no RBAC: you may not ${verb} ${what} (HTTP 403: ${f.message}); fix: ask for a Role granting ${verb} on it`);
    if (f.code === 404) return new PluginError(`${what} not found (HTTP 404); fix: check the name and -n/--namespace`);
    return new PluginError(`${verb} ${what} failed (HTTP ${f.code}): ${f.message}`);
  }

  private vsRef(namespace: string) {
    return { group: 'networking.istio.io', version: 'v1', namespace, plural: 'virtualservices' };
  }
}
