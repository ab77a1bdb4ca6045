// The one HTTP exchange both Alertmanager adapters need: JSON over fetch with
// a timeout, and errors that name the URL, what failed and how to fix it.
import { describeFailure } from '../http/fetch-failure.js';

export class AlertmanagerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertmanagerError';
  }
}

export interface AlertmanagerHttpOptions {
  /** Base URL, e.g. `http://alertmanager.monitoring:9093` (a path prefix is kept). */
  url: string;
  timeoutMs: number;
  /** Injected in tests only; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export async function alertmanagerRequest(options: AlertmanagerHttpOptions, method: 'GET' | 'POST', pathAndQuery: string, body?: unknown): Promise<unknown> {
  const url = `${options.url.replace(/\/+$/, '')}${pathAndQuery}`;
  const fetchImpl = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const reason = describeFailure(err, options.timeoutMs);
    throw new AlertmanagerError(`Alertmanager at ${options.url} could not be reached for ${method} ${pathAndQuery.split('?')[0]} (${reason}). Fix: check the Alertmanager URL and that it is up and reachable from the watcher.`);
  }
  const text = await res.text();
  if (!res.ok) {
    throw new AlertmanagerError(`Alertmanager at ${options.url} refused ${method} ${pathAndQuery.split('?')[0]}: HTTP ${res.status} ${text.slice(0, 300).trim()}`);
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AlertmanagerError(`Alertmanager at ${options.url} answered ${method} ${pathAndQuery.split('?')[0]} with a body that is not JSON (${text.slice(0, 120)}). Fix: the URL must point at Alertmanager's API, not at a UI or proxy page.`);
  }
}
