import { describe, expect, it } from '@jest/globals';
import { describeStatus, exitCodeOf, isSettled, renderStatus } from '../../../src/cli/kubectl-bluegreen/status-view.js';
import { sparkline } from '../../../src/cli/kubectl-bluegreen/sparkline.js';
import { CUTOVER_STARTED_AT, FULL_TRAFFIC_AT, ROLLBACK_REASON, ROLLED_BACK_AT } from '../../../src/istio/annotations.js';
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

describe('sparkline', () => {
  it('scales between the lowest and highest value, marks gaps', () => {
    expect(sparkline([0, 0.5, 1, null])).toBe('▁▅█·');
  });
  it('a flat series draws at the bottom; no data says so', () => {
    expect(sparkline([0.01, 0.01])).toBe('▁▁');
    expect(sparkline([])).toBe('(no data)');
  });
});
