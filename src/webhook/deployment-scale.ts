// The deployments/scale subresource (kubectl scale, the HPA): the API server
// sends an autoscaling/v1 Scale, not a Deployment. keep-previous judges it
// like a replicas change of the Deployment, so it is decoded as one that
// carries only its name and replicas.
import { slimMeta } from '../cluster/slim.js';
import type { Deployment } from '../istio/types.js';
import type { ReviewInput } from './verdict.js';
import { checkKeepPrevious } from './rules/keep-previous.js';
import type { Issue } from './rules/issue.js';
import type { ClusterState } from '../cluster/cluster-state.js';
import type { RulesConfig } from './rules-config.js';

type Json = Record<string, unknown>;

export function isDeploymentScale(req: Json): boolean {
  const resource = req.resource as Json | undefined;
  return req.subResource === 'scale' && resource?.group === 'apps' && resource?.resource === 'deployments';
}

export function scaleAsDeployment(raw: Json): Deployment {
  const spec = (raw.spec ?? {}) as Json;
  const replicas = typeof spec.replicas === 'number' ? spec.replicas : 0;
  return { kind: 'Deployment', metadata: slimMeta(raw.metadata), spec: { replicas, containers: [] }, status: {} };
}

/** keep-previous on a Deployment UPDATE (replicas, scale subresource) or DELETE. */
export function keepPreviousIssues(input: ReviewInput, state: ClusterState, config: RulesConfig): Issue[] {
  const before = input.oldObject;
  if ((input.operation !== 'UPDATE' && input.operation !== 'DELETE') || before?.kind !== 'Deployment') return [];
  const after = input.object?.kind === 'Deployment' ? input.object : undefined;
  return checkKeepPrevious(
    {
      operation: input.operation,
      namespace: before.metadata.namespace,
      name: before.metadata.name,
      ...(input.subresource ? { subresource: input.subresource } : {}),
      replicasBefore: before.spec.replicas ?? 1,
      replicasAfter: input.operation === 'DELETE' ? undefined : (after?.spec.replicas ?? 1),
      requester: input.requester,
    },
    state,
    config,
    new Date(input.nowMs ?? Date.now()),
  );
}
