import { describe, expect, it } from '@jest/globals';
import type { MetricsSource, Sample } from '../../src/prometheus/metrics-source.js';
import { PrometheusScrapeStatus } from '../../src/webhook/prometheus-scrape-status.js';
import { PrometheusScrapeReader } from '../../src/webhook/scrape-reader.js';

/** A MetricsSource that answers the `up` query with the next prepared answer (or fails when it is an Error). */
function answers(...replies: Array<Sample[] | Error>): MetricsSource & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    instantQuery: (promql) => {
      queries.push(promql);
      const reply = replies.shift();
      if (reply === undefined) throw new Error('no more answers prepared');
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
    },
    rangeQuery: () => Promise.reject(new Error('not used')),
  };
}

const up = (namespace: string, pod: string, value: number): Sample => ({ labels: { namespace, pod }, value });

describe('PrometheusScrapeReader: each refresh as the change since the previous answer', () => {
  it('answers in full first, then only the pods that appeared, changed or went away', async () => {
    const source = answers(
      [up('shop', 'a', 1), up('shop', 'b', 1), up('shop', 'c', 0)],
      [up('shop', 'a', 1), up('shop', 'b', 0), up('shop', 'd', 1)],
      [up('shop', 'a', 1), up('shop', 'b', 0), up('shop', 'd', 1)],
    );
    const reader = new PrometheusScrapeReader(source);
    expect(await reader.read(1_000)).toEqual({ full: true, set: [['shop/a', 1], ['shop/b', 1], ['shop/c', 0]], removed: [], pods: 3 });
    expect(await reader.read(2_000)).toEqual({ full: false, set: [['shop/b', 0], ['shop/d', 1]], removed: ['shop/c'], pods: 3 });
    expect(await reader.read(3_000)).toEqual({ full: false, set: [], removed: [], pods: 3 });
    expect(source.queries).toEqual(Array(3).fill('max by (namespace, pod) (up)'));
  });

  it('keeps the largest up of a pod with several targets, and skips series without the pod labels', async () => {
    const reader = new PrometheusScrapeReader(answers([up('shop', 'a', 0), up('shop', 'a', 1), { labels: { job: 'node' }, value: 1 }]));
    expect(await reader.read(1_000)).toEqual({ full: true, set: [['shop/a', 1]], removed: [], pods: 1 });
  });

  it('a failed refresh changes nothing: the next change is counted from the last answer', async () => {
    const reader = new PrometheusScrapeReader(answers([up('shop', 'a', 1)], new Error('Prometheus could not be reached'), [up('shop', 'a', 1), up('shop', 'b', 1)]));
    await reader.read(1_000);
    await expect(reader.read(2_000)).rejects.toThrow('could not be reached');
    expect(await reader.read(3_000)).toEqual({ full: false, set: [['shop/b', 1]], removed: [], pods: 2 });
  });
});

describe('PrometheusScrapeStatus applies the changes to its cache', () => {
  it('adds, updates and removes pods as the answers change, and a full answer replaces the cache', async () => {
    const deltas = [
      { full: true, set: [['shop/a', 1], ['shop/c', 1]] as Array<[string, number]>, removed: [], pods: 2 },
      { full: false, set: [['shop/a', 0], ['shop/b', 1]] as Array<[string, number]>, removed: ['shop/c'], pods: 2 },
      { full: true, set: [['shop/c', 1]] as Array<[string, number]>, removed: [], pods: 1 },
    ];
    const refreshes: number[] = [];
    const status = new PrometheusScrapeStatus({
      source: { read: () => Promise.resolve(deltas.shift() ?? Promise.reject(new Error('done'))), close: () => Promise.resolve() },
      onRefresh: (o) => refreshes.push(o.ok ? o.pods : -1),
    });
    await status.refresh();
    expect([status.podScraped('shop', 'a'), status.podScraped('shop', 'b'), status.podScraped('shop', 'c')]).toEqual([true, false, true]);
    await status.refresh();
    expect([status.podScraped('shop', 'a'), status.podScraped('shop', 'b'), status.podScraped('shop', 'c')]).toEqual([false, true, false]);
    await status.refresh(); // a reader that restarted answers in full: what it no longer lists is gone
    expect([status.podScraped('shop', 'a'), status.podScraped('shop', 'b'), status.podScraped('shop', 'c')]).toEqual([false, false, true]);
    expect(refreshes).toEqual([2, 2, 1]);
  });
});
