// The exact meaning of "sustained" and "in each of the last N minutes", as
// pure functions over the per-step values a range query returned.
import type { History } from './metrics-snapshot.js';

export type HistoryJudgement =
  /** No value at the evaluation instant: no traffic now (or no series at all). */
  | { kind: 'no-data' }
  /**
   * `level`: the lowest value over the window, where an instant without data
   * counts as 0 (no requests: no errors, no slow requests). The condition held
   * at every instant iff `level` passes the comparison; `current` is the value
   * at the evaluation instant.
   */
  | { kind: 'measured'; level: number; current: number; missing: number; reached: number };

/** `reached`: how many instants (from the most recent backwards) the value passed `passes` without a break. */
export function judgeHistory(history: History | undefined, passes: (value: number) => boolean): HistoryJudgement {
  if (!history || history.length === 0) return { kind: 'no-data' };
  const current = history[history.length - 1];
  if (current === null || current === undefined) return { kind: 'no-data' };
  let level = Infinity;
  let missing = 0;
  for (const v of history) {
    if (v === null || v === undefined) {
      missing += 1;
      level = Math.min(level, 0);
    } else {
      level = Math.min(level, v);
    }
  }
  let reached = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const v = history[i];
    if (v === null || v === undefined || !passes(v)) break;
    reached += 1;
  }
  return { kind: 'measured', level, current, missing, reached };
}

export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio !== 0 && Math.abs(ratio) < 0.01 ? 3 : 2)}%`;
}

export function formatMs(ms: number): string {
  return Number.isFinite(ms) ? `${Math.round(ms * 10) / 10} ms` : `${formatNumber(ms)} ms`;
}

/** A number as Prometheus writes it: `+Inf`, `-Inf` and `NaN` for the non-finite ones. */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(n);
}
