import { describe, expect, it } from '@jest/globals';
import {
  CANDIDATE_DEPLOYED_AT,
  CANDIDATE_READY_AT,
  CUTOVER_STARTED_AT,
  FULL_TRAFFIC_AT,
  FULL_TRAFFIC_REACHED_AT,
  LAST_CUTOVER,
  ROLLED_BACK_AT,
  STABLE_SINCE,
  STABLE_SUBSET,
  ZERO_PERCENT_AT,
} from '../../../src/istio/annotations.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import {
  currentSteps,
  cutoverReport,
  lastCutover,
  lastCutoverAnnotation,
  renderReport,
  reportSummary,
  SEED_TIMELINE,
  type CutoverSteps,
} from '../../../src/watcher/cutover-report.js';
import { readCutoverState } from '../../../src/watcher/cutover-state.js';
import { completionReport, zeroPercentChanges } from '../../../src/watcher/cutover-timeline.js';
import { http, virtualService } from './support/virtual-services.js';

const T0 = Date.parse('2026-12-02T12:00:00.000Z');
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const iso = (seconds: number): string => at(seconds).toISOString();

/** A whole cutover: deployed at 0, ready at 70 s, 0 % at 100 s, canary at 150 s, 100 % at `full`, ended at `end`. */
function steps(full: number, end: number, outcome: 'hold-passed' | 'rolled-back' = 'hold-passed'): CutoverSteps {
  return { candidate: 'blue', deployedAt: at(0), readyAt: at(70), zeroPercentAt: at(100), canaryAt: at(150), fullTrafficAt: at(full), end: { outcome, at: at(end) } };
}

const durations = (s: CutoverSteps, now?: Date) => Object.fromEntries(cutoverReport(s, now).durations.map((d) => [d.name, { seconds: d.seconds, mark: d.mark }]));

describe('cutoverReport: the durations against the seed (deployment 4 min, monitoring window 10 min, total ≤ 15 min)', () => {
  it('uses the seed\'s figures', () => {
    expect(SEED_TIMELINE).toEqual({ deploymentSeconds: 240, monitoringSeconds: 600, totalSeconds: 900 });
  });

  it('exactly 4 min of deployment, exactly 10 min of monitoring, exactly 15 min in total: within (the figures are included)', () => {
    expect(durations(steps(240, 840))).toEqual({
      deployment: { seconds: 240, mark: 'within' },
      'monitoring window': { seconds: 600, mark: 'within' },
      total: { seconds: 840, mark: 'within' },
    });
    expect(durations(steps(300, 900))).toEqual({
      deployment: { seconds: 300, mark: 'over' },
      'monitoring window': { seconds: 600, mark: 'within' },
      total: { seconds: 900, mark: 'within' },
    });
  });

  it('one second more is over, by that second', () => {
    const report = cutoverReport(steps(241, 901));
    expect(report.durations.map((d) => [d.name, d.seconds, d.mark])).toEqual([
      ['deployment', 241, 'over'],
      ['monitoring window', 660, 'over'],
      ['total', 901, 'over'],
    ]);
    expect(renderReport(report)).toContain("total (deploy → hold passed)             15m01s over the seed's ≤ 15m00s by 1s");
  });

  it('lists every step with its time, in the runbook\'s order', () => {
    const report = cutoverReport(steps(200, 830));
    expect(report.outcome).toBe('hold-passed');
    expect(report.steps).toEqual([
      { step: 'deploy', at: iso(0) },
      { step: 'ready', at: iso(70) },
      { step: '0 %', at: iso(100) },
      { step: 'canary', at: iso(150) },
      { step: '100 %', at: iso(200) },
      { step: 'hold passed', at: iso(830) },
    ]);
    expect(reportSummary(report)).toBe(
      "timeline (UTC): deploy 12:00:00, ready 12:01:10, 0 % 12:01:40, canary 12:02:30, 100 % 12:03:20, hold passed 12:13:50. Against the seed's timeline: deployment 3m20s within the seed's 4m00s; monitoring window 10m30s over the seed's 10m00s by 30s; total 13m50s within the seed's ≤ 15m00s",
    );
  });
});

