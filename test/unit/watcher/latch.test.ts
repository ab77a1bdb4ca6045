// The watcher's half of the rollback latch: the rollback patch records which
// revisions stood behind the candidate, in the same write as the weights; a
// failed lookup latches the subset by name and never holds the rollback up;
// an expiry, when configured, removes old records with an Event.
import { describe, expect, it } from '@jest/globals';
import { CUTOVER_STARTED_AT, ROLLBACK_LATCH, ROLLBACK_LATCH_ACK, ROLLED_BACK_AT, SMOKE_RESULT } from '../../../src/istio/annotations.js';
import { formatLatch, parseLatch, type Revision } from '../../../src/istio/rollback-latch.js';
import type { DestinationRule } from '../../../src/istio/types.js';
import { DEFAULT_LATCH_POLICY, type LatchTarget, type RevisionSource } from '../../../src/watcher/latch.js';
import { T0, evaluation, finding, harness } from './support/loop-harness.js';
import { http, virtualService } from './support/virtual-services.js';

const BREACH = evaluation('breached', finding('error-rate', 'breached', 0.2, 0.05));
const FAILED: Revision = { namespace: 'shop', workload: 'reviews-v2', podTemplateHash: 'abc123' };

class ScriptedRevisions implements RevisionSource {
  readonly asked: LatchTarget[] = [];
  constructor(private readonly answer: () => Promise<Revision[]>) {}
  revisionsOf(target: LatchTarget): Promise<Revision[]> {
    this.asked.push(target);
    return this.answer();
  }
}

function setup(revisions: RevisionSource, latch = DEFAULT_LATCH_POLICY) {
  const h = harness({ latch }, { revisions });
  h.cache.addNamespace('shop', true);
  const dr: DestinationRule = {
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: { host: 'reviews', subsets: [{ name: 'green', labels: { version: 'v1' } }, { name: 'blue', labels: { version: 'v2' } }] },
  };
  h.cache.addDestinationRule(dr);
  return h;
}

const latchOf = (h: ReturnType<typeof setup>) => parseLatch(h.store.current('shop', 'reviews').metadata.annotations?.[ROLLBACK_LATCH]);

describe('WatcherLoop: the rollback latch', () => {
  it('records the failed revision, when and why, on the VirtualService in the rollback patch', async () => {
    const source = new ScriptedRevisions(() => Promise.resolve([FAILED]));
    const h = setup(source);
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString(), [ROLLBACK_LATCH_ACK]: 'an earlier clear' }));
    h.evaluator.set('shop/reviews/v2', BREACH);
    const patchesBefore = h.store.patches.length;
    await h.loop.runCycle();
    expect(source.asked).toEqual([{ namespace: 'shop', service: 'reviews', subsetLabels: { version: 'v2' } }]);
    const latch = latchOf(h);
    expect(latch).toEqual({
      ok: true,
      entries: [{ at: new Date(T0).toISOString(), reason: expect.stringMatching(/error-rate/) as unknown, host: 'reviews.shop.svc.cluster.local', subset: 'blue', revisions: [FAILED] }],
    });
    const annotations = h.store.current('shop', 'reviews').metadata.annotations ?? {};
    expect(annotations[ROLLED_BACK_AT]).toBe(new Date(T0).toISOString());
    // An old acknowledgement must not stand beside a new latch.
    expect(annotations[ROLLBACK_LATCH_ACK]).toBeUndefined();
    // One write: the latch lands with the weights.
    expect(h.store.patches.length - patchesBefore).toBe(1);
  });

  it('latches the subset by name, and still rolls back, when the revisions cannot be read in time', async () => {
    const source = new ScriptedRevisions(() => new Promise(() => undefined));
    const h = setup(source, { ...DEFAULT_LATCH_POLICY, lookupTimeoutMs: 20 });
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set('shop/reviews/v2', BREACH);
    const report = await h.loop.runCycle();
    expect(report).toMatchObject({ rollbacks: 1 });
    expect(latchOf(h)).toMatchObject({ ok: true, entries: [{ subset: 'blue', revisions: [] }] });
  });

  it('records nothing when latching is off', async () => {
    const h = setup(new ScriptedRevisions(() => Promise.resolve([FAILED])), { ...DEFAULT_LATCH_POLICY, enabled: false });
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set('shop/reviews/v2', BREACH);
    await h.loop.runCycle();
    expect(h.store.current('shop', 'reviews').metadata.annotations?.[ROLLBACK_LATCH]).toBeUndefined();
  });

  it('keeps a latch without expiry, and removes it after expirySeconds with an Event', async () => {
    const entry = { at: new Date(T0 - 3_600_000).toISOString(), reason: 'error-rate', host: 'reviews.shop.svc.cluster.local', subset: 'blue', revisions: [FAILED] };
    const forever = setup(new ScriptedRevisions(() => Promise.resolve([])));
    forever.apply(virtualService(http('green:100 blue:0'), { [ROLLBACK_LATCH]: formatLatch([entry]) }));
    await forever.loop.runCycle();
    expect(latchOf(forever)).toMatchObject({ ok: true, entries: [entry] });

    const h = setup(new ScriptedRevisions(() => Promise.resolve([])), { ...DEFAULT_LATCH_POLICY, expirySeconds: 3600 });
    h.apply(virtualService(http('green:100 blue:0'), { [ROLLBACK_LATCH]: formatLatch([entry]) }));
    await h.loop.runCycle();
    const annotations = h.store.current('shop', 'reviews').metadata.annotations ?? {};
    expect(annotations[ROLLBACK_LATCH]).toBeUndefined();
    expect(annotations[ROLLBACK_LATCH_ACK]).toBe('expired after 3600 s (watcher)');
    expect(h.recorder.eventReasons()).toEqual(['RollbackLatchExpired']);
  });
});

