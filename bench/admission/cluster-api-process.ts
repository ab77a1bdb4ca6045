// What the webhook talks to in the admission benchmark, in its own process so
// that none of it counts in the webhook's memory or CPU: the Kubernetes API's
// list and watch for the generated cluster (JSON pages with limit/continue,
// watches that send bookmarks and end at their timeoutSeconds), and the one
// Prometheus query the webhook makes in the background, `up` per pod, with
// every pod scraped. Requests are counted by kind, so the benchmark can show
// what the webhook asked while it was under load.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { childInput, serveParent } from '../lib/bench-child.js';
import type { ClusterShape } from '../lib/cluster-fixture.js';
import { BOOKMARK_INTERVAL_MS, FixturePages, podKeys, RESOURCE_VERSION } from '../lib/fixture-client.js';

export interface ClusterApiCounts {
  lists: number;
  watches: number;
  prometheusQueries: number;
  other: number;
}

function main(): void {
  const { shape } = childInput<{ shape: ClusterShape }>();
  const pages = new FixturePages(shape);
  const counts: ClusterApiCounts = { lists: 0, watches: 0, prometheusQueries: 0, other: 0 };
  const upAnswer = JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: podKeys(shape).map((p) => ({ metric: { namespace: p.namespace, pod: p.pod }, value: [Date.now() / 1000, '1'] })) },
  });

  const json = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/api/v1/query' || url.pathname === '/api/v1/query_range') {
      counts.prometheusQueries++;
      req.resume();
      req.on('end', () => json(res, 200, upAnswer));
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      counts.watches++;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      const resourceVersion = url.searchParams.get('resourceVersion') || RESOURCE_VERSION;
      const bookmarks = setInterval(() => res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Bookmark', apiVersion: 'v1', metadata: { resourceVersion } } })}\n`), BOOKMARK_INTERVAL_MS);
      const timeout = setTimeout(() => res.end(), Number(url.searchParams.get('timeoutSeconds') ?? '300') * 1000);
      res.on('close', () => {
        clearInterval(bookmarks);
        clearTimeout(timeout);
      });
      return;
    }
    try {
      const page = pages.page(url.pathname, Number(url.searchParams.get('limit') ?? '500'), url.searchParams.get('continue') ?? undefined);
      counts.lists++;
      json(res, 200, JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: RESOURCE_VERSION, ...(page.continueToken ? { continue: page.continueToken } : {}) }, items: page.items }));
    } catch (e) {
      counts.other++;
      json(res, 404, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: (e as Error).message, reason: 'NotFound', code: 404 }));
    }
  });
  server.keepAliveTimeout = 120_000;
  server.listen(0, '127.0.0.1', () => {
    serveParent({ port: (server.address() as AddressInfo).port }, { counts: () => ({ ...counts }) }, () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
  });
}

main();
