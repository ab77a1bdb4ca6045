// List and watch over plain node:https, authenticated by a KubeAccess (a
// kubeconfig file or the pod's ServiceAccount: ./kube-access.ts). Raw JSON goes
// straight to the cache's slimmer: no typed model objects are built for the
// 20,000 pods a large cluster holds.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeAccess, KubeRequestOptions } from './kube-access.js';
import type { Json, ListPage, ListWatchClient, WatchEnd, WatchEvent, WatchHandle } from './watch-cache.js';

export class KubeListWatchClient implements ListWatchClient {
  constructor(private readonly access: KubeAccess) {}

  async list(path: string, options: { limit: number; continueToken?: string; signal: AbortSignal }): Promise<ListPage> {
    const query: Record<string, string> = { limit: String(options.limit) };
    if (options.continueToken) query.continue = options.continueToken;
    const { url, requestOptions } = await this.prepare(path, query);
    const res = await send(url, { ...requestOptions, signal: options.signal });
    const text = await readText(res);
    if (res.statusCode !== 200) throw statusError('list', url, res.statusCode, text);
    const body = JSON.parse(text) as { items?: Json[]; metadata?: { resourceVersion?: string; continue?: string } };
    const page: ListPage = { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? '' };
    if (body.metadata?.continue) page.continueToken = body.metadata.continue;
    return page;
  }

  watch(path: string, options: { resourceVersion: string; timeoutSeconds: number }, onEvent: (event: WatchEvent) => void): WatchHandle {
    const controller = new AbortController();
    const ended = this.runWatch(path, options, onEvent, controller.signal);
    return { ended, abort: () => controller.abort() };
  }

  private async runWatch(
    path: string,
    options: { resourceVersion: string; timeoutSeconds: number },
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<WatchEnd> {
    try {
      const { url, requestOptions } = await this.prepare(path, {
        watch: 'true',
        allowWatchBookmarks: 'true',
        resourceVersion: options.resourceVersion,
        timeoutSeconds: String(options.timeoutSeconds),
      });
      const res = await send(url, { ...requestOptions, signal });
      if (res.statusCode !== 200) {
        const text = await readText(res);
        return { statusCode: res.statusCode ?? 0, error: statusError('watch', url, res.statusCode, text) };
      }
      return await new Promise<WatchEnd>((resolve) => {
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (line.trim() === '') continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (e) {
              res.destroy(new Error(`watch ${url.pathname} sent a line that is not a JSON event: ${(e as Error).message}`));
              return;
            }
          }
        });
        res.on('end', () => resolve({}));
        res.on('error', (error) => resolve({ error }));
        res.on('close', () => resolve(res.complete ? {} : { error: new Error(`watch ${url.pathname} connection closed early`) }));
      });
    } catch (e) {
      return { error: e as Error };
    }
  }

  private async prepare(path: string, query: Record<string, string>): Promise<{ url: URL; requestOptions: RequestOptions }> {
    const url = new URL(this.access.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const requestOptions: KubeRequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    // Per request: token files (in-cluster ServiceAccount tokens) are re-read when they rotate.
    await this.access.apply(requestOptions);
    return { url, requestOptions };
  }
}

function send(url: URL, options: RequestOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(url, options, resolve);
    req.on('error', reject);
    req.setSocketKeepAlive(true, 30_000);
    req.end();
  });
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

class ApiStatusError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

function statusError(verb: string, url: URL, statusCode: number | undefined, body: string): ApiStatusError {
  let reason = body.slice(0, 300);
  try {
    reason = (JSON.parse(body) as { message?: string }).message ?? reason;
  } catch {
    // not a Status object; keep the raw text
  }
  const hint =
    statusCode === 403 ? ': grant the webhook list and watch on this resource (RBAC)' : statusCode === 404 ? ': is the CRD installed, at this version?' : '';
  return new ApiStatusError(`${verb} ${url.pathname} failed with HTTP ${statusCode ?? '?'}: ${reason}${hint}`, statusCode ?? 0);
}
