// An open-loop load generator. Request i is due at start + i / rate, evenly
// spaced, whatever happened to earlier requests; its latency is counted from
// that intended instant, so a slow answer (or a late send) is charged to
// every request it delays: no coordinated omission. A request that finds every
// connection busy waits in a queue, and that wait is part of its latency, as it
// is for an API server whose connections to the webhook are all in use.
import { performance } from 'node:perf_hooks';
import type { Http1Connection, Http1Response } from './http1-connection.js';

export interface PreparedRequest {
  bytes: Buffer;
  /** Returns why the response is wrong, or undefined when it is right. */
  check: (response: Http1Response) => string | undefined;
}

export interface OpenLoopOptions {
  ratePerSecond: number;
  /** Sent at the same rate before the measured part, not recorded (JIT, caches, TLS session). */
  warmupMs: number;
  durationMs: number;
  /** Opened beforehand: a keep-alive client does not pay handshakes per request. */
  connections: readonly Http1Connection[];
  /** Cycled through in order. */
  requests: readonly PreparedRequest[];
  /** How long to wait for the last answers after the last send; what is still missing counts as a timeout. */
  drainTimeoutMs: number;
}

export interface OpenLoopRun {
  ratePerSecond: number;
  durationMs: number;
  /** Measured requests (the warm-up excluded). */
  sent: number;
  completed: number;
  /** Wrong answers, failed connections and timeouts, by reason. */
  errors: Record<string, number>;
  errorCount: number;
  /** Latencies of the measured requests that were answered (rightly or wrongly), ms, sorted. */
  latenciesMs: Float64Array;
  /** The same by measured request: entry i is request warm-up + i (NaN: no answer). */
  byRequestMs: Float64Array;
  /** Index in `requests` of the first measured request. */
  firstRequest: number;
  /** How late the generator itself put requests on the wire, ms, sorted: it must stay far below the latencies. */
  sendLagMs: Float64Array;
  /** Completed measured requests per second of measured time. */
  achievedPerSecond: number;
  /** Most requests waiting for a free connection at once. */
  maxQueued: number;
  /** CPU the generator process used during the run, as a share of one core. */
  generatorCpuShare: number;
}

export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopRun> {
  const { ratePerSecond, warmupMs, durationMs, requests } = options;
  if (ratePerSecond <= 0 || requests.length === 0 || options.connections.length === 0) {
    return Promise.reject(new Error('runOpenLoop needs a positive rate, requests and open connections'));
  }
  const intervalMs = 1000 / ratePerSecond;
  const warmupCount = Math.round((warmupMs * ratePerSecond) / 1000);
  const measuredCount = Math.max(1, Math.round((durationMs * ratePerSecond) / 1000));
  const total = warmupCount + measuredCount;
  const latencies = new Float64Array(measuredCount).fill(Number.NaN);
  const lags = new Float64Array(measuredCount);
  const errors: Record<string, number> = {};
  const idle: Http1Connection[] = options.connections.filter((c) => c.usable);
  const queue = new Int32Array(total);
  let queueHead = 0;
  let queueTail = 0;
  let maxQueued = 0;
  let answered = 0;
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now() + 20;
  const intended = (i: number): number => start + i * intervalMs;

  const fail = (reason: string): void => {
    errors[reason] = (errors[reason] ?? 0) + 1;
  };

  return new Promise((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      const cpu = process.cpuUsage(cpuBefore);
      const elapsedMs = performance.now() - start;
      let completed = 0;
      let timeouts = 0;
      for (const l of latencies) {
        if (Number.isNaN(l)) timeouts++;
        else completed++;
      }
      if (timeouts > 0) errors['no answer before the drain timeout'] = (errors['no answer before the drain timeout'] ?? 0) + timeouts;
      const answeredLatencies = latencies.filter((l) => !Number.isNaN(l)).sort();
      const lastMeasured = intended(total - 1) - intended(warmupCount) + intervalMs;
      resolve({
        ratePerSecond,
        durationMs,
        sent: measuredCount,
        completed,
        errors,
        errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
        latenciesMs: answeredLatencies,
        byRequestMs: latencies,
        firstRequest: warmupCount % requests.length,
        sendLagMs: lags.sort(),
        achievedPerSecond: completed / (Math.max(lastMeasured, elapsedMs - (intended(warmupCount) - start)) / 1000),
        maxQueued,
        generatorCpuShare: (cpu.user + cpu.system) / 1000 / elapsedMs,
      });
    };

    const record = (i: number, latencyMs: number, problem: string | undefined): void => {
      answered++;
      if (i >= warmupCount) {
        latencies[i - warmupCount] = latencyMs;
        if (problem) fail(problem);
      }
      if (answered === total) finish();
    };

    const fire = (conn: Http1Connection, i: number): void => {
      const request = requests[i % requests.length] as PreparedRequest;
      const sentAt = performance.now();
      if (i >= warmupCount) lags[i - warmupCount] = sentAt - intended(i);
      conn.send(request.bytes).then(
        (response) => {
          record(i, performance.now() - intended(i), request.check(response));
          release(conn);
        },
        (error: Error) => {
          record(i, performance.now() - intended(i), `connection: ${error.message}`);
          if (conn.usable) release(conn);
        },
      );
    };

    const release = (conn: Http1Connection): void => {
      if (queueHead < queueTail) fire(conn, queue[queueHead++] as number);
      else idle.push(conn);
    };

    const dispatch = (i: number): void => {
      const conn = idle.pop();
      if (conn) return fire(conn, i);
      queue[queueTail++] = i;
      maxQueued = Math.max(maxQueued, queueTail - queueHead);
    };

    const tick = (): void => {
      const now = performance.now();
      while (next < total && intended(next) <= now) dispatch(next++);
      if (next < total) {
        const waitMs = intended(next) - performance.now();
        // Timers are coarse: sleep until just before the next send, then spin.
        if (waitMs > 2) setTimeout(tick, waitMs - 1.5);
        else setImmediate(tick);
        return;
      }
      drainTimer = setTimeout(finish, options.drainTimeoutMs);
    };
    setTimeout(tick, Math.max(0, start - performance.now() - 1.5));
  });
}

/** Nearest-rank percentile of a sorted array; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}