describe('WatcherLoop: never rolls back onto a stable subset without Ready pods', () => {
  const ready = (answer: () => Promise<{ ready: number; total: number }>) => ({ readyPods: answer });
  function withStable(answer: () => Promise<{ ready: number; total: number }>) {
    const h = harness({}, { revisions: new ScriptedRevisions(() => Promise.resolve([FAILED])), readyPods: ready(answer) });
    h.cache.addNamespace('shop', true);
    h.cache.addDestinationRule({
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'shop' },
      spec: { host: 'reviews', subsets: [{ name: 'green', labels: { version: 'v1' } }, { name: 'blue', labels: { version: 'v2' } }] },
    });
    h.apply(virtualService(http('green:0 blue:100'), { [CUTOVER_STARTED_AT]: new Date(T0 - 60_000).toISOString() }));
    h.evaluator.set('shop/reviews/v2', BREACH);
    return h;
  }

  it('leaves the weights alone, records RollbackBlocked and alerts critical with what to do', async () => {
    const h = withStable(() => Promise.resolve({ ready: 0, total: 2 }));
    const report = await h.loop.runCycle();
    expect(report).toMatchObject({ rollbacks: 0 });
    expect(h.store.weightPatches()).toEqual([]);
    expect(h.recorder.eventReasons()).toContain('RollbackBlocked');
    const alert = h.recorder.alerts.find((a) => a.labels.alertname === 'BlueGreenGuardRollbackFailed');
    expect(alert?.labels.severity).toBe('critical');
    expect(alert?.annotations.patch_result).toMatch(/stable subset green has no Ready pod \(2 pods behind Service shop\/reviews with version=v1\)/);
  });

  it('rolls back when some stable pod is Ready, or when the count cannot be read', async () => {
    const some = withStable(() => Promise.resolve({ ready: 1, total: 2 }));
    expect(await some.loop.runCycle()).toMatchObject({ rollbacks: 1 });
    const unknown = withStable(() => Promise.reject(new Error('HTTP 503')));
    expect(await unknown.loop.runCycle()).toMatchObject({ rollbacks: 1 });
  });
});

describe('WatcherLoop: the smoke test before traffic', () => {
  function idle(run: (url: string) => 'passed' | 'failed') {
    const urls: string[] = [];
    const h = harness(
      { smokeTest: { url: 'http://{{service}}-{{version}}.{{namespace}}.svc/healthz', expectedStatus: 200, timeoutMs: 1000 } },
      {
        revisions: new ScriptedRevisions(() => Promise.resolve([FAILED])),
        smokeRunner: (spec) => {
          urls.push(spec.url);
          const outcome = run(spec.url);
          return Promise.resolve({ outcome, url: spec.url, expectedStatus: 200, httpStatus: outcome === 'passed' ? 200 : 503, durationMs: 3, message: `GET ${spec.url} answered ${outcome === 'passed' ? 200 : 503}` });
        },
      },
    );
    h.cache.addNamespace('shop', true);
    h.cache.addDestinationRule({
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: 'shop' },
      spec: { host: 'reviews', subsets: [{ name: 'green', labels: { version: 'v1' } }, { name: 'blue', labels: { version: 'v2' } }] },
    });
    h.apply(virtualService(http('green:100 blue:0')));
    return { h, urls };
  }
  const smokeOf = (h: ReturnType<typeof idle>['h']) => JSON.parse(h.store.current('shop', 'reviews').metadata.annotations?.[SMOKE_RESULT] ?? '[]') as unknown;

  it('tests the candidate at 0 % and records the outcome with the revision tested', async () => {
    const { h, urls } = idle(() => 'passed');
    await h.loop.runCycle();
    expect(urls).toEqual(['http://reviews-v2.shop.svc/healthz']);
    expect(smokeOf(h)).toEqual([{ subset: 'blue', version: 'v2', revisions: ['shop/reviews-v2@abc123'], outcome: 'passed', at: new Date(T0).toISOString(), url: 'http://reviews-v2.shop.svc/healthz', message: 'GET http://reviews-v2.shop.svc/healthz answered 200' }]);
  });

  it('runs again at most once a minute and writes only a change', async () => {
    let outcome: 'passed' | 'failed' = 'passed';
    const { h, urls } = idle(() => outcome);
    const smokeWrites = () => h.store.patches.filter((p) => JSON.stringify(p.ops).includes('smoke-result')).length;
    await h.loop.runCycle();
    h.cache.sync();
    const patches = smokeWrites();
    h.clock.advance(15);
    await h.loop.runCycle();
    expect(urls).toHaveLength(1);
    h.clock.advance(60);
    await h.loop.runCycle();
    expect(urls).toHaveLength(2);
    expect(smokeWrites()).toBe(patches);
    outcome = 'failed';
    h.cache.sync(); // the watch cache has caught up with the cutover report's 0 % record
    h.clock.advance(60);
    await h.loop.runCycle();
    expect(smokeOf(h)).toMatchObject([{ outcome: 'failed' }]);
  });

  it('does not run while the candidate has traffic', async () => {
    const { h, urls } = idle(() => 'passed');
    h.apply(virtualService(http('green:90 blue:10'), { [CUTOVER_STARTED_AT]: new Date(T0).toISOString() }));
    h.evaluator.set('shop/reviews/v2', evaluation('healthy'));
    await h.loop.runCycle();
    expect(urls).toEqual([]);
  });
});
