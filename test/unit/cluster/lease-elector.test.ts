import { describe, expect, it } from '@jest/globals';
import { fromLease, toLease } from '../../../src/cluster/kubernetes-lease-store.js';
import { LeaseConflict, LeaseElector, type LeaseRecord, type LeaseStore } from '../../../src/cluster/lease-elector.js';

/** A Lease with the API server's optimistic concurrency: replace must carry the current resourceVersion. */
class FakeLeaseStore implements LeaseStore {
  record: LeaseRecord | undefined;
  private version = 0;
  failing = false;

  get(): Promise<LeaseRecord | undefined> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    return Promise.resolve(this.record && { ...this.record });
  }

  create(record: LeaseRecord): Promise<LeaseRecord> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    if (this.record) return Promise.reject(new LeaseConflict('exists'));
    this.record = { ...record, resourceVersion: String(++this.version) };
    return Promise.resolve({ ...this.record });
  }

  replace(record: LeaseRecord): Promise<LeaseRecord> {
    if (this.failing) return Promise.reject(new Error('connection refused'));
    if (!this.record || record.resourceVersion !== this.record.resourceVersion) return Promise.reject(new LeaseConflict('stale'));
    this.record = { ...record, resourceVersion: String(++this.version) };
    return Promise.resolve({ ...this.record });
  }
}

class FakeClock {
  ms = Date.parse('2025-03-02T10:00:00.000Z');
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

function replica(identity: string, store: LeaseStore, clock: FakeClock) {
  const events: string[] = [];
  const elector = new LeaseElector(store, {
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    clock,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => events.push('stopped'),
  });
  return { elector, events };
}

describe('LeaseElector', () => {
  it('the first replica creates the Lease and leads; the second stands by', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    const b = replica('b', store, clock);
    await a.elector.tick();
    await b.elector.tick();
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(a.events).toEqual(['started']);
    expect(store.record).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
  });

  it('renews with the resourceVersion it read, keeping acquireTime', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    await a.elector.tick();
    const acquired = store.record?.acquireTime;
    clock.advance(2_000);
    await a.elector.tick();
    expect(store.record?.renewTime).toEqual(clock.now());
    expect(store.record?.acquireTime).toEqual(acquired);
    expect(store.record?.resourceVersion).toBe('2');
    expect(a.events).toEqual(['started']);
  });

  it('a standby takes over only after the lease has gone unrenewed for its duration, as the standby saw it', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    const b = replica('b', store, clock);
    await a.elector.tick();
    await b.elector.tick(); // b first sees the record now
    store.failing = true; // a's API server connection breaks: it can no longer renew
    clock.advance(10_000);
    await a.elector.tick();
    expect(a.elector.isLeader()).toBe(false); // stepped down at the renew deadline
    expect(a.events).toEqual(['started', 'stopped']);
    store.failing = false;
    clock.advance(4_999);
    await b.elector.tick();
    expect(b.elector.isLeader()).toBe(false); // 14.999 s since b saw the last change
    clock.advance(1);
    await b.elector.tick();
    expect(b.elector.isLeader()).toBe(true);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1, acquireTime: clock.now() });
  });

  it('never has two leaders at one instant when the leader stops renewing', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    const b = replica('b', store, clock);
    await a.elector.tick();
    await b.elector.tick();
    // a's process hangs: no more ticks. b keeps trying every second.
    const leaders: string[] = [];
    for (let t = 1; t <= 20; t++) {
      clock.advance(1_000);
      await b.elector.tick();
      expect(a.elector.isLeader() && b.elector.isLeader()).toBe(false);
      leaders.push(a.elector.isLeader() ? 'a' : b.elector.isLeader() ? 'b' : '-');
    }
    expect(leaders.join('')).toBe('aaaaaaaaa-----bbbbbb');
  });

  it('does not count a lease as expired from the holder\'s clock: a skewed renewTime is judged by when it was seen', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    store.record = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: new Date(0), renewTime: new Date(0), leaseTransitions: 3, resourceVersion: '7' };
    const b = replica('b', store, clock);
    await b.elector.tick();
    expect(b.elector.isLeader()).toBe(false);
    clock.advance(15_000);
    await b.elector.tick();
    expect(b.elector.isLeader()).toBe(true);
    expect(store.record.leaseTransitions).toBe(4);
  });

  it('releases the lease on stop so a standby takes over at once', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    const b = replica('b', store, clock);
    await a.elector.tick();
    await b.elector.tick();
    await a.elector.stop();
    expect(a.events).toEqual(['started', 'stopped']);
    expect(store.record?.holderIdentity).toBeUndefined();
    await b.elector.tick();
    expect(b.elector.isLeader()).toBe(true);
  });

  it('loses a renewal race without error and tries again next period', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    await a.elector.tick();
    const racing: LeaseStore = {
      get: () => store.get(),
      create: (r) => store.create(r),
      replace: () => Promise.reject(new LeaseConflict('someone else wrote first')),
    };
    const a2 = new LeaseElector(racing, { identity: 'a', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, clock });
    await expect(a2.tick()).resolves.toBeUndefined();
    expect(a2.isLeader()).toBe(false);
  });

  it('stops claiming leadership when no renewal happened for the renew deadline, even without a tick', async () => {
    const store = new FakeLeaseStore();
    const clock = new FakeClock();
    const a = replica('a', store, clock);
    await a.elector.tick();
    clock.advance(9_999);
    expect(a.elector.isLeader()).toBe(true);
    clock.advance(1);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('refuses a renew deadline that is not shorter than the lease', () => {
    expect(() => new LeaseElector(new FakeLeaseStore(), { identity: 'a', leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, clock: new FakeClock() })).toThrow(
      /renew deadline \(10000 ms\) must be shorter than the lease duration/,
    );
  });
});

describe('Lease bodies for the API server', () => {
  it('writes acquireTime and renewTime as MicroTime with six fractional digits', () => {
    const t = new Date('2025-03-02T10:00:00.278Z');
    const body = JSON.parse(JSON.stringify(toLease('ns', 'l', { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: t, renewTime: t, leaseTransitions: 2, resourceVersion: '9' }))) as {
      spec: Record<string, unknown>;
      metadata: Record<string, unknown>;
    };
    expect(body.spec.renewTime).toBe('2025-03-02T10:00:00.278000Z');
    expect(body.spec.acquireTime).toBe('2025-03-02T10:00:00.278000Z');
    expect(body.metadata.resourceVersion).toBe('9');
  });

  it('reads MicroTime strings as the API server returns them', () => {
    const r = fromLease({ metadata: { resourceVersion: '3' }, spec: { holderIdentity: 'a', renewTime: '2025-03-02T10:00:00.278123Z' as unknown as Date } });
    expect(r.renewTime?.toISOString()).toBe('2025-03-02T10:00:00.278Z');
    expect(r.holderIdentity).toBe('a');
    expect(r.leaseTransitions).toBe(0);
  });
});
