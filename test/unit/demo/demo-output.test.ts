// The demo's pure parts: what it reads from Prometheus samples, and how it
// lays out what it prints.
import { describe, expect, it } from '@jest/globals';
import { createConsole, formatDuration, formatOffset, formatPercent, table, wrap } from '../../../demo/console.js';
import { trimPatchDump } from '../../../demo/kubectl-output.js';
import { waitUntil } from '../../support/wait-until.js';
import { counterStoppedAtSeconds, firstAtOrAboveSeconds, type Sample } from '../../../demo/timeline.js';

describe('counterStoppedAtSeconds', () => {
  it('finds the first sample from which the counter keeps its final value', () => {
    const samples: Sample[] = [
      [100, 10],
      [101, 20],
      [102, 30],
      [103, 30],
      [104, 30],
      [105, 30],
    ];
    expect(counterStoppedAtSeconds(samples, 3)).toBe(102);
  });

  it('is undefined while the counter has not been quiet long enough', () => {
    const samples: Sample[] = [
      [100, 10],
      [101, 20],
      [102, 20],
      [103, 20],
    ];
    expect(counterStoppedAtSeconds(samples, 3)).toBeUndefined();
    expect(counterStoppedAtSeconds(samples, 2)).toBe(101);
  });

  it('is undefined for a counter that is still rising, never rose, or has no samples', () => {
    expect(counterStoppedAtSeconds([[100, 1], [101, 2], [102, 3]], 1)).toBeUndefined();
    expect(counterStoppedAtSeconds([[100, 5], [101, 5], [102, 5]], 1)).toBeUndefined();
    expect(counterStoppedAtSeconds([], 1)).toBeUndefined();
  });

  it('does not depend on the order the samples come in', () => {
    expect(counterStoppedAtSeconds([[104, 9], [101, 4], [102, 9], [103, 9], [100, 1], [105, 9]], 3)).toBe(102);
  });
});

describe('firstAtOrAboveSeconds', () => {
  it('returns the first instant at or above the ratio, the limit included', () => {
    expect(firstAtOrAboveSeconds([[10, 0.01], [11, 0.05], [12, 0.2]], 0.05)).toBe(11);
    expect(firstAtOrAboveSeconds([[10, 0.01], [11, 0.049]], 0.05)).toBeUndefined();
  });
});

describe('trimPatchDump', () => {
  it('keeps warnings, the error line and the reason, and leaves out the patch kubectl sent', () => {
    const stderr = [
      'Warning: [canary-first] raises blue from 0% to 100%',
      'Error from server (Forbidden): error when applying patch:',
      '{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"..."}}}',
      'to:',
      'Resource: "networking.istio.io/v1, Resource=virtualservices"',
      'Name: "reviews", Namespace: "shop"',
      'for: "vs.yaml": error when patching "vs.yaml": admission webhook "istio-routes.bluegreen-guard.io" denied the request: [zero-start] ...',
    ].join('\n');
    expect(trimPatchDump(stderr).split('\n')).toEqual([
      'Warning: [canary-first] raises blue from 0% to 100%',
      'Error from server (Forbidden): error when applying patch:',
      '(the patch kubectl sent is left out)',
      'admission webhook "istio-routes.bluegreen-guard.io" denied the request: [zero-start] ...',
    ]);
  });

  it('leaves other output alone', () => {
    const created = 'Error from server (Forbidden): error when creating "vs.yaml": admission webhook "x" denied the request: [subset-exists] ...';
    expect(trimPatchDump(created)).toBe(created);
    expect(trimPatchDump('virtualservice.networking.istio.io/reviews configured\n')).toBe('virtualservice.networking.istio.io/reviews configured');
  });
});

describe('layout', () => {
  it('wraps long lines at spaces with a hanging indent, dropping nothing', () => {
    const line = 'admission webhook denied the request: [subset-exists] no DestinationRule defines subset blue';
    const pieces = wrap(line, 40, 2);
    expect(pieces.every((p) => p.length <= 40)).toBe(true);
    expect(pieces.slice(1).every((p) => p.startsWith('  '))).toBe(true);
    expect(pieces.map((p) => p.trim()).join(' ')).toBe(line);
    expect(wrap('short', 40)).toEqual(['short']);
    // Padding inside the first piece is kept.
    expect(wrap('  ✓ build      0.1 s  dist/ is current and nothing else needs building', 30, 15)).toEqual([
      '  ✓ build      0.1 s  dist/ is',
      '               current and',
      '               nothing else',
      '               needs building',
    ]);
  });

  it('pads every column but the last to its widest cell', () => {
    expect(table([['a', 'bb', 'c'], ['ddd', 'e', 'f']])).toEqual(['a    bb  c', 'ddd  e   f']);
  });

  it.each([
    [1_400, '1.4 s'],
    [38_000, '38 s'],
    [120_000, '2 min'],
    [125_000, '2 min 5 s'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('formats offsets and percentages', () => {
    expect(formatOffset(12_345)).toBe('+12.3 s');
    expect(formatOffset(-500)).toBe('−0.5 s');
    expect(formatPercent(0.05)).toBe('5 %');
    expect(formatPercent(0.125)).toBe('12.5 %');
  });

  it('prints a heartbeat once nothing was printed for the interval, until stopped', async () => {
    const printed: string[] = [];
    const out = createConsole({ write: (t) => printed.push(t), color: false, columns: 80 });
    const stop = out.heartbeat(() => 'still waiting', 200);
    try {
      await waitUntil(() => printed.some((p) => p === '    … still waiting\n'), { timeoutMs: 5_000, description: 'a heartbeat line' });
    } finally {
      stop();
    }
  });
});
