// The one admission seam: decode an AdmissionReview, hand the review to a
// handler, encode the handler's outcome. Everything the API server's protocol
// asks of a webhook (which versions, what to echo, how errors and warnings are
// carried) is decided here and nowhere else.
import { slimIstio } from '../cluster/slim.js';
import { isDeploymentScale, scaleAsDeployment } from './deployment-scale.js';
import { describeValue } from './json-limits.js';
import type { DestinationRule, VirtualService } from '../istio/types.js';
import type { AdmittedObject, Finding, ReviewInput, ReviewVerdict } from './verdict.js';
import { isWorkloadKind, slimAdmittedWorkload } from './workload-review.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';
export const ISTIO_GROUP = 'networking.istio.io';
export const ISTIO_VERSIONS: readonly string[] = ['v1', 'v1beta1', 'v1alpha3'];
export const JUDGED_KINDS: readonly string[] = ['VirtualService', 'DestinationRule'];

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** What a review is about, as the API server describes it; echoed in logs and metrics. */
export interface ReviewSubject {
  uid: string;
  /** The review's own apiVersion, echoed in the response. */
  apiVersion: string;
  /** `group/version, Kind=...` of the object under review. */
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  operation: string;
  dryRun: boolean;
}

export interface DecodedReview {
  subject: ReviewSubject;
  /** `undefined` when the request is not one the rules judge (another kind, a subresource). */
  input: ReviewInput | undefined;
  /** Why `input` is undefined. */
  skipReason?: string;
  /**
   * Set when the envelope is sound but the object under review is not (no
   * spec, a kind that contradicts the request): answered with a denial, not a
   * 400, so that failurePolicy Ignore cannot turn it into an admission.
   */
  malformed?: string;
  /** `performance.now()` when the request arrived, so wrappers can report end-to-end latency. */
  receivedAtMs: number;
}

/**
 * What a handler decides. `errored` means the decision itself failed, not that
 * the object is bad; `refused` is a denial without a rule's verdict (a
 * malformed object, too much work, a review that errored on a guarded kind).
 */
export type AdmissionOutcome =
  | { kind: 'verdict'; verdict: ReviewVerdict }
  | { kind: 'skipped'; reason: string }
  | { kind: 'refused'; code: number; message: string; auditAnnotations?: Record<string, string> }
  | { kind: 'errored'; code: number; message: string };

export type AdmissionHandler = (review: DecodedReview) => AdmissionOutcome;
/** A cross-cutting concern (metrics, logs, error handling, filters) around a handler. */
export type AdmissionWrapper = (next: AdmissionHandler) => AdmissionHandler;

