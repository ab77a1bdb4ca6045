import { afterEach, describe, expect, it } from '@jest/globals';
import { MemoryClusterState } from '../../src/cluster/memory-cluster-state.js';
import { ClusterCache } from '../../src/cluster/cluster-cache.js';
import { slimPod } from '../../src/cluster/slim.js';
import { WatchCache, type Json, type ListPage, type ListWatchClient, type WatchEnd, type WatchEvent, type WatchHandle } from '../../src/cluster/watch-cache.js';

// A fake API server behind the cache's own port: objects per collection path,
// paginated lists, watches the test drives by hand.

interface FakeWatch {
  path: string;
  resourceVersion: string;
  timeoutSeconds: number;
  emit(event: WatchEvent): void;
  end(result?: WatchEnd): void;
  aborted: boolean;
  ended: boolean;
}

class FakeApi implements ListWatchClient {
  rv = 100;
  readonly collections = new Map<string, Map<string, Json>>();
  readonly lists: { path: string; continueToken?: string }[] = [];
  readonly watches: FakeWatch[] = [];
  failLists = 0;
  holdLists: Promise<void> | undefined;

  put(path: string, obj: Json): Json {
    const meta = obj.metadata as { name: string; namespace?: string; resourceVersion?: string };
    meta.resourceVersion = String(++this.rv);
    let c = this.collections.get(path);
    if (!c) this.collections.set(path, (c = new Map<string, Json>()));
    c.set(`${meta.namespace ?? ''}/${meta.name}`, obj);
    return obj;
  }

  drop(path: string, namespace: string, name: string): void {
    this.collections.get(path)?.delete(`${namespace}/${name}`);
    this.rv++;
  }

  async list(path: string, options: { limit: number; continueToken?: string; signal: AbortSignal }): Promise<ListPage> {
    this.lists.push({ path, ...(options.continueToken ? { continueToken: options.continueToken } : {}) });
    if (this.holdLists) {
      const { signal } = options;
      await Promise.race([this.holdLists, new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))]);
    }
    if (this.failLists > 0) {
      this.failLists--;
      throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    }
    const all = [...(this.collections.get(path)?.values() ?? [])];
    const start = Number(options.continueToken ?? 0);
    const items = all.slice(start, start + options.limit).map((o) => ({ ...o, kind: undefined }));
    const page: ListPage = { items, resourceVersion: String(this.rv) };
    if (start + options.limit < all.length) page.continueToken = String(start + options.limit);
    return page;
  }

  watch(path: string, options: { resourceVersion: string; timeoutSeconds: number }, onEvent: (event: WatchEvent) => void): WatchHandle {
    let resolveEnded!: (end: WatchEnd) => void;
    const ended = new Promise<WatchEnd>((r) => (resolveEnded = r));
    const w: FakeWatch = {
      path,
      ...options,
      aborted: false,
      ended: false,
      emit: (event) => {
        if (!w.ended) onEvent(event);
      },
      end: (result = {}) => {
        if (w.ended) return;
        w.ended = true;
        resolveEnded(result);
      },
    };
    this.watches.push(w);
    return {
      ended,
      abort: () => {
        w.aborted = true;
        w.end({ error: new Error('aborted') });
      },
    };
  }

  lastWatch(path?: string): FakeWatch {
    const w = [...this.watches].reverse().find((x) => path === undefined || x.path === path);
    if (!w) throw new Error(`no watch on ${path ?? 'any path'} yet`);
    return w;
  }
}

