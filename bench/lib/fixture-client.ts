// A ListWatchClient (the watch caches' port to the API server) that serves the
// generated cluster: pages of JSON text parsed the way the real client parses
// a response body, then watches that send only bookmarks, as a quiet API
// server does. Every call is counted, so a test can tell cache sync from
// anything that happens afterwards.
import type { Json, ListPage, ListWatchClient, WatchEvent, WatchHandle } from '../../src/cluster/watch-cache.js';
import { clusterObjects, type ClusterShape, type FixtureKind } from './cluster-fixture.js';

const KIND_OF_PLURAL: Record<string, FixtureKind> = {
  namespaces: 'Namespace',
  services: 'Service',
  virtualservices: 'VirtualService',
  destinationrules: 'DestinationRule',
  deployments: 'Deployment',
  replicasets: 'ReplicaSet',
  pods: 'Pod',
  jobs: 'Job',
};

export interface ClientCall {
  method: 'list' | 'watch';
  path: string;
}

export const RESOURCE_VERSION = '900000';
/** A quiet API server sends a bookmark about once a minute; the caches treat a silent watch as stalled. */
export const BOOKMARK_INTERVAL_MS = 30_000;

export interface FixtureClientOptions {
  bookmarkIntervalMs?: number;
}

/** The generated cluster served in pages, as a list with `limit` and `continue` is. */
export class FixturePages {
  private readonly cursors = new Map<string, { items: Generator<Json>; next: IteratorResult<Json> }>();
  private tokens = 0;

  constructor(private readonly shape: ClusterShape) {}

  /** Throws for a path the generated cluster does not serve. */
  page(path: string, limit: number, continueToken: string | undefined): { items: Json[]; continueToken?: string } {
    let cursor = continueToken ? this.cursors.get(continueToken) : undefined;
    if (continueToken) {
      if (!cursor) throw new Error(`continue token ${continueToken} is unknown or used`);
      this.cursors.delete(continueToken);
    }
    if (!cursor) {
      const items = this.objects(path);
      cursor = { items, next: items.next() };
    }
    const items: Json[] = [];
    while (!cursor.next.done && items.length < limit) {
      items.push(cursor.next.value);
      cursor.next = cursor.items.next();
    }
    if (cursor.next.done) return { items };
    const token = `page-${++this.tokens}`;
    this.cursors.set(token, cursor);
    return { items, continueToken: token };
  }

  private objects(path: string): Generator<Json> {
    const m = /^\/apis?\/(?:[^/]+\/)?v[^/]+\/(?:namespaces\/([^/]+)\/)?([a-z]+)$/.exec(path);
    const kind = m ? KIND_OF_PLURAL[m[2] ?? ''] : undefined;
    if (!m || !kind) throw new Error(`the benchmark cluster does not serve ${path}`);
    const namespace = m[1];
    const all = clusterObjects(this.shape, kind);
    if (!namespace) return all;
    return (function* () {
      for (const o of all) if ((o.metadata as { namespace?: string }).namespace === namespace) yield o;
    })();
  }
}

/** Every pod of the generated cluster: `namespace/name`. */
export function podKeys(shape: ClusterShape): Array<{ namespace: string; pod: string }> {
  const out: Array<{ namespace: string; pod: string }> = [];
  for (const p of clusterObjects(shape, 'Pod')) {
    const meta = p.metadata as { namespace: string; name: string };
    out.push({ namespace: meta.namespace, pod: meta.name });
  }
  return out;
}

export class FixtureListWatchClient implements ListWatchClient {
  readonly calls: ClientCall[] = [];
  private readonly pages: FixturePages;
  private readonly resourceVersion = RESOURCE_VERSION;

  constructor(
    shape: ClusterShape,
    private readonly options: FixtureClientOptions = {},
  ) {
    this.pages = new FixturePages(shape);
  }

  list(path: string, options: { limit: number; continueToken?: string; signal: AbortSignal }): Promise<ListPage> {
    this.calls.push({ method: 'list', path });
    const page = this.pages.page(path, options.limit, options.continueToken);
    // As the real client does: the response body is JSON text, parsed into fresh objects.
    const result: ListPage = { items: JSON.parse(JSON.stringify(page.items)) as Json[], resourceVersion: this.resourceVersion };
    if (page.continueToken) result.continueToken = page.continueToken;
    return Promise.resolve(result);
  }

  watch(path: string, options: { resourceVersion: string; timeoutSeconds: number }, onEvent: (event: WatchEvent) => void): WatchHandle {
    this.calls.push({ method: 'watch', path });
    let finish: () => void = () => {};
    const ended = new Promise<{ error?: Error; statusCode?: number }>((resolve) => (finish = () => resolve({})));
    const bookmarks = setInterval(() => onEvent({ type: 'BOOKMARK', object: { kind: 'Bookmark', metadata: { resourceVersion: options.resourceVersion } } }), this.options.bookmarkIntervalMs ?? BOOKMARK_INTERVAL_MS);
    const timeout = setTimeout(() => stop(), options.timeoutSeconds * 1000);
    bookmarks.unref();
    timeout.unref();
    const stop = (): void => {
      clearInterval(bookmarks);
      clearTimeout(timeout);
      finish();
    };
    return { ended, abort: stop };
  }
}