export type DecodeResult = { ok: true; review: DecodedReview } | { ok: false; message: string; uid?: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Validate and decode a parsed AdmissionReview body. Failures say what is
 * wrong in words an operator can act on; they become HTTP 400.
 */
export function decodeAdmissionReview(body: unknown, receivedAtMs: number): DecodeResult {
  if (!isObject(body)) return { ok: false, message: 'the body must be a JSON object (an AdmissionReview)' };
  if (body.kind !== ADMISSION_KIND) {
    return withUid({ ok: false, message: `kind must be "${ADMISSION_KIND}", got ${describeValue(body.kind)}` }, body);
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return withUid({
      ok: false,
      message: `apiVersion must be "${ADMISSION_API_VERSION}", got ${describeValue(body.apiVersion)}: list only v1 in the webhook's admissionReviewVersions`,
    }, body);
  }
  const req = body.request;
  if (!isObject(req)) return { ok: false, message: 'request is missing: an AdmissionReview sent to a webhook carries a request' };
  if (typeof req.uid !== 'string' || req.uid === '') {
    return { ok: false, message: 'request.uid is missing or empty: the response must echo it' };
  }
  const uid = req.uid;
  const fail = (message: string): DecodeResult => ({ ok: false, message, uid });

  const gvk = isObject(req.kind) ? req.kind : undefined;
  if (!gvk || typeof gvk.kind !== 'string' || typeof gvk.version !== 'string') {
    return fail('request.kind must be an object with group, version and kind');
  }
  const group = typeof gvk.group === 'string' ? gvk.group : '';
  const operation = req.operation;
  if (typeof operation !== 'string' || !OPERATIONS.includes(operation)) {
    return fail(`request.operation must be one of ${OPERATIONS.join(', ')}, got ${describeValue(operation)}`);
  }
  const subject: ReviewSubject = {
    uid,
    apiVersion: body.apiVersion,
    group,
    version: gvk.version,
    kind: gvk.kind,
    namespace: typeof req.namespace === 'string' ? req.namespace : '',
    name: typeof req.name === 'string' ? req.name : '',
    operation,
    dryRun: req.dryRun === true,
  };
  const skip = (skipReason: string): DecodeResult => ({ ok: true, review: { subject, input: undefined, skipReason, receivedAtMs } });

  const deploymentScale = isDeploymentScale(req);
  if (!deploymentScale && !isWorkloadKind(group, gvk.version, gvk.kind) && (group !== ISTIO_GROUP || !ISTIO_VERSIONS.includes(gvk.version) || !JUDGED_KINDS.includes(gvk.kind))) {
    return skip(
      `bluegreen-guard judges only ${JUDGED_KINDS.join(' and ')} of ${ISTIO_GROUP} ${ISTIO_VERSIONS.join('/')}, got ${group}/${gvk.version} ${gvk.kind}: narrow the webhook's rules`,
    );
  }
  if (typeof req.subResource === 'string' && req.subResource !== '' && !deploymentScale) {
    return skip(`subresource "${req.subResource}" carries no routing change`);
  }

  const malformed = (message: string): DecodeResult => ({ ok: true, review: { subject, input: undefined, malformed: message, receivedAtMs } });
  const object = decodeObject(req.object, 'request.object', subject);
  if (typeof object === 'string') return malformed(object);
  const oldObject = decodeObject(req.oldObject, 'request.oldObject', subject);
  if (typeof oldObject === 'string') return malformed(oldObject);
  if (!object && (operation === 'CREATE' || operation === 'UPDATE')) {
    return malformed(`request.object is missing: a ${operation} review carries the object as it would be stored`);
  }
  if (!oldObject && (operation === 'UPDATE' || operation === 'DELETE')) {
    return malformed(`request.oldObject is missing: an ${operation} review carries the object as it is stored now`);
  }

  const userInfo = isObject(req.userInfo) ? req.userInfo : {};
  const input: ReviewInput = {
    operation: operation as ReviewInput['operation'],
    object,
    oldObject,
    dryRun: subject.dryRun,
    requester: {
      username: typeof userInfo.username === 'string' ? userInfo.username : '',
      groups: Array.isArray(userInfo.groups) ? userInfo.groups.filter((g): g is string => typeof g === 'string') : [],
    },
    // Wall-clock time (receivedAtMs is a monotonic clock): rules compare it with pod status timestamps.
    nowMs: Date.now(),
    ...(deploymentScale ? { subresource: 'scale' as const } : {}),
  };
  return { ok: true, review: { subject, input, receivedAtMs } };
}

/** A 400 keeps the request's uid when it has one, whatever else is wrong with the envelope. */
function withUid(result: { ok: false; message: string }, body: Json): DecodeResult {
  const uid = uidOf(body);
  return uid === undefined ? result : { ...result, uid };
}

/** `request.uid` when it is a non-empty string; reads two levels, never walks the value. */
export function uidOf(body: unknown): string | undefined {
  if (!isObject(body) || !isObject(body.request)) return undefined;
  const uid = body.request.uid;
  return typeof uid === 'string' && uid !== '' ? uid : undefined;
}

/** Returns the slimmed object, `undefined` when absent, or an error message. */
function decodeObject(raw: unknown, field: string, subject: ReviewSubject): AdmittedObject | undefined | string {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) return `${field} must be a JSON object`;
  if (raw.kind !== subject.kind) {
    return `${field}.kind is ${describeValue(raw.kind)} but request.kind.kind is "${subject.kind}"`;
  }
  if (!isObject(raw.spec)) return `${field}.spec is missing: a ${subject.kind} without a spec cannot be judged`;
  const obj = subject.kind === 'Scale' ? scaleAsDeployment(raw) : isWorkloadKind(subject.group, subject.version, subject.kind)
    ? slimAdmittedWorkload(raw)
    : subject.kind === 'VirtualService' ? slimIstio<VirtualService>(raw) : slimIstio<DestinationRule>(raw);
  // The API server fills these in before admission; the request's own fields
  // are authoritative when an object arrives without them (generateName).
  if (obj.metadata.namespace === '') obj.metadata.namespace = subject.namespace;
  if (obj.metadata.name === '') obj.metadata.name = subject.name;
  return obj;
}

// ---- responses ----

export interface AdmissionStatus {
  code: number;
  reason?: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: string;
  kind: string;
  response: AdmissionResponse;
}

export interface EncodedResponse {
  httpStatus: number;
  body: AdmissionReviewResponse;
}

