// Instants of the demo's timeline that come from Prometheus, found after the
// fact in what it stored: when the candidate's errors first showed, and when
// it served its last request. Pure functions over range-query samples, so
// they are tested without a Prometheus. (When the rollback condition first
// held is test/support/rollback-timing.ts's conditionTrueAt.)

/** One range-query point: seconds since the epoch, value. */
export type Sample = readonly [atSeconds: number, value: number];

/** The first sample ≥ `ratio`: when Prometheus first showed the errors at all. */
export function firstAtOrAboveSeconds(samples: readonly Sample[], ratio: number): number | undefined {
  return [...samples].sort((a, b) => a[0] - b[0]).find(([, v]) => v >= ratio)?.[0];
}

/**
 * When a request counter stopped rising for good: the first sample from which
 * it keeps its final value, provided it has kept it for at least
 * `quietSeconds` (else the traffic may simply not have been scraped yet).
 * Undefined when it is still rising, or never rose.
 */
export function counterStoppedAtSeconds(samples: readonly Sample[], quietSeconds: number): number | undefined {
  const sorted = [...samples].sort((a, b) => a[0] - b[0]);
  const last = sorted[sorted.length - 1];
  if (!last) return undefined;
  let i = sorted.length - 1;
  while (i > 0 && sorted[i - 1]![1] === last[1]) i--;
  if (i === 0) return undefined;
  const stoppedAt = sorted[i]![0];
  return last[0] - stoppedAt >= quietSeconds ? stoppedAt : undefined;
}

export interface TimelineEntry {
  /** Epoch milliseconds. */
  atMs: number;
  what: string;
  detail: string;
  /** Where the instant comes from: `demo`, `Prometheus`, `API server watch`, `watcher log`. */
  source: string;
}
