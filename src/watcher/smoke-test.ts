// The seed's "Run Smoke Tests Against Live Endpoint" as one HTTP GET that
// must answer the expected status. The check runs live (there is no history
// of it); its result enters the pure evaluation as an input.
import { describeFailure, failureCode, isTimeout } from '../http/fetch-failure.js';
import { SMOKE_TEST_URL } from '../istio/annotations.js';
import type { ServiceKey } from './verdict.js';

export interface SmokeTestSpec {
  url: string;
  expectedStatus: number;
  timeoutMs: number;
}

/**
 * `passed`: the expected status came back. `failed`: the endpoint answered
 * something else, did not answer in time, or refused/reset the connection —
 * the live endpoint is broken, which is a rollback trigger. `error`: the check
 * itself cannot be made (bad URL, name that does not resolve): a configuration
 * problem, never a reason to roll back.
 */
export interface SmokeTestResult {
  outcome: 'passed' | 'failed' | 'error';
  url: string;
  expectedStatus: number;
  httpStatus: number | null;
  durationMs: number;
  message: string;
}

/**
 * The URL to check for a service: its VirtualService annotation wins over the
 * configured template; null when neither is set (the rule is not evaluated).
 */
export function smokeTestUrl(template: string | null, key: ServiceKey, annotations: Record<string, string> = {}): string | null {
  const chosen = annotations[SMOKE_TEST_URL] ?? template;
  if (!chosen) return null;
  return chosen.replaceAll('{{service}}', key.service).replaceAll('{{namespace}}', key.namespace).replaceAll('{{version}}', key.version);
}

const CONFIG_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ERR_INVALID_URL', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN']);

export async function runSmokeTest(spec: SmokeTestSpec, fetchImpl: typeof fetch = fetch): Promise<SmokeTestResult> {
  const started = performance.now();
  const base = { url: spec.url, expectedStatus: spec.expectedStatus };
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return { ...base, outcome: 'error', httpStatus: null, durationMs: 0, message: `smoke test URL ${JSON.stringify(spec.url)} is not a valid URL; fix smokeTest.url or the ${SMOKE_TEST_URL} annotation` };
  }
  try {
    const res = await fetchImpl(url, { redirect: 'manual', signal: AbortSignal.timeout(spec.timeoutMs) });
    await res.arrayBuffer();
    if (res.status === spec.expectedStatus) {
      return { ...base, outcome: 'passed', httpStatus: res.status, durationMs: elapsed(), message: `GET ${spec.url} answered ${res.status} as expected` };
    }
    return { ...base, outcome: 'failed', httpStatus: res.status, durationMs: elapsed(), message: `GET ${spec.url} answered ${res.status}, expected ${spec.expectedStatus}` };
  } catch (err) {
    const durationMs = elapsed();
    if (isTimeout(err)) {
      return { ...base, outcome: 'failed', httpStatus: null, durationMs, message: `GET ${spec.url} did not answer within ${spec.timeoutMs} ms` };
    }
    const code = failureCode(err) ?? '';
    const detail = describeFailure(err);
    if (CONFIG_ERRORS.has(code)) {
      return { ...base, outcome: 'error', httpStatus: null, durationMs, message: `cannot run the smoke test GET ${spec.url}: ${detail}; fix the URL (smokeTest.url or the ${SMOKE_TEST_URL} annotation)` };
    }
    return { ...base, outcome: 'failed', httpStatus: null, durationMs, message: `GET ${spec.url} failed: ${detail}` };
  }
}
