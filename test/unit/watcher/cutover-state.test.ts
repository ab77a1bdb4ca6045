import { describe, expect, it } from '@jest/globals';
import {
  CANDIDATE_SUBSET,
  CUTOVER_STARTED_AT,
  FULL_TRAFFIC_AT,
  FULL_TRAFFIC_REACHED_AT,
  ROLLED_BACK_AT,
  STABLE_SINCE,
  STABLE_SUBSET,
} from '../../../src/istio/annotations.js';
import { DEFAULT_MESH } from '../../../src/istio/mesh.js';
import { cutoverStart, decideCutover, readCutoverState } from '../../../src/watcher/cutover-state.js';
import type { Verdict } from '../../../src/watcher/verdict.js';
import { http, virtualService } from './support/virtual-services.js';

const T0 = '2025-03-02T10:00:00.000Z';
const at = (seconds: number): Date => new Date(Date.parse(T0) + seconds * 1000);
const policy = { holdSeconds: 600 };

describe('readCutoverState: roles', () => {
  it('defaults to green stable and blue candidate only when nothing is recorded', () => {
    const s = readCutoverState(virtualService(http('green:100 blue:0')), DEFAULT_MESH);
    expect(s.roles).toEqual({ stableSubset: 'green', candidateSubsets: ['blue'] });
    expect(s.phase).toBe('idle');
  });

  it('takes the stable subset from the annotation, and every other subset of the same service as a candidate', () => {
    const s = readCutoverState(virtualService(http('v1:100 v2:0', 'v1:50 v3:50'), { [STABLE_SUBSET]: 'v1' }), DEFAULT_MESH);
    expect(s.roles).toEqual({ stableSubset: 'v1', candidateSubsets: ['v2', 'v3'] });
  });

  it('keeps swapped roles in the next release: blue stable, green candidate', () => {
    const s = readCutoverState(virtualService(http('blue:100 green:0'), { [STABLE_SUBSET]: 'blue', [CANDIDATE_SUBSET]: 'green' }), DEFAULT_MESH);
    expect(s.roles).toEqual({ stableSubset: 'blue', candidateSubsets: ['green'] });
  });

  it('does not take subsets of another service in the same VirtualService for candidates', () => {
    const s = readCutoverState(virtualService(http('green:100 blue:0', 'v2@ratings:100')), DEFAULT_MESH);
    expect(s.roles.candidateSubsets).toEqual(['blue']);
    expect(s.active).toEqual([]);
  });

  it('takes the configured default stable subset when nothing is recorded: blue stable, green the candidate', () => {
    const mesh = { ...DEFAULT_MESH, defaultStableSubset: 'blue' };
    const s = readCutoverState(virtualService(http('blue:90 green:10')), mesh);
    expect(s.roles).toEqual({ stableSubset: 'blue', candidateSubsets: ['green'] });
    expect(s.active.map((a) => a.subset)).toEqual(['green']);
  });

  it('names the service behind a host of the configured cluster domain, not only cluster.local', () => {
    const mesh = { ...DEFAULT_MESH, clusterDomain: 'mesh.example' };
    const s = readCutoverState(virtualService(http('green@reviews.shop.svc.mesh.example:70 blue@reviews.shop.svc.mesh.example:30', 'green:95 blue:5')), mesh);
    expect(s.roles.candidateSubsets).toEqual(['blue']);
    expect(s.active).toEqual([{ subset: 'blue', maxSharePercent: 30, host: 'reviews.shop.svc.mesh.example', service: { namespace: 'shop', name: 'reviews' } }]);
  });

  it('names the service of the busiest candidate destination the way Istio labels it', () => {
    const s = readCutoverState(virtualService(http('green@reviews.shop.svc.cluster.local:70 blue@reviews.shop.svc.cluster.local:30', 'green:95 blue:5')), DEFAULT_MESH);
    expect(s.active).toEqual([{ subset: 'blue', maxSharePercent: 30, host: 'reviews.shop.svc.cluster.local', service: { namespace: 'shop', name: 'reviews' } }]);
  });
});

