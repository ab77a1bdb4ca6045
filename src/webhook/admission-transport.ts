// The HTTP side of the admission seam: body size, content type and JSON are
// checked here, once, before any handler runs. Plain node request/response so
// the same function serves express routes and benchmarks alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  decodeAdmissionReview,
  encodeOutcome,
  encodeTransportError,
  type AdmissionHandler,
  type AdmissionOutcome,
  type EncodedResponse,
} from './admission.js';

export const DEFAULT_BODY_LIMIT_BYTES = 6 * 1024 * 1024;
/** Istio objects can be large; the API server itself accepts 3 MiB request bodies. */
export const MIN_BODY_LIMIT_BYTES = 3 * 1024 * 1024;

export interface RejectedRequest {
  httpStatus: number;
  message: string;
  uid?: string;
}

export interface TransportOptions {
  bodyLimitBytes: number;
  /** Told about every request refused before a handler saw it. */
  onRejected?: (rejected: RejectedRequest) => void;
}

type Respond = (encoded: EncodedResponse) => void;

/** A request listener that answers AdmissionReviews with `handler`'s outcomes. */
export function admissionTransport(handler: AdmissionHandler, options: TransportOptions) {
  const { bodyLimitBytes, onRejected } = options;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const receivedAtMs = performance.now();
    const respond: Respond = ({ httpStatus, body }) => {
      const json = JSON.stringify(body);
      res.writeHead(httpStatus, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
      res.end(json);
    };
    const reject = (httpStatus: number, message: string, uid?: string): void => {
      onRejected?.(uid === undefined ? { httpStatus, message } : { httpStatus, message, uid });
      respond(encodeTransportError(httpStatus, message, uid));
    };

    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !isJson(contentType)) {
      req.resume();
      reject(415, `content type must be application/json, got "${contentType}"`);
      return;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      req.resume();
      reject(415, `content encoding "${encoding}" is not supported: send the review uncompressed`);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (declared > bodyLimitBytes) {
      req.resume(); // discard the body so the connection can be reused
      reject(413, tooLarge(declared, bodyLimitBytes));
      return;
    }

    readBody(req, bodyLimitBytes, (err, body) => {
      if (err) {
        reject(413, err);
        return;
      }
      if (!body || body.length === 0) {
        reject(400, 'the request body is empty: expected an AdmissionReview');
        return;
      }
      if (contentType === undefined) {
        reject(415, 'content type is missing: send Content-Type: application/json');
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (e) {
        reject(400, `the request body is not valid JSON: ${(e as Error).message}`);
        return;
      }
      const decoded = decodeAdmissionReview(parsed, receivedAtMs);
      if (!decoded.ok) {
        reject(400, decoded.message, decoded.uid);
        return;
      }
      const { subject } = decoded.review;
      let outcome: AdmissionOutcome;
      try {
        outcome = handler(decoded.review);
      } catch (e) {
        // Last resort: wrappers normally turn throws into `errored` themselves.
        outcome = { kind: 'errored', code: 500, message: `reviewing ${subject.kind} ${subject.namespace}/${subject.name} failed: ${errorText(e)}` };
      }
      respond(encodeOutcome(subject, outcome));
    });
  };
}

/** Reads at most `limitBytes`; past that, keeps draining so the connection stays usable. */
function readBody(req: IncomingMessage, limitBytes: number, done: (err: string | undefined, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limitBytes) {
      finished = true;
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      req.resume();
      done(tooLarge(received, limitBytes));
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    if (finished) return;
    finished = true;
    done(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
  };
  req.on('data', onData);
  req.on('end', onEnd);
}

function tooLarge(bytes: number, limitBytes: number): string {
  return `the request body is larger than ${limitBytes} bytes (at least ${bytes}): raise admission.bodyLimitBytes if objects this large are expected`;
}

function isJson(contentType: string): boolean {
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => {
    const [k, v] = p.split('=');
    return k?.trim().toLowerCase() !== 'charset' || /^"?utf-8"?$/i.test(v?.trim() ?? '');
  });
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