// The API server keeps at most 4096 runes of warnings per request from all
// sources and cuts each to 256 runes once over that total
// (k8s.io/apiserver/pkg/endpoints/filters/warning.go). We stay inside both so
// nothing we say is cut, leaving room for other webhooks' warnings.
export const WARNING_MAX_RUNES = 256;
export const WARNINGS_TOTAL_MAX_RUNES = 3072;

/** `[rule] message`, made safe for an HTTP Warning header and cut to the per-item limit. */
export function formatWarning(f: Pick<Finding, 'rule' | 'message'>): string {
  return truncateRunes(`[${f.rule}] ${oneLine(f.message)}`, WARNING_MAX_RUNES);
}

/** Warnings that fit the API server's budget; the last one says how many were left out. */
export function boundWarnings(texts: readonly string[]): string[] {
  const out: string[] = [];
  let total = 0;
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i] as string;
    const runes = countRunes(text);
    const omitted = texts.length - i;
    const note = `${omitted} more warning${omitted === 1 ? '' : 's'} not shown: run 'bluegreen-guard preflight' for the full list`;
    const reserve = i < texts.length - 1 ? countRunes(note) : 0;
    if (total + runes + reserve > WARNINGS_TOTAL_MAX_RUNES) {
      out.push(note);
      break;
    }
    out.push(text);
    total += runes;
  }
  return out;
}

/** The deny findings as one line, the way `kubectl` prints a denial. */
export function denialMessage(findings: readonly Finding[]): string {
  const parts = findings.filter((f) => f.severity === 'deny').map((f) => `[${f.rule}] ${oneLine(f.message)}`);
  return parts.length > 0 ? parts.join('; ') : 'denied by bluegreen-guard';
}

export function encodeOutcome(subject: Pick<ReviewSubject, 'uid' | 'apiVersion'>, outcome: AdmissionOutcome): EncodedResponse {
  switch (outcome.kind) {
    case 'verdict':
      return { httpStatus: 200, body: envelope(subject.apiVersion, verdictResponse(subject.uid, outcome.verdict)) };
    case 'skipped':
      return { httpStatus: 200, body: envelope(subject.apiVersion, { uid: subject.uid, allowed: true }) };
    case 'refused': {
      // HTTP 200: the API server obeys `allowed: false` whatever the failurePolicy.
      const response: AdmissionResponse = {
        uid: subject.uid,
        allowed: false,
        status: { code: outcome.code, reason: outcome.code === 500 ? 'InternalError' : outcome.code === 400 ? 'BadRequest' : 'Forbidden', message: outcome.message },
      };
      if (outcome.auditAnnotations && Object.keys(outcome.auditAnnotations).length > 0) response.auditAnnotations = outcome.auditAnnotations;
      return { httpStatus: 200, body: envelope(subject.apiVersion, response) };
    }
    case 'errored':
      // A non-2xx status lets the API server apply the webhook's failurePolicy:
      // an internal failure is not a judgement on the object.
      return {
        httpStatus: outcome.code,
        body: envelope(subject.apiVersion, {
          uid: subject.uid,
          allowed: false,
          status: { code: outcome.code, reason: 'InternalError', message: outcome.message },
        }),
      };
  }
}

/** A request the transport refused before any handler saw it (400, 413, 415). */
export function encodeTransportError(httpStatus: number, message: string, uid = ''): EncodedResponse {
  return {
    httpStatus,
    body: envelope(ADMISSION_API_VERSION, { uid, allowed: false, status: { code: httpStatus, reason: 'BadRequest', message } }),
  };
}

function verdictResponse(uid: string, verdict: ReviewVerdict): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: verdict.allowed };
  // On an allowed review every finding is advisory, including overridden denials.
  const advisory = verdict.allowed ? verdict.findings : verdict.findings.filter((f) => f.severity === 'warn');
  if (advisory.length > 0) response.warnings = boundWarnings(advisory.map(formatWarning));
  if (!verdict.allowed) response.status = { code: 403, reason: 'Forbidden', message: denialMessage(verdict.findings) };
  if (Object.keys(verdict.auditAnnotations).length > 0) response.auditAnnotations = verdict.auditAnnotations;
  return response;
}

function envelope(apiVersion: string, response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion, kind: ADMISSION_KIND, response };
}

// Warning headers reject control characters; a message with a newline would be dropped.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]+/g;
function oneLine(text: string): string {
  return text.replace(CONTROL, ' ').trim();
}

function countRunes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++; // a high surrogate and its pair are one rune
  }
  return n;
}

function truncateRunes(text: string, max: number): string {
  if (text.length <= max) return text; // UTF-16 length ≥ rune count
  const runes = [...text];
  return runes.length <= max ? text : runes.slice(0, max - 1).join('') + '…';
}
