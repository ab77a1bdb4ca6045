// The cycle timer: a plain self-scheduling timeout, not a cron expression. A
// cycle starts one interval after the previous one started, or at once when
// the previous one overran; two cycles never run at the same time.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Evaluation } from '../../../src/watcher/verdict.js';
import type { WatchTarget } from '../../../src/watcher/loop.js';
import { CUTOVER_STARTED_AT } from '../../../src/istio/annotations.js';
import { T0, harness } from './support/loop-harness.js';
import { http, virtualService } from './support/virtual-services.js';

beforeEach(() => {
  jest.useFakeTimers({ now: T0 });
});
afterEach(() => {
  jest.useRealTimers();
});

function slowHarness(evaluationMs: number) {
  const h = harness({ intervalSeconds: 15 });
  h.cache.addNamespace('shop', true);
  h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0).toISOString() }));
  const starts: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const base = h.evaluator.evaluate.bind(h.evaluator);
  h.evaluator.evaluate = async (targets: readonly WatchTarget[], at: Date): Promise<Evaluation[]> => {
    starts.push(Date.now() - T0);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, evaluationMs));
    inFlight--;
    return base(targets, at);
  };
  return { h, starts, inFlight: () => inFlight, maxInFlight: () => maxInFlight };
}

describe('WatcherLoop timer', () => {
  it('starts a cycle every interval, measured from the previous start', async () => {
    const t = slowHarness(2_000);
    t.h.loop.start();
    await jest.advanceTimersByTimeAsync(61_000);
    const stopped = t.h.loop.stop();
    await jest.advanceTimersByTimeAsync(2_000);
    await stopped;
    expect(t.starts).toEqual([0, 15_000, 30_000, 45_000, 60_000]);
    expect(t.maxInFlight()).toBe(1);
  });

  it('never overlaps a cycle that overruns the interval: the next starts when it ends', async () => {
    const t = slowHarness(20_000);
    t.h.loop.start();
    await jest.advanceTimersByTimeAsync(61_000);
    // Node runs a 0 ms timeout after 1 ms: the next cycle starts right after the previous ends.
    expect(t.starts.map((ms) => Math.round(ms / 100) * 100)).toEqual([0, 20_000, 40_000, 60_000]);
    expect(t.maxInFlight()).toBe(1);
    const stopped = t.h.loop.stop();
    expect(t.inFlight()).toBe(1);
    await jest.advanceTimersByTimeAsync(20_000);
    await stopped;
    expect(t.inFlight()).toBe(0);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(t.starts).toHaveLength(4);
  });
});

describe('WatcherLoop.wake', () => {
  it('runs the next cycle at once when idle, and never starts a second one while a cycle runs', async () => {
    const t = slowHarness(2_000);
    t.h.loop.start();
    t.h.loop.wake(); // a cycle is running: no effect
    await jest.advanceTimersByTimeAsync(5_000);
    expect(t.starts).toEqual([0]);
    t.h.loop.wake();
    await jest.advanceTimersByTimeAsync(1);
    expect(t.starts).toEqual([0, 5_000]);
    expect(t.maxInFlight()).toBe(1);
    const stopped = t.h.loop.stop();
    await jest.advanceTimersByTimeAsync(2_000);
    await stopped;
  });
});
