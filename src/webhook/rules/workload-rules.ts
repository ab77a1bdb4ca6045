// The rules for a workload change (Deployment pod template labels, Pod labels,
// Service selector) that makes a routed subset select a workload it did not
// select before. Beside another workload it is the runbook's "partial rollout
// due to mislabeled pods" (version-labels). Alone, it takes over the subset's
// traffic: a cutover, judged by the cutover rules' own checks (probes, and
// pods-ready where pods exist already: see docs/rules.md).
import type { ClusterState } from '../../cluster/cluster-state.js';
import { formatLabels } from '../../istio/labels.js';
import type { Labels } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import type { Issue } from './issue.js';
import { plural, podList } from './pods-text.js';
import { rolloutGaps } from './pods-ready.js';
import { describeLacking, lackingProbes } from './probes.js';
import { checkWorkloadRollbackLatch } from './rollback-latch.js';
import { workloadName, type Workload } from './subset-backend.js';
import { describeRefs, type EmptiedSubset, type Entry, type WorkloadChange } from './workload-change.js';

/** Everything a workload rule reads. */
export interface WorkloadRuleInput {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  change: WorkloadChange;
  /** Routed subsets the change makes select another workload; empty on a DELETE. */
  entries: Entry[];
  /** Routed subsets a Service's new selector leaves without any pod. */
  emptied: EmptiedSubset[];
  /** `Deployment/shop/reviews-v2`, for findings. */
  object: string;
  config: RulesConfig;
  /** The cluster as it is (before the change): the rollback latches recorded on VirtualServices. */
  state: ClusterState;
}

export type WorkloadRule = (input: WorkloadRuleInput) => Issue[];

const subsetOf = (e: Entry) => `subset ${e.subset} of ${e.host} (${describeRefs(e.refs)})`;

/** The labels of the subset's selector, as the workload's pods carry them: `version=v1`. */
function selectedLabels(e: Entry, labels: Labels | undefined): string {
  const subsetLabels = Object.keys(e.after.selector).filter((k) => !(k in (e.after.service.spec.selector ?? {})));
  const keys = subsetLabels.length > 0 ? subsetLabels : Object.keys(e.after.selector);
  return formatLabels(Object.fromEntries(keys.map((k) => [k, labels?.[k] ?? ''])));
}

/** The labels the change gives the workload's pods. */
function newLabels(change: WorkloadChange): Labels | undefined {
  return change.kind === 'Deployment' ? change.next.spec.templateLabels : change.kind === 'Pod' ? change.next.metadata.labels : undefined;
}

function previousLabels(change: WorkloadChange): Labels | undefined {
  return change.kind === 'Deployment' ? change.previous?.spec.templateLabels : change.kind === 'Pod' ? change.previous?.metadata.labels : undefined;
}

/**
 * The labels the workload should carry instead: those of another subset of the
 * host whose values its name carries (`reviews-v2` → blue, `version: v2`), else
 * the values it had before the change; undefined when neither tells.
 */
export function intendedLabels(e: Entry, change: WorkloadChange): { labels: Labels; subset?: string } | undefined {
  const current = newLabels(change) ?? {};
  const own = e.workload.name.split(/[-.]/);
  for (const rule of e.hostRules.rules) {
    for (const s of rule.spec.subsets ?? []) {
      if (s.name === e.subset || !s.labels || Object.keys(s.labels).length === 0) continue;
      const differing = Object.entries(s.labels).filter(([k, v]) => current[k] !== v);
      if (differing.length > 0 && differing.every(([, v]) => own.includes(v))) return { labels: Object.fromEntries(differing), subset: s.name };
    }
  }
  const before = previousLabels(change);
  const keys = Object.keys(e.after.selector).filter((k) => before?.[k] !== undefined && before[k] !== current[k]);
  return before && keys.length > 0 ? { labels: Object.fromEntries(keys.map((k) => [k, before[k] as string])) } : undefined;
}

