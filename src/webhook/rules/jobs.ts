// jobs: the runbook's "schema migrations applied before deployment" and "no
// pending data backfills or long-running jobs blocking cutover". A Job in the
// candidate's namespace labelled with its service and version (label keys
// from the rules config, default app and version) and annotated
// `bluegreen-guard.io/before-cutover: "true"` must have succeeded before the
// version's share rises; a Job of the service annotated
// `bluegreen-guard.io/blocks-cutover: "true"` that has not finished denies any
// cutover of the service. Where no such Job exists, the rule says nothing.
import { BEFORE_CUTOVER, BLOCKS_CUTOVER } from '../../istio/annotations.js';
import type { Job, Pod } from '../../istio/types.js';
import { nextStep, promotionNote, raisedCandidates, routingSentence } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';

export function checkJobs({ vs, object, name, change, lookup, config }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  const { service: serviceKey, version: versionKey } = config.jobLabels;
  for (const s of raisedCandidates(change)) {
    const backend = lookup.backendFor(s, vs.metadata.namespace);
    if (backend.kind !== 'pods') continue;
    const namespace = backend.service.metadata.namespace;
    // The selector names the service and version when it uses the configured keys; else the pods all carry them.
    const service = backend.selector[serviceKey] ?? sharedLabel(backend.pods, serviceKey) ?? backend.service.metadata.name;
    const version = backend.selector[versionKey] ?? sharedLabel(backend.pods, versionKey);
    const ofService = lookup.state.jobs(namespace).filter((j) => j.metadata.labels?.[serviceKey] === service);
    if (ofService.length === 0) continue;
    const what = routingSentence(name, s);

    const migrations = version === undefined ? [] : ofService.filter((j) => j.beforeCutover && j.metadata.labels?.[versionKey] === version);
    const unfinished = migrations.filter((j) => j.outcome !== 'succeeded');
    if (unfinished.length > 0) {
      issues.push({
        rule: 'jobs',
        object,
        message:
          `${what}, but ${unfinished.map((j) => `migration Job ${namespace}/${j.metadata.name} ${jobState(j)}`).join('; ')} ` +
          `(labelled ${serviceKey}=${service}, ${versionKey}=${version}, annotated ${BEFORE_CUTOVER}: "true": it must succeed before ${version} gets traffic). ` +
          `Fix: ${fixFor(unfinished, namespace)}, then ${nextStep(s)}.` +
          promotionNote(s),
      });
    }

    const blocking = ofService.filter((j) => j.blocksCutover && j.outcome === 'running');
    if (blocking.length > 0) {
      issues.push({
        rule: 'jobs',
        object,
        message:
          `${what}, but ${blocking.map((j) => `Job ${namespace}/${j.metadata.name} ${jobState(j)}`).join('; ')} ` +
          `(labelled ${serviceKey}=${service}, annotated ${BLOCKS_CUTOVER}: "true": no cutover of ${service} while it runs). ` +
          `Fix: wait for it with 'kubectl wait --for=condition=complete job/${blocking[0]?.metadata.name ?? ''} -n ${namespace}', then ${nextStep(s)}.` +
          promotionNote(s),
      });
    }
  }
  return issues;
}

function sharedLabel(pods: readonly Pod[], key: string): string | undefined {
  const values = new Set(pods.map((p) => p.metadata.labels?.[key]));
  const [only] = values;
  return values.size === 1 ? only : undefined;
}

function jobState(j: Job): string {
  if (j.outcome === 'failed') return `failed${j.reason ? ` (${j.reason}${j.message ? `: ${j.message}` : ''})` : ''}`;
  if (j.suspended) return 'is suspended';
  return j.active > 0 ? `is still running (${j.active} active pod${j.active === 1 ? '' : 's'}${j.failed > 0 ? `, ${j.failed} failed` : ''})` : 'has not completed yet';
}

function fixFor(jobs: readonly Job[], namespace: string): string {
  const failed = jobs.find((j) => j.outcome === 'failed');
  if (failed) {
    return `read 'kubectl logs job/${failed.metadata.name} -n ${namespace}', fix the migration and run it again (a new Job, or delete and re-create this one) until it succeeds`;
  }
  return `wait for it with 'kubectl wait --for=condition=complete job/${jobs[0]?.metadata.name ?? ''} -n ${namespace}'`;
}
