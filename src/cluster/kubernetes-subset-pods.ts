// The pods behind a subset, read from the API server at a rollback: the
// candidate's revisions (for the latch) and the stable subset's Ready count
// (never roll back onto nothing). Selected by the Service's selector together
// with the subset's labels, as Istio selects the subset's endpoints. Two reads (GET the Service, LIST its
// pods by label selector) only when a rollback happens, so the watcher keeps
// no pod cache.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { revisionOfPod, distinctRevisions, type Revision } from '../istio/rollback-latch.js';
import type { LatchTarget, RevisionSource } from '../watcher/latch.js';
import type { ReadyPodSource } from '../watcher/rollback-target.js';
import type { PodTimes, PodTimesSource } from '../watcher/cutover-timeline.js';
import { apiFailure } from './api-error.js';

export class KubernetesSubsetPods implements RevisionSource, ReadyPodSource, PodTimesSource {
  constructor(private readonly core: CoreV1Api) {}

  async revisionsOf(target: LatchTarget): Promise<Revision[]> {
    return distinctRevisions(
      (await this.running(target)).map((p) =>
        revisionOfPod({
          metadata: {
            namespace: target.namespace,
            labels: p.metadata?.labels ?? {},
            ownerReferences: (p.metadata?.ownerReferences ?? []).map((o) => ({ kind: o.kind, name: o.name, controller: o.controller === true })),
          },
        }),
      ),
    );
  }

  async readyPods(target: LatchTarget): Promise<{ ready: number; total: number }> {
    const pods = await this.running(target);
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    return { ready, total: pods.length };
  }

  /** The cutover report's deploy and ready steps: the earliest pod creation, the latest Ready transition once all are Ready. */
  async podTimes(target: LatchTarget): Promise<PodTimes> {
    const pods = await this.running(target);
    const ms = (d: Date | string | undefined) => (d === undefined ? NaN : new Date(d).getTime());
    const created = pods.map((p) => ms(p.metadata?.creationTimestamp)).filter(Number.isFinite);
    const ready = pods.map((p) => p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')).map((c) => ms(c?.lastTransitionTime));
    const allReady = ready.length > 0 && ready.every(Number.isFinite);
    return {
      deployedAt: created.length > 0 ? new Date(Math.min(...created)) : undefined,
      readyAt: allReady ? new Date(Math.max(...ready)) : undefined,
    };
  }

  /** The pods behind the subset that are not terminating or finished. */
  private async running(target: LatchTarget): Promise<V1Pod[]> {
    const { namespace, service } = target;
    try {
      const svc = await this.core.readNamespacedService({ namespace, name: service });
      const selector = { ...(svc.spec?.selector ?? {}), ...target.subsetLabels };
      if (Object.keys(selector).length === 0) throw new Error(`Service ${namespace}/${service} has no selector and the subset no labels`);
      const labelSelector = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
      const pods = await this.core.listNamespacedPod({ namespace, labelSelector });
      return pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    } catch (err) {
      const f = apiFailure(err);
      const hint = f.code === 403 ? '; fix: grant the watcher get on services and list on pods (the chart\'s ClusterRole does)' : '';
      throw new Error(`reading the pods behind ${namespace}/${service} failed (HTTP ${f.code}): ${f.message}${hint}`, { cause: err });
    }
  }
}
