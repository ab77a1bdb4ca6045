import { describe, expect, it } from '@jest/globals';
import type { AlertSink, PostableAlert } from '../../src/alertmanager/alert-sink.js';
import { RetryingAlertSink, type RetryTimer } from '../../src/alertmanager/retrying-alert-sink.js';

const alert = (alertname: string, summary = 's'): PostableAlert => ({ labels: { alertname, service: 'reviews' }, annotations: { summary }, startsAt: '2026-01-01T00:00:00.000Z' });

/** Alertmanager as a port: down until `up` is set; records what it accepted. */
class FlakySink implements AlertSink {
  up = false;
  readonly accepted: PostableAlert[][] = [];
  send(alerts: readonly PostableAlert[]): Promise<void> {
    if (!this.up) return Promise.reject(new Error('connect ECONNREFUSED'));
    this.accepted.push([...alerts]);
    return Promise.resolve();
  }
}

/** Timers run by hand; records the delays asked for. */
class ManualTimer implements RetryTimer {
  readonly delays: number[] = [];
  private due: (() => void)[] = [];
  after(ms: number, run: () => void) {
    this.delays.push(ms);
    this.due.push(run);
    return { cancel: () => (this.due = this.due.filter((r) => r !== run)) };
  }
  async fire(): Promise<void> {
    const due = this.due;
    this.due = [];
    for (const run of due) run();
    await new Promise((r) => setImmediate(r));
  }
}

function sink(maxPending = 10, nowMs: () => number = Date.now) {
  const inner = new FlakySink();
  const timer = new ManualTimer();
  const seen = { pending: [] as number[], dropped: 0, delivered: [] as [number, number][] };
  const retrying = new RetryingAlertSink(
    inner,
    { pending: (n) => seen.pending.push(n), dropped: (n) => (seen.dropped += n), delivered: (n, a) => seen.delivered.push([n, a]) },
    { initialDelayMs: 1_000, maxDelayMs: 4_000, maxPending },
    timer,
    nowMs,
  );
  return { inner, timer, seen, retrying };
}

