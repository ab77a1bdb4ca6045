import { describe, expect, it } from '@jest/globals';
import { describeStatus, exitCodeOf, isSettled, renderStatus } from '../../../src/cli/kubectl-bluegreen/status-view.js';
import { sparkline } from '../../../src/cli/kubectl-bluegreen/sparkline.js';
import {
  CANDIDATE_DEPLOYED_AT,
  CANDIDATE_READY_AT,
  CUTOVER_STARTED_AT,
  FULL_TRAFFIC_AT,
  FULL_TRAFFIC_REACHED_AT,
  LAST_CUTOVER,
  ROLLBACK_REASON,
  ROLLED_BACK_AT,
  STABLE_SINCE,
  STABLE_SUBSET,
  ZERO_PERCENT_AT,
} from '../../../src/istio/annotations.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import type { VirtualService } from '../../../src/istio/types.js';

const NOW = new Date('2026-12-02T12:00:00Z');

function vs(weights: Record<string, number>, annotations: Record<string, string> = {}): VirtualService {
  return {
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: 'shop', annotations },
    spec: { hosts: ['reviews'], http: [{ name: 'primary', route: Object.entries(weights).map(([subset, weight]) => ({ destination: { host: 'reviews', subset }, weight })) }] },
  };
}

const status = (v: VirtualService) => describeStatus({ vs: v, mesh: DEFAULT_MESH, events: [], now: NOW, holdSeconds: 600 });

describe('kubectl bluegreen status: phase, exit code, text', () => {
  it('idle: Stable, exit 0, settled', () => {
    const s = status(vs({ green: 100, blue: 0 }));
    expect(s).toMatchObject({ phase: 'Stable', summary: 'Stable on green', weights: [{ route: 'http[0] "primary"', weights: { green: 100, blue: 0 } }] });
    expect(exitCodeOf(s)).toBe(0);
    expect(isSettled(s)).toBe(true);
  });

  it('a canary: Canary N %, not settled', () => {
    const s = status(vs({ green: 99, blue: 1 }, { [CUTOVER_STARTED_AT]: '2026-12-02T11:58:00Z' }));
    expect(s).toMatchObject({ phase: 'Canary', canaryPercent: 1, summary: 'Canary 1 % on blue', candidate: 'blue' });
    expect(isSettled(s)).toBe(false);
    expect(s.timeline).toEqual([{ step: 'cutover started', at: '2026-12-02T11:58:00.000Z' }]);
  });

  it('full traffic: the hold time left from full-traffic-at', () => {
    const s = status(vs({ green: 0, blue: 100 }, { [CUTOVER_STARTED_AT]: '2026-12-02T11:50:00Z', [FULL_TRAFFIC_AT]: '2026-12-02T11:55:30Z' }));
    expect(s).toMatchObject({ phase: 'FullTraffic', holdLeftSeconds: 330, summary: 'FullTraffic on blue, hold 5m30s left' });
    expect(exitCodeOf(s)).toBe(0);
  });

  it('rolled back: the reason, exit 1, settled', () => {
    const s = status(vs({ green: 100, blue: 0 }, { [CUTOVER_STARTED_AT]: '2026-12-02T11:50:00Z', [ROLLED_BACK_AT]: '2026-12-02T11:52:00Z', [ROLLBACK_REASON]: 'error-rate 0.2 >= 0.05' }));
    expect(s).toMatchObject({ phase: 'RolledBack', rollbackReason: 'error-rate 0.2 >= 0.05', summary: 'RolledBack to green: error-rate 0.2 >= 0.05' });
    expect(exitCodeOf(s)).toBe(1);
    expect(isSettled(s)).toBe(true);
    expect(renderStatus(s)).toContain('Timeline:\n  2026-12-02T11:50:00.000Z  cutover started\n  2026-12-02T11:52:00.000Z  rolled back\n');
  });
});