async function eventually<T>(probe: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const silent = { info: () => undefined, warn: () => undefined };
const PODS = '/api/v1/pods';

function pod(namespace: string, name: string, version = 'v1'): Json {
  return {
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'web', version } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

const podNames = (state: MemoryClusterState, ns = 'shop') => state.pods(ns).map((p) => p.metadata.name).sort();

describe('WatchCache', () => {
  const running: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  function podCache(api: FakeApi, state: MemoryClusterState, extra: Partial<ConstructorParameters<typeof WatchCache>[0]> = {}): WatchCache {
    const cache = new WatchCache({
      kind: 'Pod',
      path: PODS,
      slim: (raw) => slimPod({ ...raw, kind: 'Pod' }),
      client: api,
      sink: state,
      log: silent,
      pageSize: 2,
      backoffInitialMs: 5,
      backoffMaxMs: 20,
      ...extra,
    });
    running.push(cache);
    cache.start();
    return cache;
  }

  it('lists every page, then watches from the list resourceVersion', async () => {
    const api = new FakeApi();
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.put(PODS, pod('shop', n));
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    expect(podNames(state)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(api.lists.map((l) => l.continueToken)).toEqual([undefined, '2', '4']);
    expect(cache.stats).toEqual({ synced: true, objects: 5, relists: 1, watchRestarts: 0 });
    const w = await eventually(() => api.watches[0], 'a watch');
    expect(w.resourceVersion).toBe(String(api.rv));
    expect(w.timeoutSeconds).toBeGreaterThan(0);
  });

  it('applies added, modified and deleted events', async () => {
    const api = new FakeApi();
    api.put(PODS, pod('shop', 'a'));
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    const w = await eventually(() => api.watches[0], 'a watch');
    w.emit({ type: 'ADDED', object: api.put(PODS, pod('shop', 'b')) });
    w.emit({ type: 'MODIFIED', object: api.put(PODS, pod('shop', 'a', 'v2')) });
    expect(podNames(state)).toEqual(['a', 'b']);
    expect(state.pods('shop').find((p) => p.metadata.name === 'a')?.metadata.labels?.version).toBe('v2');
    w.emit({ type: 'DELETED', object: pod('shop', 'b') });
    expect(podNames(state)).toEqual(['a']);
    expect(cache.stats.objects).toBe(1);
  });

  it('resumes a watch the server closed from the last resourceVersion, without listing again', async () => {
    const api = new FakeApi();
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    const w1 = await eventually(() => api.watches[0], 'first watch');
    const added = api.put(PODS, pod('shop', 'x'));
    w1.emit({ type: 'ADDED', object: added });
    w1.emit({ type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: '777' } } });
    w1.end();
    const w2 = await eventually(() => api.watches[1], 'second watch');
    expect(w2.resourceVersion).toBe('777');
    expect(api.lists).toHaveLength(1);
    expect(cache.stats.relists).toBe(1);
    expect(podNames(state)).toEqual(['x']);
  });

  it('relists after a failed watch and replaces what it held', async () => {
    const api = new FakeApi();
    api.put(PODS, pod('shop', 'old-1'));
    api.put(PODS, pod('shop', 'old-2'));
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    const w1 = await eventually(() => api.watches[0], 'first watch');
    // While the connection is broken, the cluster changes.
    api.drop(PODS, 'shop', 'old-1');
    api.put(PODS, pod('shop', 'new-1'));
    w1.end({ error: new Error('socket hang up') });
    await eventually(() => cache.stats.relists === 2, 'a relist');
    expect(podNames(state)).toEqual(['new-1', 'old-2']);
    expect(cache.stats).toMatchObject({ objects: 2, relists: 2, watchRestarts: 1 });
    const w2 = await eventually(() => api.watches[1], 'a new watch');
    expect(w2.resourceVersion).toBe(String(api.rv));
  });

  it.each<[string, (w: FakeWatch) => void]>([
    ['an ERROR event with 410 Gone', (w) => w.emit({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })],
    ['a watch refused with HTTP 410', (w) => w.end({ statusCode: 410, error: new Error('Gone') })],
    ['an HTTP 500', (w) => w.end({ statusCode: 500, error: new Error('Internal Server Error') })],
  ])('relists after %s', async (_name, breakIt) => {
    const api = new FakeApi();
    api.put(PODS, pod('shop', 'a'));
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    breakIt(await eventually(() => api.watches[0], 'first watch'));
    await eventually(() => api.watches[1], 'a new watch');
    expect(api.lists).toHaveLength(2);
    expect(cache.stats.watchRestarts).toBe(1);
    expect(podNames(state)).toEqual(['a']);
  });

  it('restarts a watch that stalls and relists', async () => {
    const api = new FakeApi();
    api.put(PODS, pod('shop', 'a'));
    const state = new MemoryClusterState();
    const cache = podCache(api, state, { stallMs: 50 });
    await cache.synced;
    const w1 = await eventually(() => api.watches[0], 'first watch');
    await eventually(() => w1.aborted, 'the stalled watch aborted');
    await eventually(() => api.watches[1], 'a new watch');
    expect(api.lists).toHaveLength(2);
    expect(cache.stats.watchRestarts).toBeGreaterThanOrEqual(1);
  });

  it('keeps the previous contents visible while a relist is in flight', async () => {
    const api = new FakeApi();
    api.put(PODS, pod('shop', 'a'));
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    let release!: () => void;
    api.holdLists = new Promise((r) => (release = r));
    api.drop(PODS, 'shop', 'a');
    api.put(PODS, pod('shop', 'b'));
    (await eventually(() => api.watches[0], 'first watch')).end({ error: new Error('reset') });
    await eventually(() => api.lists.length === 2, 'the relist to start');
    expect(podNames(state)).toEqual(['a']);
    release();
    await eventually(() => cache.stats.relists === 2, 'the relist to finish');
    expect(podNames(state)).toEqual(['b']);
  });

  it('retries a failing first list with backoff and is synced only after it succeeds', async () => {
    const api = new FakeApi();
    api.put(PODS, pod('shop', 'a'));
    api.failLists = 3;
    const warnings: object[] = [];
    const state = new MemoryClusterState();
    const cache = podCache(api, state, { log: { info: () => undefined, warn: (f) => warnings.push(f) } });
    expect(cache.stats.synced).toBe(false);
    await cache.synced;
    expect(api.lists).toHaveLength(4);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatchObject({ kind: 'Pod', err: 'connect ECONNREFUSED 127.0.0.1:6443' });
    expect(podNames(state)).toEqual(['a']);
  });

  it('stops watching when stopped', async () => {
    const api = new FakeApi();
    const state = new MemoryClusterState();
    const cache = podCache(api, state);
    await cache.synced;
    const w = await eventually(() => api.watches[0], 'a watch');
    await cache.stop();
    expect(w.aborted).toBe(true);
    expect(api.watches).toHaveLength(1);
  });
});

describe('ClusterCache', () => {
  const running: ClusterCache[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });
  const tuning = { backoffInitialMs: 5, backoffMaxMs: 20 };

  it('watches every kind cluster-wide and is ready once all have synced', async () => {
    const api = new FakeApi();
    api.holdLists = new Promise(() => undefined);
    const state = new MemoryClusterState();
    const cache = new ClusterCache({ client: api, sink: state, log: silent, scope: 'cluster', rootNamespace: 'istio-system', tuning });
    running.push(cache);
    cache.start();
    await eventually(() => api.lists.length === 8, 'eight lists');
    expect(api.lists.map((l) => l.path).sort()).toEqual([
      '/api/v1/namespaces',
      '/api/v1/pods',
      '/api/v1/services',
      '/apis/apps/v1/deployments',
      '/apis/apps/v1/replicasets',
      '/apis/batch/v1/jobs',
      '/apis/networking.istio.io/v1/destinationrules',
      '/apis/networking.istio.io/v1/virtualservices',
    ]);
    expect(cache.notReady().sort()).toEqual(['Deployment', 'DestinationRule', 'Job', 'Namespace', 'Pod', 'ReplicaSet', 'Service', 'VirtualService']);
    expect(cache.isSynced).toBe(false);
  });

  it('names the kinds still waiting, and becomes ready when they sync', async () => {
    const api = new FakeApi();
    api.put('/apis/networking.istio.io/v1/destinationrules', { kind: 'DestinationRule', metadata: { name: 'web', namespace: 'shop' }, spec: { host: 'web' } });
    const state = new MemoryClusterState();
    const cache = new ClusterCache({ client: api, sink: state, log: silent, scope: 'cluster', rootNamespace: 'istio-system', tuning });
    running.push(cache);
    cache.start();
    await cache.synced();
    expect(cache.notReady()).toEqual([]);
    expect(state.destinationRules('shop').map((d) => d.kind)).toEqual(['DestinationRule']);
    expect(cache.kinds().find((k) => k.kind === 'DestinationRule')).toEqual({ kind: 'DestinationRule', synced: true, objects: 1, relists: 1, watchRestarts: 0 });
  });

  it('in guarded-namespaces scope caches guarded namespaces and the root namespace DestinationRules, following label changes', async () => {
    const api = new FakeApi();
    const ns = (name: string, guarded: boolean): Json => ({
      kind: 'Namespace',
      metadata: { name, labels: guarded ? { 'bluegreen-guard.io/guard': 'enabled' } : {} },
    });
    api.put('/api/v1/namespaces', ns('shop', true));
    api.put('/api/v1/namespaces', ns('billing', false));
    api.put('/api/v1/namespaces/billing/pods', pod('billing', 'bill-1'));
    api.put('/api/v1/namespaces/shop/pods', pod('shop', 'web-1'));
    const state = new MemoryClusterState();
    const cache = new ClusterCache({ client: api, sink: state, log: silent, scope: 'guarded-namespaces', rootNamespace: 'istio-system', tuning });
    running.push(cache);
    cache.start();
    await cache.synced();
    expect(cache.watchedNamespaces()).toEqual(['istio-system', 'shop']);
    expect(cache.notReady()).toEqual([]);
    const paths = new Set(api.lists.map((l) => l.path));
    expect(paths).toContain('/apis/networking.istio.io/v1/namespaces/istio-system/destinationrules');
    expect(paths).not.toContain('/api/v1/namespaces/istio-system/pods');
    expect(paths).toContain('/api/v1/namespaces/shop/pods');
    expect(podNames(state, 'shop')).toEqual(['web-1']);
    expect(podNames(state, 'billing')).toEqual([]);

    // billing opts in, shop opts out.
    const nsWatch = await eventually(() => api.watches.find((w) => w.path === '/api/v1/namespaces'), 'the namespace watch');
    nsWatch.emit({ type: 'MODIFIED', object: api.put('/api/v1/namespaces', ns('billing', true)) });
    nsWatch.emit({ type: 'MODIFIED', object: api.put('/api/v1/namespaces', ns('shop', false)) });
    expect(cache.watchedNamespaces()).toEqual(['billing', 'istio-system']);
    await cache.synced();
    expect(podNames(state, 'billing')).toEqual(['bill-1']);
    expect(podNames(state, 'shop')).toEqual([]);
    expect(state.namespace('shop')?.metadata.labels).toEqual(undefined);
  });
});
