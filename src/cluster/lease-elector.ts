// Leader election over a coordination.k8s.io/v1 Lease, the way client-go's
// leaderelection package does it (client-node has no helper): acquire a free
// or expired lease, renew it with the resourceVersion we read (a conflict
// means someone else wrote first), step down when renewals fail for
// `renewDeadlineMs`, release it on shutdown so a standby takes over at once.
// Expiry is judged by when *we* saw the record change, not by the holder's
// clock, so clock skew between nodes does not shorten a lease.
//
// The watcher's state lives in annotations on the VirtualServices, so a new
// leader picks up exactly where the old one stopped.

export interface LeaseRecord {
  holderIdentity: string | undefined;
  leaseDurationSeconds: number | undefined;
  acquireTime: Date | undefined;
  renewTime: Date | undefined;
  leaseTransitions: number;
  /** Absent on create. */
  resourceVersion?: string | undefined;
}

/** The Lease, read and written whole. */
export interface LeaseStore {
  /** `undefined` when the Lease does not exist. */
  get(): Promise<LeaseRecord | undefined>;
  /** Rejects with LeaseConflict when it already exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces with `record.resourceVersion` as precondition; rejects with LeaseConflict on 409. */
  replace(record: LeaseRecord): Promise<LeaseRecord>;
}

export class LeaseConflict extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LeaseConflict';
  }
}

export interface Clock {
  now(): Date;
}

export interface LeaderElector {
  /** True only while our last successful renewal is younger than the renew deadline. */
  isLeader(): boolean;
}

export interface ElectorLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface LeaseElectorOptions {
  identity: string;
  /** How long a standby waits after the last renewal it saw before taking over (client-go default 15 s). */
  leaseDurationMs: number;
  /** The leader steps down when it could not renew for this long; < leaseDurationMs (default 10 s). */
  renewDeadlineMs: number;
  /** Time between attempts (default 2 s). */
  retryPeriodMs: number;
  clock: Clock;
  log?: ElectorLog;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

export class LeaseElector implements LeaderElector {
  private leading = false;
  private lastRenewMs = 0;
  private observedKey: string | undefined;
  private observedAtMs = 0;
  private observed: LeaseRecord | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaseElectorOptions,
  ) {
    if (options.renewDeadlineMs >= options.leaseDurationMs) {
      throw new Error(`lease renew deadline (${options.renewDeadlineMs} ms) must be shorter than the lease duration (${options.leaseDurationMs} ms), or two leaders can overlap; fix: lower lease.renewDeadlineSeconds`);
    }
  }

  isLeader(): boolean {
    return this.leading && this.nowMs() - this.lastRenewMs < this.options.renewDeadlineMs;
  }

  /** Who holds the lease as last seen (maybe us), for logs and /ready. */
  holder(): string | undefined {
    return this.observed?.holderIdentity;
  }

  /** One attempt, and the leadership change it implies. Exposed so tests drive time themselves. */
  async tick(): Promise<void> {
    const renewed = await this.tryAcquireOrRenew();
    if (renewed) {
      if (!this.leading) {
        this.leading = true;
        this.options.log?.info({ identity: this.options.identity }, 'started leading');
        this.options.onStartedLeading?.();
      }
    } else if (this.leading && !this.isLeader()) {
      this.stepDown('could not renew the lease within the renew deadline');
    }
  }

  /** Runs tick() every retry period until stop(). */
  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err: unknown) => this.options.log?.warn({ identity: this.options.identity, err: String(err) }, 'leader election round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.options.retryPeriodMs);
        });
    };
    loop();
  }

  /** Stops trying and, if leading, releases the lease so a standby takes over without waiting for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (!this.leading) return;
    const wasLeader = this.isLeader();
    this.stepDown('shutting down');
    if (!wasLeader || !this.observed) return;
    const now = this.options.clock.now();
    try {
      await this.store.replace({
        holderIdentity: undefined,
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: this.observed.leaseTransitions,
        resourceVersion: this.observed.resourceVersion,
      });
    } catch (err) {
      this.options.log?.warn({ identity: this.options.identity, err: String(err) }, 'could not release the lease; a standby takes over once it expires');
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.options.clock.now();
    const me = this.options.identity;
    const durationSeconds = Math.ceil(this.options.leaseDurationMs / 1000);
    let current: LeaseRecord | undefined;
    try {
      current = await this.store.get();
      if (!current) {
        const created = await this.store.create({ holderIdentity: me, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 });
        this.renewedWith(created, now);
        return true;
      }
    } catch (err) {
      this.failed(err, 'reading or creating');
      return false;
    }
    this.observe(current, now);
    const holder = current.holderIdentity || undefined;
    if (holder !== undefined && holder !== me) {
      const leaseMs = (current.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (this.observedAtMs + leaseMs > now.getTime()) {
        if (this.leading) this.stepDown(`the lease is held by ${holder}`);
        return false;
      }
    }
    const mine = holder === me;
    try {
      const replaced = await this.store.replace({
        holderIdentity: me,
        leaseDurationSeconds: durationSeconds,
        acquireTime: mine ? (current.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: mine ? current.leaseTransitions : current.leaseTransitions + 1,
        resourceVersion: current.resourceVersion,
      });
      this.renewedWith(replaced, now);
      return true;
    } catch (err) {
      this.failed(err, mine ? 'renewing' : 'acquiring');
      return false;
    }
  }

  private renewedWith(record: LeaseRecord, now: Date): void {
    this.observe(record, now);
    this.lastRenewMs = now.getTime();
  }

  private observe(record: LeaseRecord, now: Date): void {
    const key = `${record.holderIdentity ?? ''}|${record.renewTime?.getTime() ?? ''}|${record.resourceVersion ?? ''}`;
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAtMs = now.getTime();
    }
    this.observed = record;
  }

  private failed(err: unknown, what: string): void {
    if (err instanceof LeaseConflict) return; // another replica wrote first: normal
    this.options.log?.warn({ identity: this.options.identity, err: err instanceof Error ? err.message : String(err) }, `${what} the lease failed`);
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.options.log?.warn({ identity: this.options.identity }, `stopped leading: ${why}`);
    this.options.onStoppedLeading?.();
  }

  private nowMs(): number {
    return this.options.clock.now().getTime();
  }
}
