// The plain-HTTP port both processes serve `/metrics`, `/live` and `/ready`
// on, apart from any admission traffic: scraping needs no TLS and never
// queues behind reviews.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { healthResponse, type Readiness } from './health.js';

/** `/metrics`, `/live` and `/ready` over plain HTTP. */
export function createMetricsServer(registry: Registry, readiness: Readiness): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        (e: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`collecting metrics failed: ${e instanceof Error ? e.message : String(e)}\n`);
        },
      );
      return;
    }
    const health = req.method === 'GET' && path ? healthResponse(path, readiness) : undefined;
    if (health) {
      res.writeHead(health.status, { 'Content-Type': 'application/json' });
      res.end(health.body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: this port serves /metrics, /live and /ready\n');
  });
}
