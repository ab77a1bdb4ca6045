// "Monitor recovery", judged (pure) and followed by the loop: recovered
// resolves the rollback alert with "recovered in N s"; not recovered within
// the window fires BlueGreenGuardRecoveryFailed with the measured values.
import { describe, expect, it } from '@jest/globals';
import { CUTOVER_STARTED_AT, RECOVERY } from '../../../src/istio/annotations.js';
import { DEFAULT_RECOVERY_POLICY, judgeRecovery, parseRecovery, type RecoveryMeasurement } from '../../../src/watcher/recovery.js';
import type { RecoveryTarget, RecoveryTimes } from '../../../src/watcher/recovery-probe.js';
import { T0, evaluation, finding, harness } from './support/loop-harness.js';
import { http, virtualService } from './support/virtual-services.js';

const policy = DEFAULT_RECOVERY_POLICY;
const m = (now: [number | null, number | null], baseline: [number | null, number | null], callers: RecoveryMeasurement['callers'] = []): RecoveryMeasurement => ({
  now: { errorRatio: now[0], latencyP99Ms: now[1] },
  baseline: { errorRatio: baseline[0], latencyP99Ms: baseline[1] },
  callers,
});

describe('judgeRecovery', () => {
  it.each([
    ['back at the baseline', m([0.002, 120], [0.001, 110]), 60, 'recovered', /^recovered in 60 s: stable 5xx 0.20 %/],
    ['back, but not yet for a whole rate window', m([0.002, 120], [0.001, 110]), 30, 'pending', /waiting for a whole 60 s rate window/],
    ['still failing inside the window', m([0.2, 120], [0.001, 110]), 30, 'pending', /stable 5xx 20.00 % > baseline 0.10 % \+ 1.00 %/],
    ['still failing after the window', m([0.2, 120], [0.001, 110]), 121, 'failed', /^not recovered 121 s after the rollback: stable 5xx 20.00 %/],
    ['p99 above the baseline', m([0, 900], [0, 110]), 121, 'failed', /stable p99 900 ms > baseline 110 ms \+ 50 ms/],
    ['p99 of a slow service above the baseline by more than a quarter', m([0, 1300], [0, 1000]), 121, 'failed', /stable p99 1300 ms > baseline 1000 ms \+ 25 %/],
    ['p99 of a slow service within a quarter of the baseline', m([0, 1240], [0, 1000]), 60, 'recovered', /p99 1240 ms \(baseline 1000 ms\)/],
    ['p99 of a fast service a few milliseconds above its baseline: jitter, not a failed recovery', m([0, 14], [0, 10]), 60, 'recovered', /p99 14 ms \(baseline 10 ms\)/],
    ['p99 of a fast service more than 50 ms above its baseline', m([0, 61], [0, 10]), 121, 'failed', /stable p99 61 ms > baseline 10 ms \+ 50 ms/],
    ['no traffic on the stable version', m([null, null], [0, 110]), 121, 'failed', /no traffic to judge/],
    ['a caller with rising 5xx', m([0, 100], [0, 100], [{ workload: 'shop/productpage-v1', errorRatio: 0.08, baselineErrorRatio: 0 }]), 121, 'failed', /caller shop\/productpage-v1 5xx 8.00 % > its baseline 0.00 %/],
    ['a caller at its usual level', m([0, 100], [0, 100], [{ workload: 'shop/productpage-v1', errorRatio: 0.03, baselineErrorRatio: 0.03 }]), 60, 'recovered', /1 caller checked/],
  ])('%s', (_, measurement, elapsed, kind, detail) => {
    const v = judgeRecovery(measurement, policy, elapsed);
    expect(v.kind).toBe(kind);
    expect(v.detail).toMatch(detail);
  });
});

describe('WatcherLoop: following the recovery after a rollback', () => {
  const BREACH = evaluation('breached', finding('error-rate', 'breached', 0.2, 0.05));
  function setup(measure: (times: RecoveryTimes) => RecoveryMeasurement) {
    const asked: { target: RecoveryTarget; times: RecoveryTimes }[] = [];
    const h = harness({ recovery: { ...policy, windowSeconds: 60, rateWindowSeconds: 20 } }, {
      recoveryProbe: (target, times) => {
        asked.push({ target, times });
        return Promise.resolve(measure(times));
      },
    });
    h.cache.addNamespace('shop', true);
    h.cache.addDestinationRule({
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'shop' },
      spec: { host: 'reviews', subsets: [{ name: 'green', labels: { version: 'v1' } }, { name: 'blue', labels: { version: 'v2' } }] },
    });
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set('shop/reviews/v2', BREACH);
    return { h, asked };
  }
  const recoveryOf = (h: ReturnType<typeof setup>['h']) => parseRecovery(h.store.current('shop', 'reviews').metadata.annotations?.[RECOVERY]);

  it('records a pending recovery with the rollback, then resolves the rollback alert with "recovered in N s" and an Event', async () => {
    const { h, asked } = setup(() => m([0.001, 100], [0.001, 100]));
    await h.loop.runCycle();
    expect(recoveryOf(h)).toMatchObject({ state: 'pending', alertReason: 'error-rate', candidateVersion: 'v2' });
    h.cache.sync();
    h.clock.advance(20);
    await h.loop.runCycle();
    expect(asked[0]?.target).toEqual({ namespace: 'shop', service: 'reviews', stableVersion: 'v1' });
    expect(asked[0]?.times).toMatchObject({ cutoverStartedSeconds: (T0 - 60_000) / 1000, nowWindowSeconds: 20, baselineSeconds: 300 });
    expect(recoveryOf(h)).toMatchObject({ state: 'recovered', detail: expect.stringMatching(/^recovered in 20 s/) as unknown });
    const resolved = h.recorder.alerts.filter((a) => a.labels.alertname === 'BlueGreenGuardRolledBack').at(-1);
    expect(resolved?.labels).toMatchObject({ reason: 'error-rate', version: 'v2', severity: 'warning' });
    expect(resolved?.annotations.recovery).toMatch(/^recovered in 20 s/);
    expect(resolved?.endsAt).toBe(new Date(T0 + 20_000).toISOString());
    expect(h.recorder.eventReasons()).toEqual(['RolledBack', 'Recovered']);
    expect(h.recorder.events.at(-1)?.event).toMatchObject({ type: 'Normal', message: expect.stringMatching(/^recovered in 20 s: stable 5xx 0.10 %/) as unknown });
  });

  it('fires the critical BlueGreenGuardRecoveryFailed with the measured values once the window passed', async () => {
    const { h } = setup(() => m([0.2, 100], [0.001, 100]));
    await h.loop.runCycle();
    for (const seconds of [20, 20, 25]) {
      h.cache.sync();
      h.clock.advance(seconds);
      await h.loop.runCycle();
    }
    expect(recoveryOf(h)?.state).toBe('failed');
    const failed = h.recorder.alerts.filter((a) => a.labels.alertname === 'BlueGreenGuardRecoveryFailed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.labels).toMatchObject({ severity: 'critical', version: 'v1', reason: 'recovery-failed' });
    expect(failed[0]?.annotations.description).toMatch(/not recovered 65 s after the rollback: stable 5xx 20.00 %/);
    expect(h.recorder.eventReasons()).toEqual(['RolledBack', 'RecoveryFailed']);
    // The Event carries the alert's measured values.
    expect(h.recorder.events.at(-1)?.event).toMatchObject({ type: 'Warning', message: failed[0]?.annotations.description });
  });
});
