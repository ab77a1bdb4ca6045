// The webhook's own metrics, served on a plain-HTTP port apart from the
// admission port (src/http/metrics-server.ts) so scraping needs no TLS and
// never queues behind reviews.
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmissionWrapper } from './admission.js';
import { summarize } from './admission-wrappers.js';

/** What the metrics need to know about the watch caches. */
export interface CacheStats {
  kinds(): readonly { kind: string; synced: boolean; objects: number; relists: number; watchRestarts: number }[];
}

export class AdmissionMetrics {
  readonly registry: Registry;
  private readonly reviews: Counter<'rule' | 'outcome'>;
  private readonly duration: Histogram<'rule' | 'outcome'>;
  private readonly findings: Counter<'rule' | 'severity'>;
  private readonly rejected: Counter<'code'>;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean; cache?: CacheStats } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.reviews = new Counter({
      name: 'bluegreen_guard_admission_reviews_total',
      help: 'Admission reviews answered, by deciding rule (none when no rule had a finding) and outcome.',
      labelNames: ['rule', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'bluegreen_guard_admission_review_duration_seconds',
      help: 'Time from receiving an admission review to answering it, by deciding rule and outcome.',
      labelNames: ['rule', 'outcome'],
      buckets: [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.findings = new Counter({
      name: 'bluegreen_guard_admission_findings_total',
      help: 'Rule findings in admission reviews, by rule and severity.',
      labelNames: ['rule', 'severity'],
      registers,
    });
    this.rejected = new Counter({
      name: 'bluegreen_guard_admission_rejected_requests_total',
      help: 'Requests refused before review (malformed, too large, wrong content type), by HTTP status.',
      labelNames: ['code'],
      registers,
    });
    const cache = options.cache;
    if (cache) {
      const gauge = (name: string, help: string, pick: (k: ReturnType<CacheStats['kinds']>[number]) => number): void => {
        new Gauge({
          name,
          help,
          labelNames: ['kind'],
          registers,
          collect() {
            for (const k of cache.kinds()) this.set({ kind: k.kind }, pick(k));
          },
        });
      };
      gauge('bluegreen_guard_cache_synced', '1 when the watch cache of a kind has synced.', (k) => (k.synced ? 1 : 0));
      gauge('bluegreen_guard_cache_objects', 'Objects held by the watch cache of a kind.', (k) => k.objects);
      const counter = (name: string, help: string, pick: (k: ReturnType<CacheStats['kinds']>[number]) => number): void => {
        new Counter({
          name,
          help,
          labelNames: ['kind'],
          registers,
          collect() {
            // The cache keeps the running totals; expose them as they are.
            this.reset();
            for (const k of cache.kinds()) this.inc({ kind: k.kind }, pick(k));
          },
        });
      };
      counter('bluegreen_guard_cache_relists_total', 'Full relists of a kind since start.', (k) => k.relists);
      counter('bluegreen_guard_cache_watch_restarts_total', 'Watches of a kind restarted since start.', (k) => k.watchRestarts);
    }
  }

  // Label sets are few (rules × outcomes); binding each once spares a label hash per review.
  private readonly bound = new Map<string, { reviews: { inc(): void }; duration: { observe(v: number): void } }>();
  private series(rule: string, outcome: string): { reviews: { inc(): void }; duration: { observe(v: number): void } } {
    const key = `${rule} ${outcome}`;
    let s = this.bound.get(key);
    if (!s) {
      s = { reviews: this.reviews.labels({ rule, outcome }), duration: this.duration.labels({ rule, outcome }) };
      this.bound.set(key, s);
    }
    return s;
  }

  observeRejected(httpStatus: number): void {
    this.rejected.inc({ code: String(httpStatus) });
  }

  /** Counts and times every review that reached a handler. */
  wrapper(): AdmissionWrapper {
    return (next) => (review) => {
      const outcome = next(review);
      const summary = summarize(outcome);
      const series = this.series(summary.decidingRule, summary.outcome);
      series.reviews.inc();
      series.duration.observe((performance.now() - review.receivedAtMs) / 1000);
      if (outcome.kind === 'verdict') {
        for (const f of outcome.verdict.findings) this.findings.inc({ rule: f.rule, severity: f.severity });
      }
      return outcome;
    };
  }
}
