// Alerts outlive an Alertmanager outage: what Alertmanager did not take stays
// pending (bounded, the latest version of each alert), is re-sent with
// exponential backoff in the background and with every later send, and is
// forgotten only once Alertmanager has accepted it. A rollback's alert posted
// while Alertmanager is down arrives when it is back.
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

export class RetryingAlertSink implements AlertSink {
  private readonly pending = new Map<string, PostableAlert>();
  private attempts = 0;
  private retry: { cancel(): void } | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly inner: AlertSink,
    private readonly observer: RetryObserver,
    private readonly options: RetryOptions = DEFAULT_RETRY,
    private readonly timer: RetryTimer = realTimer,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Queues the alerts and posts everything pending; rejects (alerts kept) when Alertmanager does not take them. */
  async send(alerts: readonly PostableAlert[]): Promise<void> {
    for (const a of alerts) {
      const key = alertKey(a);
      this.pending.delete(key); // re-inserted last: the newest version, the newest position
      this.pending.set(key, a);
    }
    this.bound();
    await this.flush();
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
    const post = this.inner.send([...batch.values()]);
    this.inFlight = post;
    try {
      await post;
      for (const [key, alert] of batch) if (this.pending.get(key) === alert) this.pending.delete(key);
      this.observer.delivered(batch.size, this.attempts);
      this.attempts = 0;
    } catch (e) {
      this.scheduleRetry();
      throw e;
    } finally {
      this.inFlight = undefined;
      this.observer.pending(this.pending.size);
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    const delayMs = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** Math.max(0, this.attempts - 1));
    this.retry = this.timer.after(delayMs, () => {
      this.retry = undefined;
      this.flush().catch(() => undefined); // the next failure schedules the next retry
    });
  }
}
