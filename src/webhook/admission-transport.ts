// The HTTP side of the admission seam: body size, content type and JSON are
// checked here, once, before any handler runs. Plain node request/response so
// the same function serves express routes and benchmarks alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  decodeAdmissionReview,
  encodeOutcome,
  encodeTransportError,
  uidOf,
  type AdmissionHandler,
  type AdmissionOutcome,
  type EncodedResponse,
} from './admission.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-limits.js';

export const DEFAULT_BODY_LIMIT_BYTES = 6 * 1024 * 1024;
/** Istio objects can be large; the API server itself accepts 3 MiB request bodies. */
export const MIN_BODY_LIMIT_BYTES = 3 * 1024 * 1024;

export interface RejectedRequest {
  httpStatus: number;
  message: string;
  uid?: string;
}

/**
 * Reviews read and judged at once, and reviews left waiting (their bodies
 * unread, so the socket's own buffers hold them back) before a 429. Each
 * review in flight may hold its body several times over (bytes, text, parsed
 * value); the limit, not the number of callers, decides peak memory.
 */
export const DEFAULT_MAX_CONCURRENT_REVIEWS = 2;
export const DEFAULT_MAX_QUEUED_REVIEWS = 64;
export const LARGE_BODY_BYTES = 1024 * 1024;

export interface TransportOptions {
  bodyLimitBytes: number;
  /** Default DEFAULT_MAX_CONCURRENT_REVIEWS. */
  maxConcurrentReviews?: number;
  /** Default DEFAULT_MAX_QUEUED_REVIEWS. */
  maxQueuedReviews?: number;
  /** Told about every request refused before a handler saw it. */
  onRejected?: (rejected: RejectedRequest) => void;
  /**
   * Called after answering a review whose body was at least LARGE_BODY_BYTES:
   * its garbage (bytes, text, parsed value, the rules' intermediate values) is
   * several times the body, and V8 would keep the heap it grew for it.
   */
  afterLargeReview?: () => void;
  /** Told about a throw the seam caught outside the handler (a bug: the request still gets an answer). */
  onFault?: (error: unknown) => void;
}

type Respond = (encoded: EncodedResponse, headers?: Record<string, string>) => void;
type Reject = (httpStatus: number, message: string, uid?: string, headers?: Record<string, string>) => void;

/** A request listener that answers AdmissionReviews with `handler`'s outcomes. */
export function admissionTransport(handler: AdmissionHandler, options: TransportOptions) {
  const { bodyLimitBytes, onRejected, onFault } = options;
  const gate = new ReviewGate(options.maxConcurrentReviews ?? DEFAULT_MAX_CONCURRENT_REVIEWS, options.maxQueuedReviews ?? DEFAULT_MAX_QUEUED_REVIEWS);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const receivedAtMs = performance.now();
    let answered = false;
    const respond: Respond = ({ httpStatus, body }, headers = {}) => {
      if (answered || res.headersSent) return;
      answered = true;
      const json = JSON.stringify(body);
      res.writeHead(httpStatus, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), ...headers });
      res.end(json);
    };
    const reject = (httpStatus: number, message: string, uid?: string, headers?: Record<string, string>): void => {
      onRejected?.(uid === undefined ? { httpStatus, message } : { httpStatus, message, uid });
      respond(encodeTransportError(httpStatus, message, uid), headers);
    };
    // Whatever throws between the bytes and the verdict, the request gets an
    // answer and the process keeps serving.
    const guarded = (step: () => void): void => {
      try {
        step();
      } catch (e) {
        onFault?.(e);
        reject(500, `the webhook failed to answer: ${errorText(e)}`);
      }
    };
    guarded(() => receive(req, reject, () => {
      if (!gate.enter(() => guarded(() => readAndJudge(req, receivedAtMs, respond, reject, () => gate.leave())))) {
        req.resume();
        reject(429, `${gate.waiting} reviews are already waiting: the webhook is overloaded; the API server applies the webhook's failurePolicy. Fix: add webhook replicas, or raise admission.maxQueuedReviews (or admission.maxConcurrentReviews, which costs memory) in the webhook config`, undefined, { 'Retry-After': '1' });
      }
    }));
  };

  /** The checks on headers alone; `next` when they pass. */
  function receive(req: IncomingMessage, reject: Reject, next: () => void): void {
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
    next();
  }

  function readAndJudge(req: IncomingMessage, receivedAtMs: number, respond: Respond, reject: Reject, done: () => void): void {
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        done();
      }
    };
    if (req.destroyed) {
      release(); // gone while it waited
      return;
    }
    req.once('close', release); // a client that goes away frees its place
    readBody(req, bodyLimitBytes, (err, body) => {
      try {
        if (err) {
          reject(413, err);
          return;
        }
        if (!body || body.length === 0) {
          reject(400, 'the request body is empty: expected an AdmissionReview');
          return;
        }
        if (req.headers['content-type'] === undefined) {
          reject(415, 'content type is missing: send Content-Type: application/json');
          return;
        }
        judgeBytes(body, receivedAtMs, respond, reject);
        if (body.length >= LARGE_BODY_BYTES) options.afterLargeReview?.();
      } catch (e) {
        onFault?.(e);
        reject(500, `the webhook failed to answer: ${errorText(e)}`);
      } finally {
        release();
      }
    });
  }

  function judgeBytes(body: Buffer, receivedAtMs: number, respond: Respond, reject: Reject): void {
    const tooDeep = nestsDeeperThan(body, MAX_JSON_DEPTH);
    let parsed: unknown;
    try {
      // V8 parses without recursion, so even the deep text is safe to read for its uid.
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      reject(400, `the request body is not valid JSON: ${(e as Error).message}`);
      return;
    }
    if (tooDeep) {
      reject(400, `the request nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels; no Kubernetes object needs that`, uidOf(parsed));
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
  }
}

/** At most `limit` reviews in flight, at most `queueLimit` waiting; FIFO. */
class ReviewGate {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly queueLimit: number,
  ) {}

  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `start` now or later; false when the queue is full (`start` will not run). */
  enter(start: () => void): boolean {
    if (this.active < this.limit) {
      this.active++;
      start();
      return true;
    }
    if (this.queue.length >= this.queueLimit) return false;
    this.queue.push(start);
    return true;
  }

  leave(): void {
    const next = this.queue.shift();
    if (next) next(); // the place passes straight on
    else this.active--;
  }
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
