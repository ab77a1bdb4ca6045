// Alerts outlive an Alertmanager outage: what Alertmanager did not take stays
// pending (bounded, the latest version of each alert), is re-sent with
// exponential backoff in the background and with every later send, and is
// forgotten only once Alertmanager has accepted it. A rollback's alert posted
// while Alertmanager is down arrives when it is back, still firing: a re-send
// moves a firing alert's endsAt forward by the time it waited, so it keeps the
// lifetime it was sent with, counted from its delivery; a resolved alert (its
// endsAt already past when it was queued) keeps its real end.
import type { AlertSink, PostableAlert } from './alert-sink.js';

export interface RetryOptions {
  /** First retry after this long; doubled after each failure up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Pending alerts kept; past it the oldest are dropped (and counted). */
  maxPending: number;
}

export const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 1_000, maxDelayMs: 30_000, maxPending: 500 };

/** What the sink reports; a narrow port for the watcher's metrics and log. */
export interface RetryObserver {
  pending(count: number): void;
  dropped(count: number): void;
  delivered(count: number, afterAttempts: number): void;
}

/** Timers as a port, so tests can drive the backoff. */
export interface RetryTimer {
  after(ms: number, run: () => void): { cancel(): void };
}

const realTimer: RetryTimer = {
  after: (ms, run) => {
    const t = setTimeout(run, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** The identity of an alert in Alertmanager: its label set. A newer post of it replaces the pending one. */
function alertKey(alert: PostableAlert): string {
  return JSON.stringify(Object.entries(alert.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** An alert waiting for Alertmanager, and when it was queued (the sink's clock). */
interface Pending {
  alert: PostableAlert;
  queuedAtMs: number;
  /** Posts of it Alertmanager did not take; only a re-send is refreshed. */
  failedPosts: number;
}

/**
 * The alert as it is to be posted now. One still meant to be firing when it
 * was queued (endsAt ahead of that moment) gets its endsAt moved forward by
 * the wait; without that, an outage longer than its lifetime would deliver
 * it already ended and nobody would be notified.
 */
export function refreshedForResend(alert: PostableAlert, queuedAtMs: number, nowMs: number): PostableAlert {
  if (alert.endsAt === undefined || nowMs <= queuedAtMs) return alert;
  const endsAtMs = Date.parse(alert.endsAt);
  if (!Number.isFinite(endsAtMs) || endsAtMs <= queuedAtMs) return alert;
  return { ...alert, endsAt: new Date(endsAtMs + (nowMs - queuedAtMs)).toISOString() };
}

export class RetryingAlertSink implements AlertSink {
  private readonly pending = new Map<string, Pending>();
  /** Posts of the oldest pending alert, for the delivered report. */
  private attempts = 0;
  /** Failures since Alertmanager last answered; the backoff grows with them. */
  private failures = 0;
  private retry: { cancel(): void } | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly inner: AlertSink,
    private readonly observer: RetryObserver,
    private readonly options: RetryOptions = DEFAULT_RETRY,
    private readonly timer: RetryTimer = realTimer,
    private readonly nowMs: () => number = Date.now,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Queues the alerts and posts everything pending; rejects (alerts kept) when Alertmanager does not take them. */
  async send(alerts: readonly PostableAlert[]): Promise<void> {
    const queuedAtMs = this.nowMs();
    for (const a of alerts) {
      const key = alertKey(a);
      this.pending.delete(key); // re-inserted last: the newest version, the newest position
      this.pending.set(key, { alert: a, queuedAtMs, failedPosts: 0 });
    }
    this.bound();
    await this.flush();
  }

  /**
   * Alertmanager answered another request (the watcher's read of firing
   * alerts): it is back, so what is pending goes now instead of after the
   * backoff (up to maxDelayMs), and the backoff starts again from the start.
   */
  alertmanagerAnswered(): void {
    this.failures = 0;
    if (this.stopped || !this.retry || this.inFlight || this.pending.size === 0) return;
    this.retry.cancel();
    this.retry = undefined;
    this.flush().catch(() => undefined); // a failure schedules the next retry
  }

  /** Stops retrying (process shutdown); what is pending is given up. */
  stop(): void {
    this.stopped = true;
    this.retry?.cancel();
  }

  private bound(): void {
    let over = this.pending.size - this.options.maxPending;
    if (over <= 0) return;
    this.observer.dropped(over);
    for (const key of this.pending.keys()) {
      if (over-- <= 0) break;
      this.pending.delete(key);
    }
  }

  private async flush(): Promise<void> {
    // One post at a time; a send during a post waits for it and then posts what is still pending.
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    if (this.pending.size === 0) {
      this.observer.pending(0);
      return;
    }
    const batch = new Map(this.pending);
    this.retry?.cancel();
    this.retry = undefined;
    this.attempts++;
    const now = this.nowMs();
    const post = this.inner.send([...batch.values()].map((p) => (p.failedPosts > 0 ? refreshedForResend(p.alert, p.queuedAtMs, now) : p.alert)));
    this.inFlight = post;
    try {
      await post;
      for (const [key, entry] of batch) if (this.pending.get(key) === entry) this.pending.delete(key);
      this.observer.delivered(batch.size, this.attempts);
      this.attempts = 0;
      this.failures = 0;
    } catch (e) {
      for (const entry of batch.values()) entry.failedPosts++;
      this.failures++;
      this.scheduleRetry();
      throw e;
    } finally {
      this.inFlight = undefined;
      this.observer.pending(this.pending.size);
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    const delayMs = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** Math.max(0, this.failures - 1));
    this.retry = this.timer.after(delayMs, () => {
      this.retry = undefined;
      this.flush().catch(() => undefined); // the next failure schedules the next retry
    });
  }
}
