// What the `metrics-scraped` rule needs to know from Prometheus, as a
// synchronous snapshot: the rule core does no I/O, so whoever owns the
// Prometheus client fills this before (or beside) the review.

export interface ScrapeStatus {
  /**
   * Whether Prometheus scrapes the pod successfully (`up == 1` for its target):
   * `true` scraped and up, `false` no target or `up == 0`, `undefined` unknown
   * (Prometheus unreachable, or the answer is not in yet).
   */
  podScraped(namespace: string, podName: string): boolean | undefined;
}
