// The watcher's half of the rollback latch: at a rollback, which revisions
// stood behind the candidates it takes traffic from (read once, just before
// the patch, so the record lands in the same write as the weights), and,
// when an expiry is configured, when a record has run out.
import { ROLLBACK_LATCH, ROLLBACK_LATCH_ACK } from '../istio/annotations.js';
import { resolveHost } from '../istio/hosts.js';
import { addLatchEntries, formatLatch, parseLatch, type LatchEntry, type Revision } from '../istio/rollback-latch.js';
import type { Labels, VirtualService } from '../istio/types.js';
import type { AnnotationChanges, CutoverState } from './cutover-state.js';

/** The pods behind one candidate subset: the Service's selector together with the subset's labels. */
export interface LatchTarget {
  namespace: string;
  service: string;
  subsetLabels: Labels;
}

export interface RevisionSource {
  /** Revisions of the running pods; rejects when they cannot be read. */
  revisionsOf(target: LatchTarget): Promise<Revision[]>;
}

export interface LatchPolicy {
  /** Record latches at rollbacks (default true). */
  enabled: boolean;
  /** A latch entry older than this is removed by the watcher; 0 keeps it until cleared. */
  expirySeconds: number;
  /** How long the revision lookup may hold up a rollback; after it, the subset itself is latched. */
  lookupTimeoutMs: number;
}

export const DEFAULT_LATCH_POLICY: LatchPolicy = { enabled: true, expirySeconds: 0, lookupTimeoutMs: 2000 };

export interface LatchCandidate {
  subset: string;
  /** The host as the route writes it. */
  host: string;
  target: LatchTarget;
}

/** The candidates with traffic, as the loop's state and identities name them. */
export function latchCandidates(state: CutoverState, labelsOf: (subset: string) => Labels | undefined): LatchCandidate[] {
  return state.active.map((a) => ({ subset: a.subset, host: a.host, target: { namespace: a.service.namespace, service: a.service.name, subsetLabels: labelsOf(a.subset) ?? {} } }));
}

export interface LatchRecord {
  annotations: AnnotationChanges;
  entries: LatchEntry[];
  /** Lookups that failed: those subsets are latched by name. */
  problems: string[];
}

/**
 * The latch annotations for a rollback at `at`. Never rejects: a lookup that
 * fails or is slow latches the subset by name rather than hold the rollback up.
 */
export async function recordLatch(
  vs: VirtualService,
  candidates: readonly LatchCandidate[],
  source: RevisionSource,
  context: { at: Date; reason: string; clusterDomain: string; timeoutMs: number },
): Promise<LatchRecord> {
  const problems: string[] = [];
  const entries = await Promise.all(
    candidates.map(async (c): Promise<LatchEntry> => {
      let revisions: Revision[] = [];
      try {
        revisions = await withTimeout(source.revisionsOf(c.target), context.timeoutMs, `reading the pods of subset ${c.subset} took over ${context.timeoutMs} ms`);
      } catch (err) {
        problems.push(`subset ${c.subset}: ${err instanceof Error ? err.message : String(err)}`);
      }
      return { at: context.at.toISOString(), reason: context.reason, host: resolveHost(c.host, vs.metadata.namespace, context.clusterDomain), subset: c.subset, revisions };
    }),
  );
  return { entries, problems, annotations: { [ROLLBACK_LATCH]: addLatchEntries(vs.metadata.annotations?.[ROLLBACK_LATCH], entries), [ROLLBACK_LATCH_ACK]: null } };
}

/** What to write when latch entries have expired; undefined when nothing has. */
export function expireLatch(vs: VirtualService, now: Date, expirySeconds: number): { annotations: AnnotationChanges; expired: LatchEntry[] } | undefined {
  if (expirySeconds <= 0) return undefined;
  const value = vs.metadata.annotations?.[ROLLBACK_LATCH];
  const parsed = parseLatch(value);
  if (value === undefined || !parsed.ok) return undefined;
  const cutoffMs = now.getTime() - expirySeconds * 1000;
  const expired = parsed.entries.filter((e) => Date.parse(e.at) <= cutoffMs);
  if (expired.length === 0) return undefined;
  const kept = parsed.entries.filter((e) => !expired.includes(e));
  const annotations: AnnotationChanges =
    kept.length > 0 ? { [ROLLBACK_LATCH]: formatLatch(kept) } : { [ROLLBACK_LATCH]: null, [ROLLBACK_LATCH_ACK]: `expired after ${expirySeconds} s (watcher)` };
  return { annotations, expired };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
