import { beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { Express } from 'express';
import { Registry } from 'prom-client';
import { createWebhookApp } from '../../src/webhook/server.js';
import { AdmissionMetrics } from '../../src/webhook/metrics.js';
import { WARNING_MAX_RUNES, WARNINGS_TOTAL_MAX_RUNES, type AdmissionReviewResponse } from '../../src/webhook/admission.js';
import type { Finding, ReviewInput, ReviewVerdict } from '../../src/webhook/verdict.js';
import { admissionReview, destinationRule, virtualService } from '../support/admission-review.js';

const LIMIT = 64 * 1024;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f]/;

interface Harness {
  app: Express;
  inputs: ReviewInput[];
  logs: { level: string; fields: Record<string, unknown>; message: string }[];
  registry: Registry;
  setVerdict(v: ReviewVerdict | (() => ReviewVerdict)): void;
  setGuarded(g: boolean): void;
  setNotReady(kinds: string[]): void;
}

function harness(): Harness {
  const inputs: ReviewInput[] = [];
  const logs: Harness['logs'] = [];
  let verdict: ReviewVerdict | (() => ReviewVerdict) = { allowed: true, findings: [], auditAnnotations: {} };
  let guarded = true;
  let notReady: string[] = [];
  const registry = new Registry();
  const app = createWebhookApp({
    judge: (input) => {
      inputs.push(input);
      return typeof verdict === 'function' ? verdict() : verdict;
    },
    isGuarded: () => guarded,
    readiness: { notReady: () => notReady },
    metrics: new AdmissionMetrics({ registry }),
    log: {
      info: (fields, message) => logs.push({ level: 'info', fields: fields as Record<string, unknown>, message }),
      warn: (fields, message) => logs.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
    },
    bodyLimitBytes: LIMIT,
  });
  return {
    app,
    inputs,
    logs,
    registry,
    setVerdict: (v) => (verdict = v),
    setGuarded: (g) => (guarded = g),
    setNotReady: (k) => (notReady = k),
  };
}

const post = (app: Express, body: unknown) =>
  request(app).post('/validate').set('Content-Type', 'application/json').send(JSON.stringify(body));

const reviewOf = (res: { body: unknown }): AdmissionReviewResponse => res.body as AdmissionReviewResponse;

const finding = (rule: Finding['rule'], severity: Finding['severity'], message: string): Finding => ({
  rule,
  severity,
  object: 'VirtualService/shop/web',
  message,
});

