// The rollback latch as recorded on a VirtualService: the workload revisions
// a rollback took traffic away from. A revision is a Deployment's pod template
// as Kubernetes names it (the `pod-template-hash` label its ReplicaSet and pods
// carry), so a changed template is a new revision and is not latched, while a
// re-apply of the same routing (a GitOps self-heal) reaches the same pods and is.
// Pure: the watcher writes these records, the webhook reads them.
import type { Labels, OwnerReference } from './types.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';

export interface Revision {
  namespace: string;
  /** The Deployment (or, without one, the controller) that owns the pods. */
  workload: string;
  /** The pods' `pod-template-hash` label. */
  podTemplateHash: string;
}

export interface LatchEntry {
  /** When the rollback happened (ISO 8601). */
  at: string;
  /** Why, as the rollback recorded it. */
  reason: string;
  /** The host and subset that were rolled back, as the route named them. */
  host: string;
  subset: string;
  /** The revisions behind the subset at the rollback; empty when they could not be read, and then the subset itself is latched. */
  revisions: Revision[];
}

/** How many rollbacks one VirtualService remembers: the newest win. */
export const MAX_LATCH_ENTRIES = 8;

export type ParsedLatch = { ok: true; entries: LatchEntry[] } | { ok: false; problem: string };

export function parseLatch(value: string | undefined): ParsedLatch {
  if (value === undefined || value.trim() === '') return { ok: true, entries: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (err) {
    return { ok: false, problem: `not JSON (${(err as Error).message})` };
  }
  if (!Array.isArray(raw)) return { ok: false, problem: 'not a JSON list of rollbacks' };
  const entries: LatchEntry[] = [];
  for (const e of raw as unknown[]) {
    const o = (e ?? {}) as Record<string, unknown>;
    if (typeof o.at !== 'string' || typeof o.host !== 'string' || typeof o.subset !== 'string') return { ok: false, problem: 'an entry lacks at, host or subset' };
    const revisions = Array.isArray(o.revisions) ? (o.revisions as unknown[]).filter(isRevision) : [];
    entries.push({ at: o.at, reason: typeof o.reason === 'string' ? o.reason : '', host: o.host, subset: o.subset, revisions });
  }
  return { ok: true, entries };
}

export function formatLatch(entries: readonly LatchEntry[]): string {
  return JSON.stringify(entries.slice(-MAX_LATCH_ENTRIES));
}

/** The latch after one more rollback: an entry for the same host and subset is replaced. */
export function addLatchEntries(current: string | undefined, added: readonly LatchEntry[]): string {
  const parsed = parseLatch(current);
  const kept = (parsed.ok ? parsed.entries : []).filter((e) => !added.some((a) => a.host === e.host && a.subset === e.subset));
  return formatLatch([...kept, ...added]);
}

/** The revision a pod belongs to, or undefined for a pod no ReplicaSet made. */
export function revisionOfPod(pod: { metadata: { namespace: string; labels?: Labels; ownerReferences?: readonly OwnerReference[] } }): Revision | undefined {
  const hash = pod.metadata.labels?.[POD_TEMPLATE_HASH];
  if (hash === undefined || hash === '') return undefined;
  const owners = pod.metadata.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller) ?? owners[0];
  // A ReplicaSet made by a Deployment is named `<deployment>-<pod-template-hash>`.
  const workload = owner ? (owner.kind === 'ReplicaSet' && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name) : '';
  return { namespace: pod.metadata.namespace, workload, podTemplateHash: hash };
}

export function revisionKey(r: Revision): string {
  return `${r.namespace}/${r.workload}@${r.podTemplateHash}`;
}

/** `Deployment shop/reviews-v2 at pod-template-hash 5d9f8c7b6`. */
export function describeRevision(r: Revision): string {
  return `Deployment ${r.namespace}/${r.workload} at pod-template-hash ${r.podTemplateHash}`;
}

/** Distinct revisions, in a stable order. */
export function distinctRevisions(revisions: Iterable<Revision | undefined>): Revision[] {
  const byKey = new Map<string, Revision>();
  for (const r of revisions) if (r) byKey.set(revisionKey(r), r);
  return [...byKey.values()].sort((a, b) => revisionKey(a).localeCompare(revisionKey(b)));
}

function isRevision(v: unknown): v is Revision {
  const o = (v ?? {}) as Record<string, unknown>;
  return typeof o.namespace === 'string' && typeof o.workload === 'string' && typeof o.podTemplateHash === 'string';
}