describe('cutoverReport: steps not known are unknown, never invented', () => {
  it('no deploy time: deployment and total unknown, the rest measured', () => {
    const s: CutoverSteps = { ...steps(200, 810), deployedAt: undefined, readyAt: undefined };
    const report = cutoverReport(s);
    expect(report.steps.slice(0, 2)).toEqual([
      { step: 'deploy', at: undefined, note: "unknown: the candidate's pods were not read" },
      { step: 'ready', at: undefined, note: 'unknown: not every pod of the candidate was Ready, or the pods were not read' },
    ]);
    expect(durations(s)).toEqual({
      deployment: { seconds: undefined, mark: 'unknown' },
      'monitoring window': { seconds: 610, mark: 'over' },
      total: { seconds: undefined, mark: 'unknown' },
    });
    expect(reportSummary(report)).toContain('deploy unknown, ready unknown');
    expect(renderReport(report)).toContain('total (deploy → hold passed)             unknown (seed: ≤ 15m00s)');
  });

  it('no 0 % seen: shown unknown; the durations do not need it', () => {
    const s: CutoverSteps = { ...steps(200, 810), zeroPercentAt: undefined };
    expect(cutoverReport(s).steps[2]).toEqual({ step: '0 %', at: undefined, note: 'unknown: the watcher did not see the candidate at 0 %' });
    expect(durations(s).total).toEqual({ seconds: 810, mark: 'within' });
  });

  it('a candidate routed at 0 % before its pods existed says so', () => {
    const s: CutoverSteps = { ...steps(200, 810), zeroPercentAt: at(-3600) };
    expect(cutoverReport(s).steps[2]).toEqual({ step: '0 %', at: iso(-3600), note: 'routed at 0 % already before the pods were created' });
  });
});

describe('cutoverReport: rolled back', () => {
  it('at full traffic: the monitoring window ended by the rollback, the total measured to it', () => {
    const report = cutoverReport(steps(200, 320, 'rolled-back'));
    expect(report.outcome).toBe('rolled-back');
    expect(report.steps.at(-1)).toEqual({ step: 'rolled back', at: iso(320) });
    expect(report.steps.map((s) => s.step)).not.toContain('hold passed');
    expect(durations(steps(200, 320, 'rolled-back'))).toEqual({
      deployment: { seconds: 200, mark: 'within' },
      'monitoring window': { seconds: 120, mark: 'rolled back' },
      total: { seconds: 320, mark: 'within' },
    });
    expect(renderReport(report)).toContain("monitoring window (100 % → rolled back)  2m00s ended by the rollback (seed: 10m00s)");
  });

  it('before full traffic: 100 %, deployment and the monitoring window not reached', () => {
    const s: CutoverSteps = { ...steps(0, 1000, 'rolled-back'), fullTrafficAt: undefined };
    const report = cutoverReport(s);
    expect(report.steps[4]).toEqual({ step: '100 %', at: undefined, note: 'not reached: rolled back before' });
    expect(durations(s)).toEqual({
      deployment: { seconds: undefined, mark: 'not reached' },
      'monitoring window': { seconds: undefined, mark: 'not reached' },
      total: { seconds: 1000, mark: 'over' },
    });
    expect(reportSummary(report)).toContain('100 % not reached, rolled back 12:16:40');
  });
});

describe('cutoverReport: a cutover under way', () => {
  it('measures the running durations up to now, over once past the figure', () => {
    const s: CutoverSteps = { ...steps(200, 0), end: undefined };
    expect(cutoverReport(s, at(500)).outcome).toBe('in-progress');
    expect(cutoverReport(s, at(500)).steps.at(-1)).toEqual({ step: 'hold passed', at: undefined, note: 'not yet' });
    expect(durations(s, at(500))).toEqual({
      deployment: { seconds: 200, mark: 'within' },
      'monitoring window': { seconds: 300, mark: 'running' },
      total: { seconds: 500, mark: 'running' },
    });
    expect(durations(s, at(901)).total).toEqual({ seconds: 901, mark: 'over' });
    expect(renderReport(cutoverReport(s, at(500)))).toContain('monitoring window (100 % → hold passed)  5m00s so far (seed: 10m00s)');
  });

  it('before full traffic the deployment runs; the monitoring window has not begun', () => {
    const s: CutoverSteps = { ...steps(0, 0), fullTrafficAt: undefined, end: undefined };
    expect(durations(s, at(300))).toEqual({
      deployment: { seconds: 300, mark: 'over' },
      'monitoring window': { seconds: undefined, mark: 'not yet' },
      total: { seconds: 300, mark: 'running' },
    });
    expect(renderReport(cutoverReport(s, at(300)))).toContain('monitoring window (100 % → hold passed)  not yet (seed: 10m00s)');
    expect(reportSummary(cutoverReport(s, at(300)))).toContain('monitoring window not yet (seed: 10m00s)');
  });
});