describe('readCutoverState: phases', () => {
  it.each([
    ['no candidate traffic', http('green:100 blue:0'), {}, 'idle', false],
    ['a canary', http('green:99 blue:1'), {}, 'cutover', false],
    ['full traffic on every route', http('green:0 blue:100', 'blue'), {}, 'full-traffic', false],
    ['full on one route, stable still served on another', http('green:0 blue:100', 'green:100 blue:0'), {}, 'cutover', false],
    ['a recorded cutover', http('green:50 blue:50'), { [CUTOVER_STARTED_AT]: T0 }, 'cutover', true],
    ['rolled back since the cutover began', http('green:100 blue:0'), { [CUTOVER_STARTED_AT]: T0, [ROLLED_BACK_AT]: at(120).toISOString() }, 'rolled-back', false],
    ['a rollback from a release already confirmed stable', http('green:100 blue:0'), { [ROLLED_BACK_AT]: T0, [STABLE_SINCE]: at(3600).toISOString() }, 'idle', false],
    ['an unreadable cutover time', http('green:50 blue:50'), { [CUTOVER_STARTED_AT]: 'yesterday' }, 'cutover', false],
  ] as const)('%s', (_name, routes, annotations, phase, recorded) => {
    const s = readCutoverState(virtualService(routes, annotations), DEFAULT_MESH);
    expect(s.phase).toBe(phase);
    expect(s.recorded).toBe(recorded);
  });
});