describe('admission transport', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  it.each([
    ['VirtualService', 'v1'],
    ['VirtualService', 'v1beta1'],
    ['VirtualService', 'v1alpha3'],
    ['DestinationRule', 'v1'],
    ['DestinationRule', 'v1beta1'],
    ['DestinationRule', 'v1alpha3'],
  ])('answers a %s %s review, echoing uid, apiVersion and kind', async (kind, version) => {
    const object = kind === 'VirtualService' ? virtualService() : destinationRule();
    object.apiVersion = `networking.istio.io/${version}`;
    const review = admissionReview(object, { uid: `uid-${kind}-${version}` });
    const res = await post(h.app, review);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: `uid-${kind}-${version}`, allowed: true } });
    expect(h.inputs).toHaveLength(1);
    expect(h.inputs[0]?.object?.kind).toBe(kind);
    expect(h.inputs[0]?.object?.metadata).toMatchObject({ name: 'web', namespace: 'shop' });
  });

  it('hands the rules a slim object, the old object, the requester and dryRun', async () => {
    const old = virtualService('shop', 'web', { green: 100, blue: 0 });
    const next = virtualService('shop', 'web', { green: 90, blue: 10 });
    (next.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl' }];
    await post(h.app, admissionReview(next, { oldObject: old, dryRun: true, username: 'ci-bot', groups: ['deployers'] })).expect(200);
    const input = h.inputs[0];
    expect(input?.operation).toBe('UPDATE');
    expect(input?.dryRun).toBe(true);
    expect(input?.requester).toEqual({ username: 'ci-bot', groups: ['deployers'] });
    expect(input?.object?.metadata).not.toHaveProperty('managedFields');
    expect(input?.object?.metadata.annotations).toEqual({ 'bluegreen-guard.io/stable-subset': 'green' });
    expect(input?.object?.kind === 'VirtualService' && input.object.spec).toEqual(next.spec);
    expect(input?.oldObject?.kind === 'VirtualService' && input.oldObject.spec).toEqual(old.spec);
  });

  it('passes a DELETE with only the old object', async () => {
    await post(h.app, admissionReview(destinationRule(), { operation: 'DELETE' })).expect(200);
    expect(h.inputs[0]?.operation).toBe('DELETE');
    expect(h.inputs[0]?.object).toBeUndefined();
    expect(h.inputs[0]?.oldObject?.kind).toBe('DestinationRule');
  });

  it('fills in namespace and name from the request when the object lacks them', async () => {
    const vs = virtualService();
    vs.metadata = { generateName: 'web-' };
    const review = admissionReview(vs, { operation: 'CREATE' });
    const req = review.request as Record<string, unknown>;
    req.namespace = 'shop';
    req.name = 'web-x1';
    await post(h.app, review).expect(200);
    expect(h.inputs[0]?.object?.metadata).toMatchObject({ namespace: 'shop', name: 'web-x1' });
  });

  it('denies with status 403 and the deny findings joined, warnings apart', async () => {
    h.setVerdict({
      allowed: false,
      findings: [
        finding('subset-exists', 'deny', 'VirtualService shop/web routes to subset "blu" that no DestinationRule for web defines: add it or fix the name.'),
        finding('canary-first', 'warn', 'blue goes from 0% to 50% without a canary step.'),
        finding('probes', 'deny', 'Deployment shop/web-v2 container web has no readinessProbe: add one.'),
      ],
      auditAnnotations: {},
    });
    const review = admissionReview(virtualService());
    const res = await post(h.app, review).expect(200);
    expect(reviewOf(res).response).toEqual({
      uid: (review.request as { uid: string }).uid,
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message:
          '[subset-exists] VirtualService shop/web routes to subset "blu" that no DestinationRule for web defines: add it or fix the name.; [probes] Deployment shop/web-v2 container web has no readinessProbe: add one.',
      },
      warnings: ['[canary-first] blue goes from 0% to 50% without a canary step.'],
    });
  });

  it('turns every finding of an allowed review into a warning and passes audit annotations through', async () => {
    h.setVerdict({
      allowed: true,
      exemption: 'break-glass',
      findings: [finding('pods-ready', 'deny', 'Deployment shop/web-v2 has 1 of 3 replicas ready.')],
      auditAnnotations: { 'break-glass': 'jane@example.com: incident 4711' },
    });
    const res = await post(h.app, admissionReview(virtualService())).expect(200);
    expect(reviewOf(res).response.allowed).toBe(true);
    expect(reviewOf(res).response.status).toBeUndefined();
    expect(reviewOf(res).response.warnings).toEqual(['[pods-ready] Deployment shop/web-v2 has 1 of 3 replicas ready.']);
    expect(reviewOf(res).response.auditAnnotations).toEqual({ 'break-glass': 'jane@example.com: incident 4711' });
  });

  it('keeps warnings within what the API server passes on unchanged', async () => {
    const long = 'é'.repeat(400) + '\nsecond line';
    h.setVerdict({
      allowed: true,
      findings: [finding('canary-first', 'warn', 'line one\nline two'), ...Array.from({ length: 30 }, () => finding('probes', 'warn', long))],
      auditAnnotations: {},
    });
    const res = await post(h.app, admissionReview(virtualService())).expect(200);
    const warnings = reviewOf(res).response.warnings ?? [];
    expect(warnings[0]).toBe('[canary-first] line one line two');
    const runes = (s: string) => [...s].length;
    for (const w of warnings) {
      expect(runes(w)).toBeLessThanOrEqual(WARNING_MAX_RUNES);
      expect(w).not.toMatch(CONTROL_CHARS);
    }
    expect(runes(warnings[1] ?? '')).toBe(WARNING_MAX_RUNES);
    expect(warnings.reduce((n, w) => n + runes(w), 0)).toBeLessThanOrEqual(WARNINGS_TOTAL_MAX_RUNES);
    expect(warnings[warnings.length - 1]).toMatch(/^\d+ more warnings not shown/);
    expect(warnings.length).toBeLessThan(31);
  });

  it('allows objects that are not guarded without running the rules', async () => {
    h.setGuarded(false);
    const res = await post(h.app, admissionReview(virtualService())).expect(200);
    expect(reviewOf(res).response.allowed).toBe(true);
    expect(h.inputs).toHaveLength(0);
    expect(h.logs.find((l) => l.message === 'admission review')?.fields).toMatchObject({ verdict: 'exempt', exemption: 'not-guarded' });
  });

  it.each([
    ['another kind', { group: 'networking.istio.io', version: 'v1', kind: 'Gateway' }, undefined],
    ['an unknown Istio version', { group: 'networking.istio.io', version: 'v2', kind: 'VirtualService' }, undefined],
    ['the status subresource', { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' }, 'status'],
  ])('allows %s without judging it', async (_name, kind, subResource) => {
    const review = admissionReview(virtualService());
    const req = review.request as Record<string, unknown>;
    req.kind = kind;
    (req.object as Record<string, unknown>).kind = kind.kind;
    (req.oldObject as Record<string, unknown>).kind = kind.kind;
    if (subResource) req.subResource = subResource;
    const res = await post(h.app, review).expect(200);
    expect(reviewOf(res).response).toEqual({ uid: req.uid, allowed: true });
    expect(h.inputs).toHaveLength(0);
    expect(h.logs.find((l) => l.message === 'admission review')?.fields).toMatchObject({ verdict: 'skipped' });
  });

  describe('refuses malformed requests and keeps serving', () => {
    const bigVs = () => {
      const vs = virtualService();
      (vs.metadata as Record<string, unknown>).annotations = { filler: 'x'.repeat(LIMIT) };
      return JSON.stringify(admissionReview(vs));
    };

    it.each<[string, (app: Express) => request.Test, number, RegExp]>([
      ['an empty body', (app) => request(app).post('/validate').set('Content-Type', 'application/json'), 400, /body is empty/],
      ['a body over the limit', (app) => request(app).post('/validate').set('Content-Type', 'application/json').send(bigVs()), 413, new RegExp(`larger than ${LIMIT} bytes`)],
      ['a non-JSON content type', (app) => request(app).post('/validate').set('Content-Type', 'text/plain').send('{}'), 415, /content type must be application\/json, got "text\/plain"/],
      ['a body without content type', (app) => request(app).post('/validate').send(Buffer.from('{}')), 415, /content type is missing/],
      ['a non-UTF-8 charset', (app) => request(app).post('/validate').set('Content-Type', 'application/json; charset=latin1').send('{}'), 415, /content type/],
      ['a compressed body', (app) => request(app).post('/validate').set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{}'), 415, /encoding "gzip"/],
      ['malformed JSON', (app) => request(app).post('/validate').set('Content-Type', 'application/json').send('{"kind": "AdmissionReview",'), 400, /not valid JSON/],
      ['a JSON array', (app) => post(app, []), 400, /must be a JSON object/],
      ['a review without request', (app) => post(app, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 400, /request is missing/],
      [
        'a review without request.uid',
        (app) => {
          const r = admissionReview(virtualService());
          delete (r.request as Record<string, unknown>).uid;
          return post(app, r);
        },
        400,
        /request\.uid is missing/,
      ],
      [
        'an admission.k8s.io/v1beta1 review',
        (app) => post(app, { ...admissionReview(virtualService()), apiVersion: 'admission.k8s.io/v1beta1' }),
        400,
        /apiVersion must be "admission\.k8s\.io\/v1"/,
      ],
      ['another kind of body', (app) => post(app, { apiVersion: 'v1', kind: 'Pod' }), 400, /kind must be "AdmissionReview"/],
    ])('%s', async (_name, send, status, message) => {
      const res = await send(h.app);
      expect(res.status).toBe(status);
      expect(reviewOf(res).kind).toBe('AdmissionReview');
      expect(reviewOf(res).response.allowed).toBe(false);
      expect(reviewOf(res).response.status?.code).toBe(status);
      expect(reviewOf(res).response.status?.message).toMatch(message);
      expect(h.inputs).toHaveLength(0);
      expect(h.logs.filter((l) => l.message === 'admission request refused')).toHaveLength(1);
      // The next well-formed review is answered normally.
      const ok = await post(h.app, admissionReview(virtualService(), { uid: 'after' })).expect(200);
      expect(reviewOf(ok).response).toEqual({ uid: 'after', allowed: true });
      expect(await h.registry.getSingleMetricAsString('bluegreen_guard_admission_rejected_requests_total')).toContain(`code="${status}"} 1`);
    });

    it('keeps a uid that was present when the envelope is wrong', async () => {
      const r = { ...admissionReview(virtualService(), { uid: 'kept-too' }), kind: 'Wrong' };
      const res = await post(h.app, r).expect(400);
      expect(reviewOf(res).response.uid).toBe('kept-too');
    });

    it('refuses nesting deeper than the limit with 400, keeping the uid, and keeps serving', async () => {
      // The crash input: a top-level kind nested 10,000 deep, about 20 KB.
      const body = JSON.stringify(admissionReview(virtualService(), { uid: 'deep' })).replace('"kind":"AdmissionReview"', `"kind":${'['.repeat(10_000)}${']'.repeat(10_000)}`);
      const res = await request(h.app).post('/validate').set('Content-Type', 'application/json').send(body).expect(400);
      expect(reviewOf(res).response).toMatchObject({ uid: 'deep', allowed: false, status: { code: 400, message: expect.stringMatching(/deeper than 100 levels/) } });
      await post(h.app, admissionReview(virtualService(), { uid: 'after-deep' })).expect(200);
    });

    it('accepts nesting up to the limit; brackets inside strings do not count', async () => {
      const vs = virtualService();
      (vs.metadata as Record<string, unknown>).annotations = { note: '['.repeat(500) };
      await post(h.app, admissionReview(vs)).expect(200);
    });

    it('keeps the uid when the review is refused after the uid was read', async () => {
      const r = admissionReview(virtualService(), { uid: 'kept' });
      (r.request as Record<string, unknown>).operation = 'PATCH';
      const res = await post(h.app, r).expect(400);
      expect(reviewOf(res).response.uid).toBe('kept');
      expect(reviewOf(res).response.status?.message).toMatch(/request\.operation must be one of/);
    });
  });

  it.each<[string, (r: Record<string, unknown>) => void, RegExp]>([
    ['an UPDATE without object', (r) => (r.object = null), /request\.object is missing/],
    ['an object without spec', (r) => delete (r.object as Record<string, unknown>).spec, /request\.object\.spec is missing/],
    ['an object whose kind contradicts the request', (r) => ((r.object as Record<string, unknown>).kind = [[['VirtualService']]]), /request\.object\.kind is an array of 1 but/],
  ])('answers %s with a denial (HTTP 200), so failurePolicy Ignore cannot admit it', async (_name, edit, message) => {
    const r = admissionReview(virtualService(), { uid: 'bad-object' });
    edit(r.request as Record<string, unknown>);
    const res = await post(h.app, r).expect(200);
    expect(reviewOf(res).response).toMatchObject({ uid: 'bad-object', allowed: false, status: { code: 400, reason: 'BadRequest', message: expect.stringMatching(message) } });
    expect(h.inputs).toHaveLength(0);
    expect(h.logs.find((l) => l.message === 'admission review')?.fields).toMatchObject({ uid: 'bad-object', verdict: 'refused' });
    expect(await h.registry.getSingleMetricAsString('bluegreen_guard_admission_reviews_total')).toContain('outcome="refused"} 1');
  });

  it('refuses an object past the work bound before any rule runs', async () => {
    const vs = virtualService();
    (vs.spec as Record<string, unknown>).http = Array.from({ length: 1_001 }, () => ({}));
    const res = await request(h.app).post('/validate').set('Content-Type', 'application/json').send(JSON.stringify(admissionReview(vs, { uid: 'wide' })));
    expect(res.status).toBe(200);
    expect(reviewOf(res).response).toMatchObject({ uid: 'wide', allowed: false, status: { code: 400, message: expect.stringMatching(/has 1001 routes \(limit 1000\)/) } });
    expect(h.inputs).toHaveLength(0);
  });

  it('answers a throw inside the rules with a denial that keeps the uid, and keeps serving', async () => {
    h.setVerdict(() => {
      throw new TypeError("Cannot read properties of undefined (reading 'subsets')");
    });
    const res = await post(h.app, admissionReview(virtualService(), { uid: 'boom' }));
    // Not a 500: with failurePolicy Ignore the API server would admit the change unreviewed.
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'boom',
        allowed: false,
        status: { code: 500, reason: 'InternalError', message: expect.stringContaining("reviewing VirtualService shop/web failed: Cannot read properties of undefined (reading 'subsets'); refused because") },
      },
    });
    expect(h.logs.find((l) => l.message === 'admission review')?.fields).toMatchObject({ uid: 'boom', verdict: 'refused' });
    h.setVerdict({ allowed: true, findings: [], auditAnnotations: {} });
    await post(h.app, admissionReview(virtualService(), { uid: 'fine' })).expect(200);
  });

  it('lets break-glass through a review that errored, with audit annotations', async () => {
    const app = createWebhookApp({
      judge: () => {
        throw new Error('rule exploded');
      },
      isGuarded: () => true,
      readiness: { notReady: () => [] },
      metrics: new AdmissionMetrics({ registry: new Registry() }),
      log: { info: () => undefined, warn: () => undefined },
      bodyLimitBytes: LIMIT,
      override: (input) => (input.requester.groups.includes('sre') ? { honoured: true, auditAnnotations: { 'break-glass-user': input.requester.username } } : { honoured: false }),
    });
    const sre = admissionReview(virtualService(), { uid: 'sre' });
    (sre.request as Record<string, unknown>).userInfo = { username: 'ada', groups: ['sre'] };
    expect(reviewOf(await post(app, sre).expect(200)).response).toEqual({ uid: 'sre', allowed: true, auditAnnotations: { 'break-glass-user': 'ada' } });
    const dev = admissionReview(virtualService(), { uid: 'dev' });
    (dev.request as Record<string, unknown>).userInfo = { username: 'bob', groups: ['dev'] };
    expect(reviewOf(await post(app, dev).expect(200)).response.allowed).toBe(false);
  });

  it('writes one log line per review with uid, object, verdict, rules and latency', async () => {
    h.setVerdict({
      allowed: false,
      findings: [finding('zero-start', 'deny', 'a'), finding('zero-start', 'deny', 'b'), finding('canary-first', 'warn', 'c')],
      auditAnnotations: {},
    });
    await post(h.app, admissionReview(virtualService('shop', 'web'), { uid: 'u-7', dryRun: true })).expect(200);
    const lines = h.logs.filter((l) => l.message === 'admission review');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toEqual({
      uid: 'u-7',
      kind: 'VirtualService',
      namespace: 'shop',
      name: 'web',
      operation: 'UPDATE',
      dryRun: true,
      verdict: 'denied',
      rules: ['zero-start', 'canary-first'],
      latencyMs: expect.any(Number),
    });
  });

  it('counts and times reviews by deciding rule and outcome', async () => {
    h.setVerdict({ allowed: false, findings: [finding('canary-first', 'warn', 'c'), finding('weights', 'deny', 'w')], auditAnnotations: {} });
    await post(h.app, admissionReview(virtualService())).expect(200);
    await post(h.app, admissionReview(virtualService())).expect(200);
    h.setVerdict({ allowed: true, findings: [], auditAnnotations: {} });
    await post(h.app, admissionReview(virtualService())).expect(200);
    const text = await h.registry.metrics();
    expect(text).toContain('bluegreen_guard_admission_reviews_total{rule="weights",outcome="denied"} 2');
    expect(text).toContain('bluegreen_guard_admission_reviews_total{rule="none",outcome="allowed"} 1');
    expect(text).toContain('bluegreen_guard_admission_review_duration_seconds_count{rule="weights",outcome="denied"} 2');
    expect(text).toContain('bluegreen_guard_admission_findings_total{rule="canary-first",severity="warn"} 2');
  });
});

describe('health endpoints', () => {
  it('is live at once and ready only when nothing is waiting', async () => {
    const h = harness();
    h.setNotReady(['Pod', 'DestinationRule']);
    await request(h.app).get('/live').expect(200);
    const notReady = await request(h.app).get('/ready').expect(503);
    expect(notReady.body).toEqual({ status: 'not ready', waitingFor: ['Pod', 'DestinationRule'] });
    h.setNotReady([]);
    await request(h.app).get('/ready').expect(200);
  });

  it('answers unknown paths with 404 naming the admission path', async () => {
    const res = await request(harness().app).get('/validate').expect(404);
    expect(res.text).toMatch(/POST \/validate/);
  });
});