function fixFor(e: Entry, change: WorkloadChange): string {
  const intended = intendedLabels(e, change);
  const which = intended?.subset ? ` (the label subset ${intended.subset} selects)` : '';
  const namespace = change.next.metadata.namespace;
  const check = `'kubectl get pods -n ${namespace} -L ${Object.keys(e.after.selector).join(',')}'`;
  if (change.kind === 'Pod') {
    const set = intended ? Object.entries(intended.labels).map(([k, v]) => `${k}=${v}`).join(' ') : `${Object.keys(e.after.selector).join('=… ')}=…`;
    return `Fix: 'kubectl label pod ${change.next.metadata.name} -n ${namespace} ${set} --overwrite'${which}, and keep pod labels as the pod template sets them; check with ${check}.`;
  }
  if (change.kind === 'Deployment') {
    const set = intended ? Object.entries(intended.labels).map(([k, v]) => `${k}: ${v}`).join(', ') : `the ${selectedLabels(e, {}).replace(/=/g, '')} label this version should carry`;
    return `Fix: set ${set} in the pod template of ${workloadName(e.workload)}${which}, then apply it again; check with ${check}.`;
  }
  return `Fix: keep the selector of Service ${namespace}/${change.next.metadata.name}, or correct the pod template labels of the workload that does not belong, so each subset selects one workload; check with ${check}.`;
}

function othersText(others: readonly Workload[]): string {
  return others.map((w) => `${workloadName(w)}'s`).join(' and ');
}

/** version-labels: a workload joins a routed subset that already selects another workload. */
export const checkWorkloadVersionLabels: WorkloadRule = ({ change, entries, object }) =>
  entries
    .filter((e) => e.others.length > 0)
    .map((e): Issue => {
      const labels = newLabels(change);
      let what: string;
      if (change.kind === 'Deployment') {
        what = `${workloadName(e.workload)}'s pod template has ${selectedLabels(e, labels)}, so ${subsetOf(e)} would send traffic to its pods beside ${othersText(e.others)}`;
      } else if (change.kind === 'Pod') {
        const pod = `Pod ${change.next.metadata.namespace}/${change.next.metadata.name}`;
        const of = e.workload.kind === 'Pod' ? '' : ` (of ${workloadName(e.workload)})`;
        what = `${pod}${of} would have ${selectedLabels(e, labels)}, so ${subsetOf(e)} would send traffic to it beside ${othersText(e.others)} pods`;
      } else {
        what = `Service ${change.next.metadata.namespace}/${change.next.metadata.name}'s new selector ${formatLabels(change.next.spec.selector)} (was ${formatLabels(change.previous?.spec.selector)}) makes ${subsetOf(e)} send traffic to the pods of ${workloadName(e.workload)} beside ${othersText(e.others)}`;
      }
      return {
        rule: 'version-labels',
        object,
        message: `${what}: traffic meant for one version reaches another (partial rollout due to mislabeled pods). ${fixFor(e, change)}`,
      };
    });

/** How a message names the change that moves the workload into the subset. */
function joining(change: WorkloadChange, e: Entry): string {
  const { namespace, name } = change.next.metadata;
  if (change.kind === 'Deployment') return `${workloadName(e.workload)}'s pod template (${formatLabels(change.next.spec.templateLabels)}) puts its pods in ${subsetOf(e)}`;
  if (change.kind === 'Pod') return `Pod ${namespace}/${name}'s new labels (${formatLabels(change.next.metadata.labels)}) put it in ${subsetOf(e)}`;
  return `Service ${namespace}/${name}'s new selector ${formatLabels(change.next.spec.selector)} puts the pods of ${workloadName(e.workload)} in ${subsetOf(e)}`;
}