describe('RetryingAlertSink', () => {
  it('keeps alerts Alertmanager refused, retries with doubling delays, and delivers them once it is back', async () => {
    const { inner, timer, seen, retrying } = sink();
    await expect(retrying.send([alert('BlueGreenGuardRolledBack')])).rejects.toThrow(/ECONNREFUSED/);
    expect(retrying.pendingCount).toBe(1);
    await timer.fire();
    await timer.fire();
    await timer.fire();
    expect(timer.delays).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect(inner.accepted).toEqual([]);
    inner.up = true;
    await timer.fire();
    expect(inner.accepted.map((b) => b.map((a) => a.labels.alertname))).toEqual([['BlueGreenGuardRolledBack']]);
    expect(retrying.pendingCount).toBe(0);
    expect(seen.pending.at(-1)).toBe(0);
    expect(seen.delivered).toEqual([[1, 5]]);
  });

  it('sends what is pending with the next cycle\'s alerts, the newest version of each', async () => {
    const { inner, retrying } = sink();
    await expect(retrying.send([alert('A', 'old')])).rejects.toThrow();
    inner.up = true;
    await retrying.send([alert('A', 'new'), alert('B')]);
    expect(inner.accepted).toEqual([[alert('A', 'new'), alert('B')]]);
  });

  it('keeps at most maxPending alerts, dropping the oldest and counting them', async () => {
    const { inner, seen, retrying } = sink(2);
    await expect(retrying.send([alert('A'), alert('B'), alert('C')])).rejects.toThrow();
    expect(seen.dropped).toBe(1);
    inner.up = true;
    await retrying.send([]);
    expect(inner.accepted[0]?.map((a) => a.labels.alertname)).toEqual(['B', 'C']);
  });

  it('delivers a rollback alert after a 5-minute outage still firing: its endsAt moved on from the re-send, a resolved alert keeping its end', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');
    let now = t0;
    const { inner, timer, retrying } = sink(10, () => now);
    // As the watcher sends them: a condition lives max(3 cycles, 60 s) unless re-sent; a resolved one ends now.
    const firing: PostableAlert = { ...alert('BlueGreenGuardRolledBack'), startsAt: new Date(t0).toISOString(), endsAt: new Date(t0 + 60_000).toISOString() };
    const resolved: PostableAlert = { ...alert('BlueGreenGuardWarning'), startsAt: new Date(t0 - 600_000).toISOString(), endsAt: new Date(t0).toISOString() };
    await expect(retrying.send([firing, resolved])).rejects.toThrow(/ECONNREFUSED/);
    for (let elapsed = 0; elapsed < 300_000; elapsed += 30_000) {
      now += 30_000;
      await timer.fire();
    }
    expect(inner.accepted).toEqual([]);
    inner.up = true;
    now += 1_000;
    await timer.fire();
    const [delivered] = inner.accepted;
    const byName = new Map(delivered?.map((a) => [a.labels.alertname, a]));
    const rolledBack = byName.get('BlueGreenGuardRolledBack');
    // Still firing when Alertmanager gets it, for the same 60 s a fresh send would have.
    expect(Date.parse(rolledBack?.endsAt ?? '')).toBeGreaterThan(now);
    expect(rolledBack).toEqual({ ...firing, endsAt: new Date(now + 60_000).toISOString() });
    expect(byName.get('BlueGreenGuardWarning')).toEqual(resolved);
    expect(retrying.pendingCount).toBe(0);
  });

  it('posts an alert delivered at once exactly as given', async () => {
    let now = Date.parse('2026-01-01T00:00:00.000Z');
    const { inner, retrying } = sink(10, () => (now += 5));
    inner.up = true;
    const firing: PostableAlert = { ...alert('A'), endsAt: new Date(now + 60_000).toISOString() };
    await retrying.send([firing]);
    expect(inner.accepted).toEqual([[firing]]);
  });

  it('starts the backoff again after Alertmanager took the alerts', async () => {
    const { inner, timer, retrying } = sink();
    await expect(retrying.send([alert('A')])).rejects.toThrow();
    await timer.fire();
    await timer.fire();
    await timer.fire();
    expect(timer.delays).toEqual([1_000, 2_000, 4_000, 4_000]);
    inner.up = true;
    await timer.fire();
    expect(retrying.pendingCount).toBe(0);
    inner.up = false;
    await expect(retrying.send([alert('B')])).rejects.toThrow();
    expect(timer.delays.at(-1)).toBe(1_000);
  });

  it('flushes at once, not after the backoff, when Alertmanager answers another request', async () => {
    const { inner, timer, seen, retrying } = sink();
    await expect(retrying.send([alert('A')])).rejects.toThrow();
    await timer.fire();
    await timer.fire();
    expect(timer.delays).toEqual([1_000, 2_000, 4_000]);
    // Still down: the post fails and the backoff starts over.
    retrying.alertmanagerAnswered();
    await new Promise((r) => setImmediate(r));
    expect(timer.delays).toEqual([1_000, 2_000, 4_000, 1_000]);
    inner.up = true;
    retrying.alertmanagerAnswered();
    await new Promise((r) => setImmediate(r));
    expect(inner.accepted.map((b) => b.map((a) => a.labels.alertname))).toEqual([['A']]);
    expect(retrying.pendingCount).toBe(0);
    expect(seen.delivered).toEqual([[1, 5]]);
    // Nothing pending, nothing posted.
    retrying.alertmanagerAnswered();
    await new Promise((r) => setImmediate(r));
    expect(inner.accepted).toHaveLength(1);
  });

  it('stops retrying when stopped', async () => {
    const { timer, retrying } = sink();
    await expect(retrying.send([alert('A')])).rejects.toThrow();
    retrying.stop();
    await timer.fire();
    expect(timer.delays).toEqual([1_000]);
  });
});
