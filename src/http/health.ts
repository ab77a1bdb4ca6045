// The seed's synthetic health endpoints. `/live` answers while the process runs;
// `/ready` only once every watch cache has synced, because rules judged against
// a half-filled cache would deny good changes.

/** Names what keeps the process from being ready; empty when ready. */
export interface Readiness {
  notReady(): readonly string[];
}

export interface HealthResponse {
  status: number;
  body: string;
}

const LIVE: HealthResponse = { status: 200, body: '{"status":"live"}' };
const READY: HealthResponse = { status: 200, body: '{"status":"ready"}' };

/** The answer for a health path, or `undefined` when `path` is not one. */
export function healthResponse(path: string, readiness: Readiness): HealthResponse | undefined {
  if (path === '/live') return LIVE;
  if (path !== '/ready') return undefined;
  const waiting = readiness.notReady();
  if (waiting.length === 0) return READY;
  return { status: 503, body: JSON.stringify({ status: 'not ready', waitingFor: waiting }) };
}
