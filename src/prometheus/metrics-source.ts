// The port the watcher reads metrics through. Two methods, owned by the
// watcher: everything it needs from Prometheus is an instant vector or a
// matrix evaluated at instants it chooses, so a restart or a leader change
// never resets "sustained" or "consecutive" (the history lives in Prometheus).

/** One series of an instant vector. `value` may be NaN or ±Infinity, as PromQL computes it. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** One series of a matrix: the instants (Unix seconds) where it has a value, in order. */
export interface RangeSeries {
  labels: Record<string, string>;
  points: Array<{ atSeconds: number; value: number }>;
}

export interface RangeWindow {
  startSeconds: number;
  endSeconds: number;
  stepSeconds: number;
}

export interface MetricsSource {
  /** Evaluates `promql` at one instant. Rejects when the query cannot be answered. */
  instantQuery(promql: string, atSeconds: number): Promise<Sample[]>;
  /** Evaluates `promql` at start, start+step, … ≤ end (anchored at start, not aligned to the epoch). */
  rangeQuery(promql: string, window: RangeWindow): Promise<RangeSeries[]>;
}
