// An instant query whose answer is read as it arrives: each element of
// `data.result` is parsed on its own and handed over, and the reader yields to
// the event loop after every chunk. For the webhook's `up` refresh (20,000
// pods, some 2 MB of JSON) this replaces one parse of the whole body, which
// stalled the admission thread for 10-40 ms and left some 10 MB of garbage, by
// a few hundred small parses between which reviews are served; what stays
// allocated is one sample at a time.
//
// The answer is otherwise judged as PrometheusMetricsSource judges it: the
// same errors, timeouts and partial answers (src/prometheus/prometheus-metrics-source.ts).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describeFailure } from '../http/fetch-failure.js';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from '../http/json-chars.js';
import { parseSampleValue, PrometheusQueryError, queryParameters, rejectionMessage, partialWarnings } from './prometheus-metrics-source.js';

export interface InstantVectorStreamOptions {
  /** Base URL, e.g. `http://prometheus.monitoring:9090`. */
  url: string;
  timeoutMs: number;
  /** Injected in tests only; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface StreamedAnswer {
  samples: number;
  bytes: number;
}

type Onsample = (labels: Record<string, string>, value: number) => void;

/** Characters read between two turns of the event loop: about 150 samples, well under a millisecond. */
const SLICE = 16 * 1024;

/** Runs `promql` at `atSeconds` and calls `onSample` for every sample of the vector, in the answer's order. */
export async function streamInstantVector(options: InstantVectorStreamOptions, promql: string, atSeconds: number, onSample: Onsample): Promise<StreamedAnswer> {
  const base = options.url.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await fetchImpl(`${base}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: queryParameters(promql, { time: String(Math.round(atSeconds * 1000) / 1000) }, options.timeoutMs),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw new PrometheusQueryError(`Prometheus at ${base} could not be reached (${describeFailure(err, options.timeoutMs)}). Fix: check the Prometheus URL and that it is up and reachable from the webhook.`, promql);
  }
  const splitter = new ResultSplitter();
  let samples = 0;
  let bytes = 0;
  let pendingError: unknown;
  // Elements are only handed over on a successful answer; an error body has none.
  const element = (text: string): void => {
    if (!res.ok || pendingError !== undefined) return;
    try {
      const raw = JSON.parse(text) as { metric?: Record<string, string>; value?: [number, string] };
      if (!raw.metric || !Array.isArray(raw.value)) throw new Error('not a vector sample');
      onSample(raw.metric, parseSampleValue(raw.value[1]));
      samples += 1;
    } catch (err) {
      pendingError = err;
    }
  };
  try {
    if (!res.body) throw new Error('no body');
    const decoder = new TextDecoder();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      const text = decoder.decode(chunk, { stream: true });
      // A socket read can bring far more than one slice's worth: hold the loop for at most SLICE characters at a time.
      for (let at = 0; at < text.length; at += SLICE) {
        splitter.push(text.length <= SLICE ? text : text.slice(at, at + SLICE), element);
        await yieldToEventLoop();
      }
    }
    splitter.push(decoder.decode(), element);
  } catch (err) {
    throw new PrometheusQueryError(`Prometheus at ${base} stopped answering mid-response (${describeFailure(err, options.timeoutMs)}).`, promql);
  }
  let envelope: { status?: string; errorType?: string; error?: string; warnings?: string[]; data?: { resultType?: string } };
  try {
    envelope = JSON.parse(splitter.rest()) as typeof envelope;
  } catch {
    throw new PrometheusQueryError(`Prometheus at ${base}/api/v1/query answered HTTP ${res.status} with a body that is not JSON (${splitter.rest().slice(0, 120)}). Fix: the URL must point at Prometheus itself, not at a UI or proxy page.`, promql);
  }
  if (!res.ok || envelope.status !== 'success' || envelope.data === undefined) {
    throw new PrometheusQueryError(rejectionMessage(base, res.status, envelope, promql), promql);
  }
  if (envelope.data.resultType !== 'vector') {
    throw new PrometheusQueryError(`Prometheus at ${base} returned a ${envelope.data.resultType}, not an instant vector, for: ${promql}. Fix: the query must yield a vector (aggregate with sum/max by …).`, promql);
  }
  const partial = partialWarnings(envelope.warnings);
  if (partial.length > 0) {
    throw new PrometheusQueryError(`${base} answered only partially (${partial.join('; ')}): a partial answer cannot tell which pods are missing, so it counts as none. Fix: bring the failed store back, or check the query layer's store list.`, promql);
  }
  if (pendingError !== undefined) {
    throw new PrometheusQueryError(`Prometheus at ${base} answered with a result element that is not a sample (${(pendingError as Error).message}).`, promql);
  }
  return { samples, bytes };
}

/**
 * Splits a Prometheus API answer, fed in pieces, into the elements of
 * `data.result` (each handed over as its JSON text) and the rest of the
 * document with that array left empty (`rest()`: status, warnings, errors).
 * It follows JSON's structure (strings and their escapes included), not the
 * key order; anything that is not such an answer ends up in `rest()` whole,
 * for JSON.parse to judge.
 */
export class ResultSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The key whose value is open at each object depth (only short keys are kept). */
  private readonly keys: string[] = [];
  private keyStart = -1;
  private keyText = '';
  private lastString = '';
  /** Depth of the `data.result` array while inside it, else -1. */
  private resultDepth = -1;
  private elementParts: string[] = [];
  private elementStart = -1;
  private readonly restParts: string[] = [];

