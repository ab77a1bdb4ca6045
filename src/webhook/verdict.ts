// The contract between the rule core and everything that carries a verdict:
// the admission transport, the `preflight` CLI and the tests.
import type { Deployment, IstioObject, Pod, Service } from '../istio/types.js';

export const RULE_IDS = [
  'subset-exists',
  'subset-in-use',
  'subset-selects-pods',
  'version-labels',
  'probes',
  'pods-ready',
  'zero-start',
  'weights',
  'metrics-scraped',
  'canary-first',
  'rollback-latch',
  'keep-previous',
  'smoke-passed',
  'jobs',
  'host-conflict',
  'destination-port',
  'dr-host',
  'unreachable-route',
  'ineffective-match',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

export type RuleMode = 'deny' | 'warn' | 'off';
export type Severity = 'deny' | 'warn';

export interface Finding {
  rule: RuleId;
  severity: Severity;
  /** `Kind/namespace/name` of the object the finding is about. */
  object: string;
  /** What is wrong and how to fix it, in one or two sentences. */
  message: string;
}

export interface Requester {
  username: string;
  groups: readonly string[];
}

/** The workloads whose label changes move traffic: reviewed by reviewWorkload (src/webhook/workload-review.ts). */
export type WorkloadObject = Deployment | Pod | Service;
/** Every object the webhook judges. */
export type AdmittedObject = IstioObject | WorkloadObject;

export interface ReviewInput {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  object: AdmittedObject | undefined;
  oldObject: AdmittedObject | undefined;
  dryRun: boolean;
  requester: Requester;
  /** When the review happens (epoch ms): the request's arrival, or when preflight runs. Without it, restarts are not judged by how recent they are. */
  nowMs?: number;
  /** `scale`: a deployments/scale request, decoded as the Deployment's replicas (only keep-previous judges it). */
  subresource?: 'scale';
}

/** Why a review was allowed without applying the rules' denials. */
export type Exemption = 'watcher' | 'break-glass' | 'rollback' | 'not-guarded';

export interface ReviewVerdict {
  allowed: boolean;
  findings: Finding[];
  exemption?: Exemption;
  /** Recorded by the API server in its audit log (AdmissionResponse.auditAnnotations). */
  auditAnnotations: Record<string, string>;
}
