// The webhook's HTTPS face: one admission route with its wrappers composed
// here, where it is registered, plus the health endpoints.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { admissionTransport } from './admission-transport.js';
import {
  compose,
  DEFAULT_WORK_BOUND,
  judgeHandler,
  withErroredAsRefused,
  withErrorsAsErrored,
  withGuardFilter,
  withGuardSwitches,
  withReviewLog,
  withWorkBound,
  type Judge,
  type OverrideCheck,
  type ReviewLogLine,
  type WorkBound,
} from './admission-wrappers.js';
import { healthResponse, type Readiness } from '../http/health.js';
import type { AdmissionMetrics } from './metrics.js';
import type { ServingCertificate } from './tls.js';
import type { GuardSwitchVerdict } from './rules/guard-switches.js';
import type { ReviewInput } from './verdict.js';

export const DEFAULT_ADMISSION_PATH = '/validate';

/** Where review lines and refused requests are written; a pino logger fits. */
export interface WebhookLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface WebhookAppOptions {
  judge: Judge;
  /** Objects that are not guarded are allowed without running the rules. */
  isGuarded: (input: ReviewInput) => boolean;
  readiness: Readiness;
  metrics: AdmissionMetrics;
  log: WebhookLog;
  bodyLimitBytes: number;
  admissionPath?: string;
  /** Who may set the guard's own switches (guard-off, stable subset on CREATE); default: no check. */
  guardSwitches?: (input: ReviewInput) => GuardSwitchVerdict;
  /** Who may override a review that errored (break-glass); default: nobody. */
  override?: OverrideCheck;
  workBound?: WorkBound;
  /** See TransportOptions.afterLargeReview. */
  afterLargeReview?: () => void;
  maxConcurrentReviews?: number;
  maxQueuedReviews?: number;
}

export function createWebhookApp(options: WebhookAppOptions): Express {
  const { metrics, log } = options;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  const reviewHandler = compose(
    [
      withReviewLog((line: ReviewLogLine) => log.info(line, 'admission review')),
      metrics.wrapper(),
      withErroredAsRefused(options.override ?? (() => ({ honoured: false }))),
      withErrorsAsErrored(),
      withGuardSwitches(options.guardSwitches ?? (() => ({ kind: 'none' }))),
      withGuardFilter(options.isGuarded),
      withWorkBound(options.workBound ?? DEFAULT_WORK_BOUND),
    ],
    judgeHandler(options.judge),
  );
  app.post(
    options.admissionPath ?? DEFAULT_ADMISSION_PATH,
    admissionTransport(reviewHandler, {
      bodyLimitBytes: options.bodyLimitBytes,
      ...(options.maxConcurrentReviews !== undefined ? { maxConcurrentReviews: options.maxConcurrentReviews } : {}),
      ...(options.maxQueuedReviews !== undefined ? { maxQueuedReviews: options.maxQueuedReviews } : {}),
      ...(options.afterLargeReview ? { afterLargeReview: options.afterLargeReview } : {}),
      onFault: (e) => log.warn({ err: e instanceof Error ? e.stack : String(e) }, 'admission seam caught a fault; the request got a 500 and the webhook keeps serving'),
      onRejected: (r) => {
        metrics.observeRejected(r.httpStatus);
        log.warn({ uid: r.uid, httpStatus: r.httpStatus, reason: r.message }, 'admission request refused');
      },
    }),
  );

  for (const path of ['/live', '/ready']) {
    app.get(path, (_req, res) => {
      const health = healthResponse(path, options.readiness);
      if (health) res.status(health.status).type('application/json').send(health.body);
    });
  }
  app.use((req, res) => {
    res.status(404).type('text/plain').send(`not found: ${req.method} ${req.path}; admission reviews go to POST ${options.admissionPath ?? DEFAULT_ADMISSION_PATH}\n`);
  });
  return app;
}

export interface ConnectionLimits {
  /** A client that has not finished the TLS handshake by then is cut (Node's default is 120 s). */
  handshakeTimeoutMs: number;
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { handshakeTimeoutMs: 10_000, maxConnections: 256 };

/**
 * An HTTPS server for the app. Idle connections stay open longer than the API
 * server's client keeps them (90 s), so it never sends a review on a connection
 * we are closing.
 */
export function createWebhookServer(app: Express, certificate: ServingCertificate, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS): Server {
  const server = createServer({ cert: certificate.cert, key: certificate.key, minVersion: 'TLSv1.2', handshakeTimeout: limits.handshakeTimeoutMs }, app);
  // Past the cap new connections are dropped at accept; the API server opens a handful per replica.
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = 95_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 30_000;
  return server;
}

/** Listen and resolve with the bound address (port 0 picks a free one). */
export function listen(server: { listen(port: number, host: string, cb: () => void): unknown; address(): AddressInfo | string | null; once(ev: 'error', cb: (e: Error) => void): unknown }, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      if (address && typeof address === 'object') resolve(address);
      else reject(new Error(`listening on ${host}:${port} gave no address`));
    });
  });
}
