// probes: every container of the workload behind a candidate whose share
// rises has a readinessProbe and a livenessProbe (runbook checklist), and,
// when the config names them (probePaths), HTTP probes on those paths: the
// runbook's synthetic /live and /ready endpoints.
import type { ContainerProbes, Deployment } from '../../istio/types.js';
import { nextStep, promotionNote, raisedCandidates, routingSentence } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { workloadName } from './subset-backend.js';

export function checkProbes({ vs, object, name, change, lookup, config }: VsRuleInput): Issue[] {
  const issues: Issue[] = [];
  for (const s of raisedCandidates(change)) {
    const backend = lookup.backendFor(s, vs.metadata.namespace);
    if (backend.kind !== 'pods') continue;
    for (const w of backend.workloads) {
      const what = routingSentence(name, s);
      if (!w.deployment) {
        issues.push({
          rule: 'probes',
          object,
          advisory: true,
          message: w.ownerUnknown
            ? `${what}, but its pods' owner ${workloadName(w)} is not in the cluster state, so their probes cannot be checked. Fix: include the pods' ReplicaSets and Deployments in the state.`
            : `${what}, whose pods belong to ${workloadName(w)}, not to a Deployment, so their probes cannot be checked. Fix: run the version as a Deployment.`,
        });
        continue;
      }
      const lacking = lackingProbes(w.deployment);
      const wrongPaths = w.deployment.spec.containers.flatMap((c) => pathProblems(c, config.probePaths));
      if (wrongPaths.length > 0) {
        const wanted = [config.probePaths.readinessPath && `readinessProbe httpGet.path ${config.probePaths.readinessPath}`, config.probePaths.livenessPath && `livenessProbe httpGet.path ${config.probePaths.livenessPath}`].filter(Boolean);
        issues.push({
          rule: 'probes',
          object,
          message:
            `${what}, but ${workloadName(w)}'s probes do not use the required paths: ${wrongPaths.join('; ')}. ` +
            `Fix: give every container of ${workloadName(w)} a ${wanted.join(' and a ')} (the rules config's probePaths), roll it out, then ${nextStep(s)}.` +
            promotionNote(s),
        });
      }
      if (lacking.length === 0) continue;
      issues.push({
        rule: 'probes',
        object,
        message:
          `${what}, but ${workloadName(w)} has containers without probes: ${describeLacking(lacking)}. ` +
          `Fix: add a readinessProbe and a livenessProbe to every container of ${workloadName(w)}, roll it out, then ${nextStep(s)}.` +
          promotionNote(s),
      });
    }
  }
  return issues;
}

/** How a container's probes differ from the required paths; a missing probe is reported as missing, not here. */
export function pathProblems(c: ContainerProbes, required: VsRuleInput['config']['probePaths']): string[] {
  const out: string[] = [];
  const check = (kind: 'readinessProbe' | 'livenessProbe', has: boolean, path: string | undefined, want: string | undefined): void => {
    if (want === undefined || !has || path === want) return;
    out.push(`container ${c.name}'s ${kind} ${path === undefined ? 'is not an HTTP probe' : `checks ${path}`}, not ${want}`);
  };
  check('readinessProbe', c.hasReadinessProbe, c.readinessPath, required.readinessPath);
  check('livenessProbe', c.hasLivenessProbe, c.livenessPath, required.livenessPath);
  return out;
}

/** The containers of a Deployment's pod template that lack a readiness or a liveness probe. */
export function lackingProbes(d: Deployment): { name: string; missing: string[] }[] {
  return d.spec.containers
    .map((c) => ({ name: c.name, missing: [...(c.hasReadinessProbe ? [] : ['readinessProbe']), ...(c.hasLivenessProbe ? [] : ['livenessProbe'])] }))
    .filter((c) => c.missing.length > 0);
}

/** `web (no readinessProbe, no livenessProbe); sidecar (no livenessProbe)` */
export function describeLacking(lacking: readonly { name: string; missing: string[] }[]): string {
  return lacking.map((c) => `${c.name} (no ${c.missing.join(', no ')})`).join('; ');
}
