// A small HTTPS client for the test API server: status codes stay visible
// (409, 415, 422 are what several tests are about), content types are the
// caller's choice (JSON Patch, merge patch, strategic merge patch), and watches
// are plain streams. Tests of the product's own Kubernetes adapters use those
// adapters; this client only sets the scene and checks the outcome.
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

export interface KubeApiOptions {
  /** `https://127.0.0.1:PORT` */
  server: string;
  /** PEM bundle the API server's serving certificate chains to. */
  caPem: string;
  token: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  body?: unknown;
  /** Defaults to application/json when there is a body. */
  contentType?: string;
  query?: Query;
  timeoutMs?: number;
}

export interface KubeResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or undefined when the response was not JSON. */
  body: T;
  text: string;
}

/** Any Kubernetes object, as far as the test support needs to know. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchOptions<T> {
  resourceVersion?: string;
  /** Extra query parameters: fieldSelector, labelSelector, timeoutSeconds. */
  query?: Query;
  onEvent: (event: WatchEvent<T>) => void;
  signal?: AbortSignal;
}

export const PATCH = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategicMerge: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'CustomResourceDefinition',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ClusterRole',
  'ClusterRoleBinding',
  'APIService',
]);

const PLURALS: Record<string, string> = {
  Endpoints: 'endpoints',
  Ingress: 'ingresses',
  ServiceEntry: 'serviceentries',
  NetworkPolicy: 'networkpolicies',
  PodDisruptionBudget: 'poddisruptionbudgets',
};

/** The plural resource name the API server uses for a kind. */
export function pluralOf(kind: string): string {
  const known = PLURALS[kind];
  if (known) return known;
  const lower = kind.toLowerCase();
  if (lower.endsWith('y')) return `${lower.slice(0, -1)}ies`;
  if (lower.endsWith('s')) return `${lower}es`;
  return `${lower}s`;
}

/** `/api/v1/namespaces/ns/pods/name/status` and the like. */
export function resourcePath(
  apiVersion: string,
  kind: string,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  const scope = CLUSTER_SCOPED.has(kind) || namespace === undefined ? '' : `/namespaces/${namespace}`;
  let path = `${base}${scope}/${pluralOf(kind)}`;
  if (name !== undefined) path += `/${name}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

/** Enough of an object to find it: apiVersion, kind, namespace and name. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export function objectPath(object: ObjectRef, subresource?: string): string {
  return resourcePath(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name, subresource);
}

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

function statusMessage(response: KubeResponse): string {
  const body = response.body as { reason?: string; message?: string } | undefined;
  if (body && typeof body === 'object' && (body.message || body.reason)) {
    return `${body.reason ?? ''}: ${body.message ?? ''}`;
  }
  return response.text.slice(0, 500);
}

export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly response: KubeResponse,
  ) {
    super(`${method} ${path} answered ${response.status} ${statusMessage(response)}`);
    this.name = 'KubeApiError';
  }

  get status(): number {
    return this.response.status;
  }
}

export class KubeApi {
  constructor(private readonly options: KubeApiOptions) {}

  get server(): string {
    return this.options.server;
  }

  /** The same server as another identity (a ServiceAccount token, another user). */
  withToken(token: string): KubeApi {
    return new KubeApi({ ...this.options, token });
  }

  request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<KubeResponse<T>> {
    const url = new URL(withQuery(path, options.query), this.options.server);
    const payload =
      options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.options.token}`,
      Accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, ca: this.options.caPem, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text });
        });
      });
      req.setTimeout(options.timeoutMs ?? 30_000, () => {
        req.destroy(new Error(`${method} ${url.pathname} timed out after ${options.timeoutMs ?? 30_000} ms`));
      });
      req.on('error', (error) => reject(new Error(`${method} ${url.pathname} to ${this.options.server} failed: ${error.message}`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like request, but anything other than 2xx throws a KubeApiError. */
  async call<T = KubeObject>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request<T>(method, path, options);
    if (response.status < 200 || response.status > 299) throw new KubeApiError(method, path, response);
    return response.body;
  }

  create<T extends KubeObject>(object: T, query?: Query): Promise<T> {
    const { apiVersion, kind, metadata } = object;
    return this.call<T>('POST', resourcePath(apiVersion, kind, metadata.namespace), { body: object, query });
  }

  read<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<T> {
    return this.call<T>('GET', resourcePath(apiVersion, kind, namespace, name));
  }

  /** PUT: the object's resourceVersion makes it a conditional write (409 when stale). */
  replace<T extends KubeObject>(object: T, subresource?: string): Promise<T> {
    return this.call<T>('PUT', objectPath(object, subresource), { body: object });
  }

  patch<T extends KubeObject = KubeObject>(
    target: ObjectRef,
    patch: unknown,
    contentType: string = PATCH.merge,
    subresource?: string,
  ): Promise<T> {
    return this.call<T>('PATCH', objectPath(target, subresource), { body: patch, contentType });
  }

  async remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> {
    const path = resourcePath(apiVersion, kind, namespace, name);
    const response = await this.request('DELETE', path);
    if (response.status !== 404 && (response.status < 200 || response.status > 299)) {
      throw new KubeApiError('DELETE', path, response);
    }
  }

  /**
   * Streams a watch until the API server ends it, the connection drops or the
   * signal aborts. Resolves in all three cases; callers that want to follow
   * an object re-list and watch again.
   */
  watch<T = KubeObject>(path: string, options: WatchOptions<T>): Promise<void> {
    const query: Query = { ...options.query, watch: 'true', allowWatchBookmarks: 'true', resourceVersion: options.resourceVersion };
    const url = new URL(withQuery(path, query), this.options.server);
    return new Promise((resolve) => {
      if (options.signal?.aborted) return resolve();
      const req = httpsRequest(
        url,
        { method: 'GET', headers: { Authorization: `Bearer ${this.options.token}` }, ca: this.options.caPem, agent: false },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            res.on('end', () => resolve());
            return;
          }
          let pending = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            pending += chunk;
            let newline = pending.indexOf('\n');
            while (newline >= 0) {
              const line = pending.slice(0, newline).trim();
              pending = pending.slice(newline + 1);
              if (line) options.onEvent(JSON.parse(line) as WatchEvent<T>);
              newline = pending.indexOf('\n');
            }
          });
          res.on('end', () => resolve());
          res.on('error', () => resolve());
          res.on('close', () => resolve());
        },
      );
      req.on('error', () => resolve());
      options.signal?.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }
}
