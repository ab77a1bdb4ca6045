// Why a pod is not passing, in words, from its own status (the slim
// PodTrouble / PodRestart): what `kubectl describe pod` would show first, and
// the runbook's fix for it.
import type { Pod, PodTrouble } from '../../istio/types.js';

export interface PodVerdict {
  pod: Pod;
  /** `pod web-v2-abc: container web is waiting: CreateContainerConfigError: secret "db-creds" not found` */
  problem: string;
  /** The next step for this kind of problem, e.g. the volumeMount check of the seed's pitfall table. */
  fix: string;
  /** The kind of problem (`config`, `image`, `crash`, `unready`, `unscheduled`, `restarted`, `unknown`): one fix per kind is enough. */
  kind: string;
}

/**
 * Pods that are not passing: not Ready, or Ready but with a container that
 * restarted within `windowMs` before `nowMs` (a liveness probe that fails, a
 * crash loop between two crashes). Without `nowMs` restarts are not judged.
 */
export function failingPods(pods: readonly Pod[], nowMs: number | undefined, windowMs: number): PodVerdict[] {
  const out: PodVerdict[] = [];
  for (const pod of pods) {
    const name = pod.metadata.name;
    const ns = pod.metadata.namespace;
    if (!pod.ready) {
      out.push({ pod, problem: `pod ${name} ${describeTrouble(pod.trouble)}`, ...fixFor(pod.trouble, name, ns) });
      continue;
    }
    const restart = pod.lastRestart;
    if (nowMs === undefined || windowMs <= 0 || restart?.atMs === undefined) continue;
    const agoMs = nowMs - restart.atMs;
    if (agoMs < 0 || agoMs >= windowMs) continue;
    const exit = restart.exitCode !== undefined ? `, exit code ${restart.exitCode}${restart.reason ? ` (${restart.reason})` : ''}` : '';
    out.push({
      pod,
      problem:
        `pod ${name} is Ready but its container ${restart.container} restarted ${formatAgo(agoMs)} ago (${restart.restartCount} restart${restart.restartCount === 1 ? '' : 's'}${exit}), ` +
        `within the last ${formatAgo(windowMs)}`,
      fix: `read 'kubectl logs ${name} -n ${ns} -c ${restart.container} --previous' and check its livenessProbe in 'kubectl describe pod ${name} -n ${ns}'`,
      kind: 'restarted',
    });
  }
  return out;
}

function describeTrouble(t: PodTrouble | undefined): string {
  if (!t) return 'is not Ready';
  const restarts = t.restartCount !== undefined ? `${t.exitCode !== undefined ? `last exit code ${t.exitCode}, ` : ''}${t.restartCount} restart${t.restartCount === 1 ? '' : 's'}` : '';
  // Kubernetes' messages often end with a period; the sentence goes on after them.
  const detail = (s: string | undefined): string => (s ? `: ${s.replace(/\.+$/, '')}` : '');
  const container = `${t.init ? 'init container' : 'container'} ${t.container ?? ''}`;
  switch (t.state) {
    case 'unscheduled':
      return `is not scheduled${detail(t.reason)}${detail(t.message)}`;
    case 'unready':
      return `is not Ready: ${container} is running but not Ready (its readinessProbe fails)${restarts ? ` (${restarts})` : ''}`;
    case 'terminated': {
      const code = t.exitCode !== undefined ? `exit code ${t.exitCode}` : '';
      const extra = [code, t.restartCount !== undefined ? `${t.restartCount} restart${t.restartCount === 1 ? '' : 's'}` : ''].filter((x) => x !== '').join(', ');
      return `is not Ready: ${container} terminated${detail(t.reason)}${extra ? ` (${extra})` : ''}${detail(t.message)}`;
    }
    case 'waiting':
      // CrashLoopBackOff's message is the kubelet's back-off notice; the exit code and restarts say more.
      if (t.reason === 'CrashLoopBackOff') return `is not Ready: ${container} is in CrashLoopBackOff${restarts ? ` (${restarts})` : ''}`;
      return `is not Ready: ${container} is waiting${detail(t.reason)}${detail(t.message)}${restarts ? ` (${restarts})` : ''}`;
  }
}

const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
const IMAGE_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);

function fixFor(t: PodTrouble | undefined, pod: string, ns: string): { fix: string; kind: string } {
  const describe = `'kubectl describe pod ${pod} -n ${ns}'`;
  const reason = t?.reason ?? '';
  if (!t) return { kind: 'unknown', fix: `check ${describe}` };
  if (t.state === 'unscheduled') return { kind: 'unscheduled', fix: `check ${describe} for why no node fits (capacity, nodeSelector, affinity, tolerations, volume claims)` };
  if (CONFIG_REASONS.has(reason)) {
    return { kind: 'config', fix: `create the Secrets and ConfigMaps the pod references in namespace ${ns}, or correct their names and keys, and check ${describe}` };
  }
  if (IMAGE_REASONS.has(reason)) return { kind: 'image', fix: `check the image name, tag and pull secret in ${describe}` };
  if (t.state === 'unready') return { kind: 'unready', fix: `check the readinessProbe and the endpoint it calls in ${describe}` };
  if (reason === 'CrashLoopBackOff' || t.state === 'terminated') {
    const logs = t.container ? `'kubectl logs ${pod} -n ${ns} -c ${t.container} --previous', ` : '';
    return { kind: 'crash', fix: `read ${logs}check ${describe} and verify the volumeMount paths match where the app reads its secrets and config` };
  }
  return { kind: 'unknown', fix: `check ${describe}` };
}

function formatAgo(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  return `${Math.round(s / 60)}m`;
}
