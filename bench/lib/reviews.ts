// The AdmissionReviews the benchmarks send, as the API server sends them for a
// `kubectl apply` of a VirtualService: the new object and the stored one,
// with managedFields, and the requester.
import { randomUUID } from 'node:crypto';
import { BROKEN_SERVICE, namespaceName, virtualService, type ClusterShape } from './cluster-fixture.js';

type Json = Record<string, unknown>;

export type ReviewKind = 'pass' | 'fail';

/** What the webhook must answer, so a benchmark can check every response it times. */
export const EXPECTED_ALLOWED: Record<ReviewKind, boolean> = { pass: true, fail: false };

function withManagedFields(o: Json): Json {
  const metadata = o.metadata as Json;
  return {
    ...o,
    metadata: {
      ...metadata,
      managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'networking.istio.io/v1', time: '2025-11-03T09:14:07Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:http': {}, 'f:hosts': {} } } }],
    },
  };
}

/**
 * `pass`: the first service of the namespace goes from green 100 / blue 0 to a
 * 1 % canary on blue; every rule passes (metrics-scraped reports that it was
 * skipped when no Prometheus is configured). `fail`: the broken service jumps
 * to blue 100 and adds a `canary` subset no DestinationRule defines, at 10 %:
 * subset-exists, zero-start, version-labels, probes and pods-ready deny.
 */
export function reviewBody(kind: ReviewKind, namespace: string, uid: string = randomUUID()): Json {
  const app = kind === 'pass' ? 'reviews' : BROKEN_SERVICE;
  const old = withManagedFields(virtualService(namespace, app));
  const next = withManagedFields(virtualService(namespace, app, kind === 'pass' ? { green: 99, blue: 1 } : { green: 0, blue: 90, canary: 10 }));
  const gvk = { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' };
  const gvr = { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      name: app,
      namespace,
      operation: 'UPDATE',
      userInfo: { username: 'ci-deployer@example.com', uid: 'a3c1f2d0', groups: ['system:authenticated', 'team-shop-deployers'] },
      object: next,
      oldObject: old,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'UpdateOptions', fieldManager: 'kubectl-client-side-apply', fieldValidation: 'Strict' },
    },
  };
}

export interface EncodedReview {
  kind: ReviewKind;
  body: Buffer;
}

/**
 * `count` encoded reviews alternating pass and fail, spread over the
 * namespaces, each with its own uid (the API server never repeats one).
 */
export function reviewMix(shape: ClusterShape, count: number): EncodedReview[] {
  const out: EncodedReview[] = [];
  for (let i = 0; i < count; i++) {
    const kind: ReviewKind = i % 2 === 0 ? 'pass' : 'fail';
    const ns = namespaceName((i * 7) % shape.namespaces);
    out.push({ kind, body: Buffer.from(JSON.stringify(reviewBody(kind, ns))) });
  }
  return out;
}
