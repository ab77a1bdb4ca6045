// The pre-traffic smoke test result as recorded on a VirtualService: which
// subset and revisions were tested, when, and how it went. Written by the
// watcher while the candidate is at 0 %, read by the webhook's smoke-passed rule.

export interface SmokeRecord {
  subset: string;
  version: string;
  /** `namespace/workload@pod-template-hash` of every revision behind the subset when it was tested. */
  revisions: string[];
  outcome: 'passed' | 'failed' | 'error';
  at: string;
  url: string;
  message: string;
}

export function parseSmokeRecords(value: string | undefined): SmokeRecord[] {
  if (value === undefined) return [];
  try {
    const raw = JSON.parse(value) as unknown;
    if (!Array.isArray(raw)) return [];
    return (raw as Partial<SmokeRecord>[]).filter(
      (r): r is SmokeRecord => typeof r.subset === 'string' && Array.isArray(r.revisions) && (r.outcome === 'passed' || r.outcome === 'failed' || r.outcome === 'error') && typeof r.at === 'string',
    );
  } catch {
    return [];
  }
}

/** The records with `record` replacing the one for its subset. */
export function withSmokeRecord(current: string | undefined, record: SmokeRecord): string {
  return JSON.stringify([...parseSmokeRecords(current).filter((r) => r.subset !== record.subset), record]);
}