/** probes, for a workload that takes a routed subset over alone: the checklist's probes before it gets traffic. */
export const checkWorkloadProbes: WorkloadRule = ({ change, entries, object }) =>
  entries
    .filter((e) => e.others.length === 0)
    .flatMap((e): Issue[] => {
      const d = e.workload.deployment;
      if (!d) {
        return [
          {
            rule: 'probes',
            object,
            advisory: true,
            message: `${joining(change, e)}, but its pods belong to ${workloadName(e.workload)}, not to a Deployment the cluster state holds, so their probes cannot be checked. Fix: run the version as a Deployment.`,
          },
        ];
      }
      const lacking = lackingProbes(d);
      if (lacking.length === 0) return [];
      return [
        {
          rule: 'probes',
          object,
          message:
            `${joining(change, e)}, the only workload that subset selects, so it takes that traffic over (a cutover), but ${workloadName(e.workload)} has containers without probes: ${describeLacking(lacking)}. ` +
            `Fix: add a readinessProbe and a livenessProbe to every container of ${workloadName(e.workload)} before its pods join a routed subset.`,
        },
      ];
    });

/**
 * pods-ready, for pods that exist (a Pod relabelled, a Service's selector
 * changed): the workload is rolled out and its pods in the subset are Ready.
 * Not judged for a Deployment change: its next pods do not exist yet, and
 * Kubernetes only puts Ready pods behind a Service (docs/rules.md).
 */
export const checkWorkloadPodsReady: WorkloadRule = ({ change, entries, object }) =>
  change.kind === 'Deployment'
    ? []
    : entries
        .filter((e) => e.others.length === 0)
        .flatMap((e): Issue[] => {
          const problems: string[] = [];
          const d = e.workload.deployment;
          const gaps = d ? rolloutGaps(d) : [];
          if (gaps.length > 0) problems.push(`${workloadName(e.workload)} is not fully rolled out (${gaps.join(', ')})`);
          const unready = e.workload.pods.filter((p) => !p.ready);
          if (unready.length > 0) problems.push(`${plural(unready.length, 'pod')} ${podList(unready)} ${unready.length === 1 ? 'is' : 'are'} not Ready`);
          if (problems.length === 0) return [];
          const wait = d ? `'kubectl rollout status deployment/${d.metadata.name} -n ${d.metadata.namespace}' succeeds and ` : '';
          return [
            {
              rule: 'pods-ready',
              object,
              message: `${joining(change, e)}, the only workload that subset selects, so it takes that traffic over (a cutover), but ${problems.join('; ')}. Fix: wait until ${wait}its pods are Ready, then make this change.`,
            },
          ];
        });

/** subset-selects-pods, for a Service's selector: a subset that gets traffic keeps at least one pod. */
export const checkWorkloadSubsetSelectsPods: WorkloadRule = ({ change, emptied, object }) =>
  change.kind !== 'Service'
    ? []
    : emptied.map((e): Issue => {
        const { namespace, name } = change.next.metadata;
        return {
          rule: 'subset-selects-pods',
          object,
          message:
            `Service ${namespace}/${name}'s new selector ${formatLabels(change.next.spec.selector)} (was ${formatLabels(change.previous?.spec.selector)}) makes subset ${e.subset} of ${e.host} select no pod ` +
            `('kubectl get pods -n ${namespace} -l ${formatLabels(e.after.selector)}' finds nothing), but it gets traffic (${describeRefs(e.refs)}): those requests would fail. ` +
            `Fix: keep the selector, or deploy pods with those labels first.`,
        };
      });

/** rollback-latch: pods of a rolled-back revision put behind a routed subset (src/webhook/rules/rollback-latch.ts). */
export const checkWorkloadLatch: WorkloadRule = ({ change, entries, state, object, config }) => checkWorkloadRollbackLatch(change, entries, state, object, config);

/** Judged on every Deployment CREATE/UPDATE, Pod label change and Service selector change. Another rule plugs in here. */
export const WORKLOAD_RULES: readonly WorkloadRule[] = [checkWorkloadVersionLabels, checkWorkloadProbes, checkWorkloadPodsReady, checkWorkloadSubsetSelectsPods, checkWorkloadLatch];
