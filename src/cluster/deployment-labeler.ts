// The seed's step 7, "Promote v2 to Production Label": once the cutover is
// recorded stable, the candidate's Deployment gets `env=prod` (configurable).
// The Deployment is the one whose pods the candidate subset selects: the
// Service's selector and the subset's labels, both found in its pod template.
// One JSON merge patch that names only that label.
import { PatchStrategy, setHeaderOptions, type AppsV1Api, type CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { apiFailure } from './api-error.js';

export interface PromotionTarget {
  namespace: string;
  /** The Kubernetes Service the VirtualService routes to. */
  service: string;
  /** The candidate subset's labels from its DestinationRule (e.g. `version: v2`). */
  subsetLabels: Readonly<Record<string, string>>;
}

export type PromotionResult = { outcome: 'labelled'; deployment: string } | { outcome: 'already-labelled'; deployment: string } | { outcome: 'failed'; error: string };

export interface DeploymentPromoter {
  /** Never rejects: every way it can end is an outcome. */
  promote(target: PromotionTarget, label: { key: string; value: string }): Promise<PromotionResult>;
}

/** Which Deployments run the candidate's pods. Exported for tests. */
export function deploymentsSelecting(deployments: readonly V1Deployment[], selector: Readonly<Record<string, string>>): V1Deployment[] {
  return deployments.filter((d) => {
    const podLabels = d.spec?.template?.metadata?.labels ?? {};
    return Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  });
}

export class KubernetesDeploymentPromoter implements DeploymentPromoter {
  constructor(
    private readonly core: CoreV1Api,
    private readonly apps: AppsV1Api,
  ) {}

  async promote(target: PromotionTarget, label: { key: string; value: string }): Promise<PromotionResult> {
    const { namespace, service } = target;
    try {
      const svc = await this.core.readNamespacedService({ namespace, name: service });
      const selector = { ...(svc.spec?.selector ?? {}), ...target.subsetLabels };
      if (Object.keys(selector).length === 0) {
        return { outcome: 'failed', error: `Service ${namespace}/${service} has no selector and the subset no labels: cannot tell which Deployment to label ${label.key}=${label.value}` };
      }
      const list = await this.apps.listNamespacedDeployment({ namespace });
      const matches = deploymentsSelecting(list.items, selector);
      const wanted = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
      if (matches.length !== 1) {
        const names = matches.map((d) => d.metadata?.name ?? '').join(', ');
        return {
          outcome: 'failed',
          error: `expected exactly one Deployment in ${namespace} whose pods carry ${wanted}, found ${matches.length}${names ? ` (${names})` : ''}; fix: label it by hand (kubectl label deployment <name> ${label.key}=${label.value} -n ${namespace}) or make the subset's labels unique`,
        };
      }
      const name = matches[0]?.metadata?.name ?? '';
      if (matches[0]?.metadata?.labels?.[label.key] === label.value) return { outcome: 'already-labelled', deployment: name };
      await this.apps.patchNamespacedDeployment(
        { namespace, name, body: { metadata: { labels: { [label.key]: label.value } } }, fieldManager: 'bluegreen-guard' },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return { outcome: 'labelled', deployment: name };
    } catch (err) {
      const f = apiFailure(err);
      const hint = f.code === 403 ? '; fix: grant the watcher get on services and list, patch on deployments (promotion.enabled needs them)' : '';
      return { outcome: 'failed', error: `promoting the candidate of ${namespace}/${service} failed (HTTP ${f.code}): ${f.message}${hint}` };
    }
  }
}
