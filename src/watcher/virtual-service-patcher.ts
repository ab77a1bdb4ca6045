// The rollback use case, the seed's rollback steps 1 and 2: plan the revert
// to the stable subset, patch it, then read the object back and verify it.
// The API server sits behind the VirtualServiceStore port (src/cluster
// implements it). Every write is a JSON Patch that tests
// `metadata.resourceVersion` first, so a concurrent writer is never
// overwritten: on 409/422 we read the fresh object, plan again on it (maybe
// someone already rolled back) and retry.
import { FULL_TRAFFIC_AT, PREVIOUS_WEIGHTS, ROLLBACK_REASON, ROLLED_BACK_AT } from '../istio/annotations.js';
import { routesOf, subsetShare } from '../istio/routes.js';
import type { VirtualService } from '../istio/types.js';
import { annotationOps, testResourceVersion, type JsonPatchOp } from './json-patch.js';
import { checkRolledBack, planRollback, type BlockedRoute, type RollbackMesh, type RollbackRoles, type RouteChange } from './plan-rollback.js';
import { WriteConflict, type VirtualServiceStore } from './virtual-service-store.js';


export interface RollbackRequest {
  roles: RollbackRoles;
  /** Why: the breached rules and their values, one line. Recorded in an annotation. */
  reason: string;
  at: Date;
  /** More annotations written in the same patch (the rollback latch), so they land with the weights. */
  annotations?: Readonly<Record<string, string | null>>;
}

export type RollbackResult =
  /** Patched, read back, and the stable subset has 100 % on every route that carried the candidate. */
  | { outcome: 'rolled-back'; changes: RouteChange[]; conflicts: number; resourceVersion: string }
  /** The object (read fresh) sends no traffic to a candidate: someone rolled it back already. */
  | { outcome: 'already-rolled-back'; conflicts: number }
  /** Candidate traffic flows only on routes weights cannot move. Nothing was written. */
  | { outcome: 'blocked'; blocked: BlockedRoute[]; conflicts: number }
  /** Patched, but the object read back still sends traffic to a candidate. */
  | { outcome: 'not-verified'; changes: RouteChange[]; problems: string[]; conflicts: number }
  /** The patch could not be applied. */
  | { outcome: 'failed'; error: string; conflicts: number };

export type RecordResult = { outcome: 'recorded' | 'unchanged' | 'conflict' } | { outcome: 'failed'; error: string };

export interface PatcherOptions {
  mesh: RollbackMesh;
  /** Attempts at the rollback patch before giving up on conflicts (default 5). */
  maxAttempts?: number;
}

const MAX_REASON_CHARS = 1024;

export class VirtualServicePatcher {
  constructor(
    private readonly store: VirtualServiceStore,
    private readonly options: PatcherOptions,
  ) {}

  private get maxAttempts(): number {
    return this.options.maxAttempts ?? 5;
  }

  /**
   * Rolls `seen` (typically from a watch cache, maybe stale) back to the stable
   * subset. Never throws: every way it can end is an outcome.
   */
  async rollBack(seen: VirtualService, request: RollbackRequest): Promise<RollbackResult> {
    const { namespace, name } = seen.metadata;
    let current = seen;
    let conflicts = 0;
    try {
      if (current.metadata.resourceVersion === undefined) current = await this.store.get(namespace, name);
      for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
        const plan = planRollback(current, request.roles, this.options.mesh);
        if (plan.outcome === 'unchanged') return { outcome: 'already-rolled-back', conflicts };
        if (plan.outcome === 'blocked') return { outcome: 'blocked', blocked: plan.blocked, conflicts };
        const testedVersion = current.metadata.resourceVersion ?? '';
        const ops: JsonPatchOp[] = [
          testResourceVersion(testedVersion),
          ...plan.ops,
          ...annotationOps(current.metadata.annotations, {
            [ROLLED_BACK_AT]: request.at.toISOString(),
            [ROLLBACK_REASON]: request.reason.slice(0, MAX_REASON_CHARS),
            [PREVIOUS_WEIGHTS]: JSON.stringify(Object.fromEntries(plan.changes.map((c) => [c.route, c.before]))),
            [FULL_TRAFFIC_AT]: null,
            ...request.annotations,
          }),
        ];
        try {
          await this.store.patch(namespace, name, ops);
        } catch (err) {
          if (!(err instanceof WriteConflict)) throw err;
          const fresh = await this.store.get(namespace, name);
          // A 422 against an unchanged object is not a race: the patch itself is refused.
          if (err.status === 422 && fresh.metadata.resourceVersion === testedVersion) throw err;
          conflicts++;
          current = fresh;
          continue;
        }
        return await this.verify(namespace, name, request.roles, plan.changes, conflicts);
      }
      return {
        outcome: 'failed',
        conflicts,
        error: `VirtualService ${namespace}/${name} changed under every one of ${this.maxAttempts} rollback attempts; another writer keeps updating it: find it (kubectl get virtualservice ${name} -n ${namespace} --show-managed-fields -o yaml) and roll back by hand if needed`,
      };
    } catch (err) {
      return { outcome: 'failed', conflicts, error: `rolling back VirtualService ${namespace}/${name} failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  /** Records watcher state in annotations; a conflict is left for the next cycle, which sees the fresh object. */
  async recordAnnotations(seen: VirtualService, changes: Readonly<Record<string, string | null>>): Promise<RecordResult> {
    const { namespace, name, resourceVersion } = seen.metadata;
    const ops = annotationOps(seen.metadata.annotations, changes);
    if (ops.length === 0) return { outcome: 'unchanged' };
    try {
      await this.store.patch(namespace, name, [...(resourceVersion !== undefined ? [testResourceVersion(resourceVersion)] : []), ...ops]);
      return { outcome: 'recorded' };
    } catch (err) {
      if (err instanceof WriteConflict) return { outcome: 'conflict' };
      return { outcome: 'failed', error: `recording state on VirtualService ${namespace}/${name} failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  /** The seed's "Verify Rollback Success", on the object as the API server now returns it. */
  private async verify(namespace: string, name: string, roles: RollbackRoles, changes: RouteChange[], conflicts: number): Promise<RollbackResult> {
    const readBack = await this.store.get(namespace, name);
    const problems: string[] = [];
    const check = checkRolledBack(readBack, roles, this.options.mesh);
    if (!check.ok) problems.push(...check.problems);
    const changed = new Set(changes.map((c) => c.route));
    for (const route of routesOf(readBack, this.options.mesh.clusterDomain)) {
      if (!changed.has(route.label)) continue;
      const share = subsetShare(route, roles.stableSubset);
      if (share !== 100) problems.push(`${route.label} gives the stable subset '${roles.stableSubset}' ${share}%, not 100%`);
    }
    if (problems.length > 0) return { outcome: 'not-verified', changes, problems, conflicts };
    return { outcome: 'rolled-back', changes, conflicts, resourceVersion: readBack.metadata.resourceVersion ?? '' };
  }
}