describe('kubectl bluegreen status: the timeline against the seed\'s', () => {
  it('a cutover under way: each step with its time, the durations so far; in -o json too', () => {
    const s = status(
      vs(
        { green: 0, blue: 100 },
        {
          [CANDIDATE_DEPLOYED_AT]: '2026-12-02T11:50:00Z',
          [CANDIDATE_READY_AT]: '2026-12-02T11:51:00Z',
          [ZERO_PERCENT_AT]: '2026-12-02T11:51:30Z',
          [CUTOVER_STARTED_AT]: '2026-12-02T11:52:00Z',
          [FULL_TRAFFIC_AT]: '2026-12-02T11:53:00Z',
          [FULL_TRAFFIC_REACHED_AT]: '2026-12-02T11:53:00Z',
        },
      ),
    );
    expect(s.report).toMatchObject({ candidate: 'blue', outcome: 'in-progress' });
    expect(s.report?.durations.map((d) => [d.name, d.seconds, d.mark])).toEqual([
      ['deployment', 180, 'within'],
      ['monitoring window', 420, 'running'],
      ['total', 600, 'running'],
    ]);
    const json = JSON.parse(JSON.stringify(s)) as { report: { steps: { step: string; at?: string }[] } };
    expect(json.report.steps.map((x) => `${x.step} ${x.at ?? '-'}`)).toEqual([
      'deploy 2026-12-02T11:50:00.000Z',
      'ready 2026-12-02T11:51:00.000Z',
      '0 % 2026-12-02T11:51:30.000Z',
      'canary 2026-12-02T11:52:00.000Z',
      '100 % 2026-12-02T11:53:00.000Z',
      'hold passed -',
    ]);
    expect(renderStatus(s)).toContain(
      [
        "Timeline of this cutover to blue, against the seed's:",
        '  deploy       2026-12-02T11:50:00.000Z',
        '  ready        2026-12-02T11:51:00.000Z',
        '  0 %          2026-12-02T11:51:30.000Z',
        '  canary       2026-12-02T11:52:00.000Z',
        '  100 %        2026-12-02T11:53:00.000Z',
        '  hold passed  -                         not yet',
        "  deployment (deploy → 100 %)              3m00s within the seed's 4m00s",
        '  monitoring window (100 % → hold passed)  7m00s so far (seed: 10m00s)',
        '  total (deploy → hold passed)             10m00s so far (seed: ≤ 15m00s)',
      ].join('\n'),
    );
  });

  it('after the hold passed: the last cutover from last-cutover, its state annotations gone', () => {
    const last = {
      candidate: 'blue',
      deployedAt: '2026-12-02T11:40:00.000Z',
      readyAt: '2026-12-02T11:41:00.000Z',
      canaryAt: '2026-12-02T11:42:00.000Z',
      fullTrafficAt: '2026-12-02T11:44:30.000Z',
      outcome: 'hold-passed',
      endedAt: '2026-12-02T11:55:00.000Z',
    };
    const s = status(vs({ green: 0, blue: 100 }, { [STABLE_SUBSET]: 'blue', [STABLE_SINCE]: last.endedAt, [LAST_CUTOVER]: JSON.stringify(last) }));
    expect(s.phase).toBe('Stable');
    const text = renderStatus(s);
    expect(text).toContain("Timeline of the last cutover (hold passed) to blue, against the seed's:\n");
    expect(text).toContain('  0 %          -                         unknown: the watcher did not see the candidate at 0 %\n');
    expect(text).toContain("  deployment (deploy → 100 %)              4m30s over the seed's 4m00s by 30s\n");
    expect(text).toContain("  monitoring window (100 % → hold passed)  10m30s over the seed's 10m00s by 30s\n");
    expect(text).toContain("  total (deploy → hold passed)             15m00s within the seed's ≤ 15m00s\n");
    expect(text).not.toContain('so far');
  });

  it('rolled back: the last cutover with the rollback; without last-cutover the recorded steps as before', () => {
    const last = { candidate: 'blue', canaryAt: '2026-12-02T11:50:00.000Z', outcome: 'rolled-back', endedAt: '2026-12-02T11:52:00.000Z' };
    const annotations = { [CUTOVER_STARTED_AT]: '2026-12-02T11:50:00Z', [ROLLED_BACK_AT]: '2026-12-02T11:52:00Z' };
    const s = status(vs({ green: 100, blue: 0 }, { ...annotations, [LAST_CUTOVER]: JSON.stringify(last) }));
    expect(s.report?.outcome).toBe('rolled-back');
    const text = renderStatus(s);
    expect(text).toContain("Timeline of the last cutover (rolled back) to blue, against the seed's:\n");
    expect(text).toContain('  100 %        -                         not reached: rolled back before\n');
    expect(text).toContain('  rolled back  2026-12-02T11:52:00.000Z\n');
    expect(text).toContain('  total (deploy → rolled back)             unknown (seed: ≤ 15m00s)\n');
    expect(status(vs({ green: 100, blue: 0 }, annotations)).report).toBeUndefined();
  });

  it('idle and never cut over: no timeline', () => {
    const s = status(vs({ green: 100, blue: 0 }));
    expect(s.report).toBeUndefined();
    expect(renderStatus(s)).not.toContain('Timeline');
  });
});

describe('sparkline', () => {
  it('scales between the lowest and highest value, marks gaps', () => {
    expect(sparkline([0, 0.5, 1, null])).toBe('▁▅█·');
  });
  it('a flat series draws at the bottom; no data says so', () => {
    expect(sparkline([0.01, 0.01])).toBe('▁▁');
    expect(sparkline([])).toBe('(no data)');
  });
});
