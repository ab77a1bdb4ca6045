import { describe, expect, it } from '@jest/globals';
import { verdictOfStatus, worst, type Verdict } from '../../../src/watcher/verdict.js';

describe('worst: the one order of outcomes, for a service\'s findings and for its candidates', () => {
  it.each<[Verdict[], Verdict | undefined]>([
    [[], undefined],
    [['healthy'], 'healthy'],
    [['healthy', 'warning'], 'warning'],
    [['warning', 'no-data'], 'no-data'],
    [['no-data', 'error', 'warning'], 'error'],
    [['healthy', 'error', 'breached', 'no-data'], 'breached'],
  ])('%j → %s', (verdicts, expected) => {
    expect(worst(verdicts)).toBe(expected);
    expect(worst([...verdicts].reverse())).toBe(expected);
  });

  it('reads a finding status as the verdict it alone would give', () => {
    expect((['ok', 'warning', 'breached', 'no-data', 'error'] as const).map(verdictOfStatus)).toEqual(['healthy', 'warning', 'breached', 'no-data', 'error']);
  });
});
