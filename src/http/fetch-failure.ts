// Why a fetch() failed, in words for error messages. Duck-typed rather than
// `instanceof Error`: undici's errors and AbortSignal's DOMException may come
// from another realm (a VM context), where instanceof is false.

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

function asErrorLike(value: unknown): ErrorLike | undefined {
  return typeof value === 'object' && value !== null ? value : undefined;
}

/** True when the request was aborted by AbortSignal.timeout(). */
export function isTimeout(err: unknown): boolean {
  return asErrorLike(err)?.name === 'TimeoutError';
}

/** The system error code behind a failed fetch (ECONNREFUSED, ENOTFOUND…), when there is one. */
export function failureCode(err: unknown): string | undefined {
  const e = asErrorLike(err);
  const code = asErrorLike(e?.cause)?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The most specific message: the cause's ("connect ECONNREFUSED 127.0.0.1:9090") rather than "fetch failed". */
export function describeFailure(err: unknown, timeoutMs?: number): string {
  if (isTimeout(err) && timeoutMs !== undefined) return `no answer within ${timeoutMs} ms`;
  const e = asErrorLike(err);
  const causeMessage = asErrorLike(e?.cause)?.message;
  if (typeof causeMessage === 'string' && causeMessage) return causeMessage;
  if (typeof e?.message === 'string' && e.message) return e.message;
  return String(err);
}