  push(chunk: string, onElement: (text: string) => void): void {
    let restStart = this.resultDepth < 0 ? 0 : -1;
    if (this.elementStart === -2) this.elementStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.keyStart >= 0) {
            this.lastString = this.keyText + chunk.slice(this.keyStart, i);
            this.keyStart = -1;
          }
        }
        continue;
      }
      switch (c) {
        case QUOTE:
          this.inString = true;
          this.lastString = '';
          // Keys that matter are at the top two levels, outside the result array.
          if (this.resultDepth < 0 && this.depth <= 2) {
            this.keyStart = i + 1;
            this.keyText = '';
          }
          break;
        case COLON:
          if (this.resultDepth < 0) this.keys[this.depth] = this.lastString;
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          this.depth += 1;
          if (c === OPEN_ARRAY && this.resultDepth < 0 && this.depth === 3 && this.keys[1] === 'data' && this.keys[2] === 'result') {
            this.resultDepth = this.depth;
            this.restParts.push(chunk.slice(restStart, i + 1));
            restStart = -1;
          } else if (this.resultDepth >= 0 && this.depth === this.resultDepth + 1) {
            this.elementStart = i;
          }
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          if (this.resultDepth >= 0 && this.depth === this.resultDepth + 1 && this.elementStart !== -1) {
            this.elementParts.push(chunk.slice(this.elementStart, i + 1));
            onElement(this.elementParts.length === 1 ? (this.elementParts[0] as string) : this.elementParts.join(''));
            this.elementParts = [];
            this.elementStart = -1;
          } else if (this.resultDepth >= 0 && this.depth === this.resultDepth) {
            this.resultDepth = -1;
            restStart = i;
          }
          this.depth -= 1;
          break;
      }
    }
    if (this.keyStart >= 0) {
      this.keyText += chunk.slice(this.keyStart);
      if (this.keyText.length > 64) this.keyText = this.keyText.slice(0, 64);
      this.keyStart = 0;
    }
    if (this.elementStart >= 0) {
      this.elementParts.push(chunk.slice(this.elementStart));
      this.elementStart = -2; // continues at the start of the next chunk
    }
    if (restStart >= 0) this.restParts.push(chunk.slice(restStart));
  }

  /** The document without the result array's elements. */
  rest(): string {
    return this.restParts.join('');
  }
}