describe('decideCutover', () => {
  const now = at(900);

  it('records a cutover when a candidate weight rises above 0', () => {
    const s = readCutoverState(virtualService(http('green:99 blue:1')), DEFAULT_MESH);
    expect(decideCutover(s, now, 'healthy', policy)).toEqual({
      kind: 'cutover-began',
      candidate: 'blue',
      annotations: { [CUTOVER_STARTED_AT]: now.toISOString(), [CANDIDATE_SUBSET]: 'blue', [FULL_TRAFFIC_AT]: null, [FULL_TRAFFIC_REACHED_AT]: null },
    });
    expect(cutoverStart(s, now)).toEqual(now);
  });

  it('records full traffic at once when the cutover jumps straight to 100 %', () => {
    const s = readCutoverState(virtualService(http('green:0 blue:100')), DEFAULT_MESH);
    expect(decideCutover(s, now, undefined, policy)).toMatchObject({ kind: 'cutover-began', annotations: { [FULL_TRAFFIC_AT]: now.toISOString(), [FULL_TRAFFIC_REACHED_AT]: now.toISOString() } });
  });

  it('records when the stable subset stops getting traffic, and forgets it when it gets some back', () => {
    const full = readCutoverState(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: T0 }), DEFAULT_MESH);
    expect(decideCutover(full, now, 'healthy', policy)).toEqual({ kind: 'full-traffic-reached', annotations: { [FULL_TRAFFIC_AT]: now.toISOString(), [FULL_TRAFFIC_REACHED_AT]: now.toISOString() } });
    const back = readCutoverState(virtualService(http('green:50 blue:50'), { [CUTOVER_STARTED_AT]: T0, [FULL_TRAFFIC_AT]: T0, [FULL_TRAFFIC_REACHED_AT]: T0 }), DEFAULT_MESH);
    expect(decideCutover(back, now, 'healthy', policy)).toEqual({ kind: 'full-traffic-left', annotations: { [FULL_TRAFFIC_AT]: null, [FULL_TRAFFIC_REACHED_AT]: null } });
    // Stepped back while a no-data stretch had interrupted the hold: the full-traffic time goes too.
    const backInterrupted = readCutoverState(virtualService(http('green:50 blue:50'), { [CUTOVER_STARTED_AT]: T0, [FULL_TRAFFIC_REACHED_AT]: T0 }), DEFAULT_MESH);
    expect(decideCutover(backInterrupted, now, 'healthy', policy).kind).toBe('full-traffic-left');
  });

  const held = (reached: Record<string, string> = { [FULL_TRAFFIC_REACHED_AT]: at(60).toISOString() }) =>
    readCutoverState(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: T0, [FULL_TRAFFIC_AT]: at(60).toISOString(), ...reached }), DEFAULT_MESH);

  it.each<[number, Verdict | undefined, string]>([
    [599, 'healthy', 'none'],
    [600, 'healthy', 'confirmed-stable'],
    [600, 'warning', 'confirmed-stable'],
    [601, 'no-data', 'hold-interrupted'],
    [601, 'error', 'hold-interrupted'],
    [300, 'no-data', 'hold-interrupted'],
    [601, undefined, 'none'],
    [601, 'breached', 'hold-restarted'],
    [300, 'breached', 'hold-restarted'],
  ])('after %i s at full traffic with verdict %s: %s', (seconds, verdict, kind) => {
    expect(decideCutover(held(), at(60 + seconds), verdict, policy).kind).toBe(kind);
  });

  it('on confirmation, makes the candidate the stable subset and the old stable the next candidate', () => {
    const t = at(60 + 600);
    expect(decideCutover(held(), t, 'healthy', policy)).toEqual({
      kind: 'confirmed-stable',
      stable: 'blue',
      previousStable: 'green',
      annotations: {
        [STABLE_SUBSET]: 'blue',
        [CANDIDATE_SUBSET]: 'green',
        [STABLE_SINCE]: t.toISOString(),
        [CUTOVER_STARTED_AT]: null,
        [FULL_TRAFFIC_AT]: null,
      },
    });
  });

  it('keeps the time full traffic was reached through the hold and after confirmation (keep-previous counts from it)', () => {
    // A hold started over after a breach that was not rolled back: full traffic was reached at 30 s, the hold runs from 60 s.
    const restarted = held({ [FULL_TRAFFIC_REACHED_AT]: at(30).toISOString() });
    expect(restarted.fullTrafficReachedAt).toEqual(at(30));
    expect(decideCutover(restarted, at(200), 'breached', policy)).toEqual({ kind: 'hold-restarted', annotations: { [FULL_TRAFFIC_AT]: at(200).toISOString() } });
    const confirmed = decideCutover(restarted, at(660), 'healthy', policy);
    expect(confirmed.kind).toBe('confirmed-stable');
    expect(confirmed.kind !== 'none' && Object.keys(confirmed.annotations)).not.toContain(FULL_TRAFFIC_REACHED_AT);
    // Recorded by a watcher that did not write it: the hold's start is taken at confirmation.
    expect(decideCutover(held({}), at(660), 'healthy', policy)).toMatchObject({ kind: 'confirmed-stable', annotations: { [FULL_TRAFFIC_REACHED_AT]: at(60).toISOString() } });
  });

  it('ignores a full-traffic time from before the cutover began (an earlier cutover)', () => {
    const s = readCutoverState(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: T0, [FULL_TRAFFIC_REACHED_AT]: at(-3600).toISOString() }), DEFAULT_MESH);
    expect(s.fullTrafficReachedAt).toBeUndefined();
    expect(decideCutover(s, now, 'healthy', policy)).toEqual({ kind: 'full-traffic-reached', annotations: { [FULL_TRAFFIC_AT]: now.toISOString(), [FULL_TRAFFIC_REACHED_AT]: now.toISOString() } });
  });

  it('forgets the hold when no data or an error interrupts it, so time without data never counts towards it', () => {
    expect(decideCutover(held(), at(60 + 300), 'no-data', policy)).toEqual({ kind: 'hold-interrupted', annotations: { [FULL_TRAFFIC_AT]: null } });
    const interrupted = readCutoverState(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: T0, [FULL_TRAFFIC_REACHED_AT]: at(60).toISOString() }), DEFAULT_MESH);
    // While it lasts nothing more is written; the next judged cycle starts the hold over.
    expect(decideCutover(interrupted, at(60 + 400), 'no-data', policy)).toEqual({ kind: 'none' });
    expect(decideCutover(interrupted, at(60 + 420), 'error', policy)).toEqual({ kind: 'none' });
    // The hold starts over; when full traffic was reached stays as it was.
    expect(decideCutover(interrupted, at(60 + 600), 'healthy', policy)).toEqual({ kind: 'full-traffic-reached', annotations: { [FULL_TRAFFIC_AT]: at(60 + 600).toISOString() } });
  });

  it('a hold measured in seconds from config, not the seed default', () => {
    expect(decideCutover(held(), at(90), 'healthy', { holdSeconds: 30 }).kind).toBe('confirmed-stable');
  });

  it('ends a recorded cutover whose candidate went back to 0 without a rollback by the watcher', () => {
    const s = readCutoverState(virtualService(http('green:100 blue:0'), { [CUTOVER_STARTED_AT]: T0, [FULL_TRAFFIC_AT]: T0 }), DEFAULT_MESH);
    expect(decideCutover(s, now, undefined, policy)).toEqual({ kind: 'cutover-ended', annotations: { [CUTOVER_STARTED_AT]: null, [FULL_TRAFFIC_AT]: null, [FULL_TRAFFIC_REACHED_AT]: null } });
  });

  it('records nothing for a rolled-back service until a new cutover begins', () => {
    const rolledBack = { [CUTOVER_STARTED_AT]: T0, [ROLLED_BACK_AT]: at(120).toISOString() };
    const quiet = readCutoverState(virtualService(http('green:100 blue:0'), rolledBack), DEFAULT_MESH);
    expect(decideCutover(quiet, now, undefined, policy)).toEqual({ kind: 'none' });
    const again = readCutoverState(virtualService(http('green:90 blue:10'), rolledBack), DEFAULT_MESH);
    expect(again.recorded).toBe(false);
    expect(decideCutover(again, now, 'healthy', policy)).toMatchObject({ kind: 'cutover-began', candidate: 'blue' });
  });

  it('walks a whole release and the next one with roles swapped', () => {
    let annotations: Record<string, string> = {};
    const step = (routes: string, t: Date, verdict: Verdict | undefined): string => {
      const d = decideCutover(readCutoverState(virtualService(http(routes), annotations), DEFAULT_MESH), t, verdict, policy);
      if (d.kind !== 'none') {
        for (const [k, v] of Object.entries(d.annotations)) {
          if (v === null) delete annotations[k];
          else annotations = { ...annotations, [k]: v };
        }
      }
      return d.kind;
    };
    expect(step('green:100 blue:0', at(0), undefined)).toBe('none');
    expect(step('green:99 blue:1', at(10), 'healthy')).toBe('cutover-began');
    expect(step('green:0 blue:100', at(100), 'healthy')).toBe('full-traffic-reached');
    expect(step('green:0 blue:100', at(400), 'warning')).toBe('none');
    expect(step('green:0 blue:100', at(700), 'healthy')).toBe('confirmed-stable');
    expect(annotations).toMatchObject({ [STABLE_SUBSET]: 'blue', [CANDIDATE_SUBSET]: 'green', [FULL_TRAFFIC_REACHED_AT]: at(100).toISOString(), [STABLE_SINCE]: at(700).toISOString() });
    expect(step('green:0 blue:100', at(800), undefined)).toBe('none');
    expect(step('green:20 blue:80', at(900), 'healthy')).toBe('cutover-began');
    expect(annotations[CANDIDATE_SUBSET]).toBe('green');
    expect(annotations[FULL_TRAFFIC_REACHED_AT]).toBeUndefined();
    expect(readCutoverState(virtualService(http('green:20 blue:80'), annotations), DEFAULT_MESH).roles.stableSubset).toBe('blue');
  });
});
