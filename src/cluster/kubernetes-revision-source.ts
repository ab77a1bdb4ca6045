// The revisions behind a candidate subset, read from the API server at a
// rollback: the Service's selector together with the subset's labels, as
// Istio selects the subset's endpoints. Two reads (GET the Service, LIST its
// pods by label selector) only when a rollback happens, so the watcher keeps
// no pod cache.
import type { CoreV1Api } from '@kubernetes/client-node';
import { revisionOfPod, distinctRevisions, type Revision } from '../istio/rollback-latch.js';
import type { LatchTarget, RevisionSource } from '../watcher/latch.js';
import { apiFailure } from './api-error.js';

export class KubernetesRevisionSource implements RevisionSource {
  constructor(private readonly core: CoreV1Api) {}

  async revisionsOf(target: LatchTarget): Promise<Revision[]> {
    const { namespace, service } = target;
    try {
      const svc = await this.core.readNamespacedService({ namespace, name: service });
      const selector = { ...(svc.spec?.selector ?? {}), ...target.subsetLabels };
      if (Object.keys(selector).length === 0) throw new Error(`Service ${namespace}/${service} has no selector and the subset no labels`);
      const labelSelector = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
      const pods = await this.core.listNamespacedPod({ namespace, labelSelector });
      return distinctRevisions(
        pods.items
          .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
          .map((p) =>
            revisionOfPod({
              metadata: {
                namespace,
                labels: p.metadata?.labels ?? {},
                ownerReferences: (p.metadata?.ownerReferences ?? []).map((o) => ({ kind: o.kind, name: o.name, controller: o.controller === true })),
              },
            }),
          ),
      );
    } catch (err) {
      const f = apiFailure(err);
      const hint = f.code === 403 ? '; fix: grant the watcher get on services and list on pods (the chart\'s ClusterRole does)' : '';
      throw new Error(`reading the pods behind ${namespace}/${service} failed (HTTP ${f.code}): ${f.message}${hint}`, { cause: err });
    }
  }
}
