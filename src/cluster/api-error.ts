// What the API server said when a call failed. @kubernetes/client-node 2.x
// throws an ApiException whose `body` is the raw response text (a JSON
// `Status`); adapters turn it into a code and a message a person can act on.

export interface ApiFailure {
  /** HTTP status, 0 when the server was not reached. */
  code: number;
  /** `Status.reason` (`Conflict`, `NotFound`, `Invalid`, …) when the server sent one. */
  reason: string | undefined;
  message: string;
}

export function apiFailure(err: unknown): ApiFailure {
  const code = typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : 0;
  const status = parseStatus((err as { body?: unknown })?.body);
  if (code === 0 || !status) {
    const message = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
    return { code, reason: status?.reason, message: status?.message ?? message };
  }
  const causes = (status.details?.causes ?? []).map((c) => c.message).filter((m): m is string => typeof m === 'string' && m !== '');
  const message = [status.message ?? `HTTP ${code}`, ...causes].join(': ');
  return { code, reason: status.reason, message };
}

interface Status {
  message?: string;
  reason?: string;
  details?: { causes?: { message?: string }[] };
}

function parseStatus(body: unknown): Status | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'object') return body;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === 'object' ? (parsed) : undefined;
  } catch {
    return undefined;
  }
}