describe('the recorded steps', () => {
  const recorded = {
    [STABLE_SUBSET]: 'green',
    [ZERO_PERCENT_AT]: iso(100),
    [CANDIDATE_DEPLOYED_AT]: iso(0),
    [CANDIDATE_READY_AT]: iso(70),
    [CUTOVER_STARTED_AT]: iso(150),
    [FULL_TRAFFIC_AT]: iso(200),
    [FULL_TRAFFIC_REACHED_AT]: iso(200),
  };

  it('a cutover under way: from the annotations and its state', () => {
    const vs = virtualService(http('green:0 blue:100'), recorded);
    expect(currentSteps(recorded, readCutoverState(vs, DEFAULT_MESH))).toEqual({
      candidate: 'blue',
      deployedAt: at(0),
      readyAt: at(70),
      zeroPercentAt: at(100),
      canaryAt: at(150),
      fullTrafficAt: at(200),
    });
  });

  it('a 0 % time from before the previous cutover ended, or after this one began, is not this cutover\'s', () => {
    const stale = { ...recorded, [STABLE_SINCE]: iso(120) };
    const vs = virtualService(http('green:0 blue:100'), stale);
    expect(currentSteps(stale, readCutoverState(vs, DEFAULT_MESH)).zeroPercentAt).toBeUndefined();
    const late = { ...recorded, [ZERO_PERCENT_AT]: iso(160) };
    expect(currentSteps(late, readCutoverState(virtualService(http('green:0 blue:100'), late), DEFAULT_MESH)).zeroPercentAt).toBeUndefined();
  });

  it('at a rollback: the steps with the end, kept in last-cutover and read back the same', () => {
    const vs = virtualService(http('green:0 blue:100'), recorded);
    const done = completionReport(vs, readCutoverState(vs, DEFAULT_MESH), 'rolled-back', at(320));
    const back = lastCutover(done.annotations);
    expect(back).toEqual({ ...steps(200, 320, 'rolled-back') });
    expect(done.summary).toBe(reportSummary(cutoverReport(back!)));
    expect(lastCutoverAnnotation(back!)).toEqual(done.annotations);
  });

  it('a cutover that begins and breaches in one cycle: the canary step is the rollback\'s cycle; its pods were not read', () => {
    const vs = virtualService(http('green:0 blue:100'), { [CANDIDATE_DEPLOYED_AT]: iso(-9000) });
    const back = lastCutover(completionReport(vs, readCutoverState(vs, DEFAULT_MESH), 'rolled-back', at(320)).annotations);
    expect(back).toMatchObject({ canaryAt: at(320), deployedAt: undefined, end: { outcome: 'rolled-back', at: at(320) } });
  });

  it('last-cutover that is absent or unreadable gives no report', () => {
    expect(lastCutover({})).toBeUndefined();
    expect(lastCutover({ [LAST_CUTOVER]: '{not json' })).toBeUndefined();
    expect(lastCutover({ [LAST_CUTOVER]: '"text"' })).toBeUndefined();
    expect(lastCutover({ [LAST_CUTOVER]: '{"canaryAt":"yesterday","outcome":"maybe","endedAt":"2026-12-02T12:00:00Z"}' })).toEqual({
      candidate: undefined,
      deployedAt: undefined,
      readyAt: undefined,
      zeroPercentAt: undefined,
      canaryAt: undefined,
      fullTrafficAt: undefined,
      end: undefined,
    });
  });
});

describe('zeroPercentChanges: the 0 % step, while idle', () => {
  const changes = (weights: string, annotations: Record<string, string> = {}) => {
    const vs = virtualService(http(weights), annotations);
    return zeroPercentChanges(vs, readCutoverState(vs, DEFAULT_MESH), at(500), DEFAULT_MESH.clusterDomain);
  };

  it('recorded the first time a route names the candidate at 0 %, then left alone', () => {
    expect(changes('green:100 blue:0')).toEqual({ [ZERO_PERCENT_AT]: iso(500) });
    expect(changes('green:100 blue:0', { [ZERO_PERCENT_AT]: iso(100) })).toBeUndefined();
  });

  it('recorded again when the time belongs to a cutover that ended since', () => {
    expect(changes('green:100 blue:0', { [ZERO_PERCENT_AT]: iso(100), [ROLLED_BACK_AT]: iso(200) })).toEqual({ [ZERO_PERCENT_AT]: iso(500) });
    expect(changes('blue:100 green:0', { [STABLE_SUBSET]: 'blue', [ZERO_PERCENT_AT]: iso(100), [STABLE_SINCE]: iso(200) })).toEqual({ [ZERO_PERCENT_AT]: iso(500) });
  });

  it('removed when no route names a candidate; nothing while a candidate has traffic', () => {
    expect(changes('green:100', { [ZERO_PERCENT_AT]: iso(100) })).toEqual({ [ZERO_PERCENT_AT]: null });
    expect(changes('green:100')).toBeUndefined();
    expect(changes('green:90 blue:10', { [CUTOVER_STARTED_AT]: iso(100) })).toBeUndefined();
  });
});
