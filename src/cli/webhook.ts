// `bluegreen-guard webhook`: the admission webhook process. Its composition
// root: config is parsed once here and every part is built and wired here.
//
//   bluegreen-guard webhook [--config FILE] [--port N] [--cert-file F --key-file F] ...
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ClusterCache } from '../cluster/cluster-cache.js';
import { loadKubeAccess } from '../cluster/kube-access.js';
import { KubeListWatchClient } from '../cluster/kube-list-watch-client.js';
import { serveUntilSignal } from './process-lifecycle.js';
import { releaseHeap } from './release-heap.js';
import { MemoryClusterState } from '../cluster/memory-cluster-state.js';
import type { ListWatchClient } from '../cluster/watch-cache.js';
import { loadWebhookConfig, parseWebhookFlags, WEBHOOK_USAGE, WebhookConfigError, type WebhookConfig } from '../config/webhook-config.js';
import type { MetricsSource } from '../prometheus/metrics-source.js';
import { PrometheusMetricsSource } from '../prometheus/prometheus-metrics-source.js';
import { isGuarded, isGuardedNamespace } from '../istio/guard.js';
import { createMetricsServer } from '../http/metrics-server.js';
import { judgeGuardSwitches } from '../webhook/rules/guard-switches.js';
import { AUDIT_BREAK_GLASS_REASON, AUDIT_BREAK_GLASS_USER, breakGlass } from '../webhook/rules/break-glass.js';
import { AdmissionMetrics } from '../webhook/metrics.js';
import { PrometheusScrapeStatus } from '../webhook/prometheus-scrape-status.js';
import { StreamingScrapeReader, WorkerScrapeReader, type ScrapeReader } from '../webhook/scrape-reader.js';
import { createWebhookApp, createWebhookServer, listen } from '../webhook/server.js';
import { CertificateReloader, loadServingCertificate } from '../webhook/tls.js';
import type { ReviewInput } from '../webhook/verdict.js';
import { judgeAdmission } from '../webhook/workload-review.js';

export interface RunningWebhook {
  admissionAddress: AddressInfo;
  metricsAddress: AddressInfo;
  cache: ClusterCache;
  /** Not ready at once, keeps answering for the grace period, then closes everything. */
  stop(options?: { graceSeconds?: number }): Promise<void>;
}

export interface WebhookDeps {
  log: Logger;
  client: ListWatchClient;
}

/** Builds and starts every part of the webhook. Throws if the certificate cannot be used or a port cannot be bound. */
export async function startWebhook(config: WebhookConfig, deps: WebhookDeps): Promise<RunningWebhook> {
  const { log, client } = deps;
  const certificate = loadServingCertificate(config.tls);
  for (const warning of config.warnings) log.warn({}, warning);

  const state = new MemoryClusterState();
  const cache = new ClusterCache({
    client,
    sink: state,
    log: log.child({ component: 'cache' }),
    scope: config.kubernetes.cacheScope,
    rootNamespace: config.mesh.rootNamespace,
    isGuardedNamespace: (ns) => isGuardedNamespace(ns, config.mesh),
    istioApiVersion: config.kubernetes.istioApiVersion,
    tuning: { watchTimeoutSeconds: config.kubernetes.watchTimeoutSeconds, stallMs: config.kubernetes.stallSeconds * 1000 },
  });

  // metrics-scraped reads a background-refreshed cache of `up`, never Prometheus itself.
  const scrapeStatus = config.prometheus.url === null ? undefined : new PrometheusScrapeStatus({
    source: scrapeReader(config.prometheus.url, config.prometheus, log),
    refreshIntervalMs: config.prometheus.refreshIntervalSeconds * 1000,
    onRefresh: (o) => {
      if (!o.ok) log.warn({ component: 'scrape-status', err: o.error }, 'cannot read up from Prometheus; metrics-scraped reports pods as unknown');
    },
  });
  scrapeStatus?.start();

  let shuttingDown = false;
  const readiness = { notReady: () => (shuttingDown ? ['shutdown', ...cache.notReady()] : cache.notReady()) };
  const metrics = new AdmissionMetrics({ defaultMetrics: true, cache });
  const app = createWebhookApp({
    // The hot path reads only the in-memory state: no API call per review.
    judge: (input: ReviewInput) => judgeAdmission(input, state, config.rules, scrapeStatus),
    isGuarded: (input: ReviewInput) => {
      const obj = input.object ?? input.oldObject;
      return obj !== undefined && isGuarded(obj, state, config.mesh);
    },
    readiness,
    metrics,
    log: log.child({ component: 'admission' }),
    bodyLimitBytes: config.admission.bodyLimitBytes,
    admissionPath: config.admission.path,
    workBound: config.admission.workBound,
    maxConcurrentReviews: config.admission.maxConcurrentReviews,
    maxQueuedReviews: config.admission.maxQueuedReviews,
    // Ten concurrent 6 MiB reviews would otherwise grow the heap past the chart's memory limit (docs/security.md).
    afterLargeReview: () => void releaseHeap(),
    guardSwitches: (input: ReviewInput) => {
      const obj = input.object ?? input.oldObject;
      return judgeGuardSwitches(input, obj !== undefined && isGuardedNamespace(state.namespace(obj.metadata.namespace), config.mesh), config.rules);
    },
    // A review that errors is refused; break-glass is the way through, as for any denial.
    override: (input: ReviewInput) => {
      const glass = breakGlass((input.object ?? input.oldObject)?.metadata.annotations, input.requester, config.rules);
      return glass.kind === 'honoured'
        ? { honoured: true, auditAnnotations: { [AUDIT_BREAK_GLASS_REASON]: glass.reason, [AUDIT_BREAK_GLASS_USER]: input.requester.username } }
        : { honoured: false };
    },
  });

  const server = createWebhookServer(app, certificate, { handshakeTimeoutMs: config.admission.handshakeTimeoutMs, maxConnections: config.admission.maxConnections });
  server.on('tlsClientError', (e) => log.debug({ err: e.message }, 'TLS handshake failed'));
  const reloader = new CertificateReloader(config.tls, certificate, {
    onChange: (c) => server.setSecureContext({ cert: c.cert, key: c.key, minVersion: 'TLSv1.2' }),
    log: log.child({ component: 'tls' }),
    pollIntervalMs: config.tls.pollIntervalSeconds * 1000,
  });
  const metricsServer = createMetricsServer(metrics.registry, readiness);

  cache.start();
  reloader.start();
  let admissionAddress: AddressInfo;
  let metricsAddress: AddressInfo;
  try {
    admissionAddress = await listen(server, config.admission.port, config.admission.host);
    metricsAddress = await listen(metricsServer, config.metrics.port, config.metrics.host);
  } catch (e) {
    reloader.stop();
    scrapeStatus?.stop();
    await cache.stop();
    await closeServer(server, 0);
    throw new Error(`cannot listen: ${(e as Error).message}; fix: choose free ports (admission.port, metrics.port)`, { cause: e });
  }
  log.info(
    {
      admission: `https://${admissionAddress.address}:${admissionAddress.port}${config.admission.path}`,
      metrics: `http://${metricsAddress.address}:${metricsAddress.port}/metrics`,
      cacheScope: config.kubernetes.cacheScope,
      mesh: config.mesh,
      prometheus: config.prometheus.url ?? 'none: metrics-scraped is skipped',
      modes: config.rules.modes,
      certificate: { subject: certificate.subject, subjectAltName: certificate.subjectAltName, validTo: certificate.validTo },
    },
    'webhook listening; ready once the watch caches have synced',
  );
  const started = Date.now();
  void cache.synced().then(() => {
    if (shuttingDown) return;
    // The initial lists leave the heap grown for their garbage: give it back once (docs/benchmarks.md, memory).
    const heapReleaseMs = releaseHeap();
    log.info({ kinds: cache.kinds(), syncMs: Date.now() - started, heapReleaseMs, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) }, 'watch caches synced; ready');
  });

  return {
    admissionAddress,
    metricsAddress,
    cache,
    stop: async ({ graceSeconds = config.shutdownGraceSeconds } = {}) => {
      if (shuttingDown) return;
      shuttingDown = true;
      log.info({ graceSeconds }, 'shutting down: not ready, still answering during the grace period');
      await sleep(graceSeconds * 1000);
      reloader.stop();
      scrapeStatus?.stop();
      await Promise.all([closeServer(server, 10_000), closeServer(metricsServer, 1_000), cache.stop()]);
      log.info({}, 'webhook stopped');
    },
  };
}

/** Stops accepting, lets requests in flight finish (up to `timeoutMs`), then cuts what is left. */
async function closeServer(server: HttpsServer | HttpServer, timeoutMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}

export async function run(argv: string[]): Promise<number> {
  let config: WebhookConfig;
  try {
    if (parseWebhookFlags(argv).help) {
      process.stdout.write(`${WEBHOOK_USAGE}\n`);
      return 0;
    }
    config = loadWebhookConfig(argv);
  } catch (e) {
    const message = e instanceof WebhookConfigError ? e.message : `${(e as Error).message}\n\n${WEBHOOK_USAGE}`;
    process.stderr.write(`bluegreen-guard webhook: ${message}\n`);
    return 2;
  }

  return serveUntilSignal('webhook', config.logLevel, async (log) =>
    startWebhook(config, { log, client: new KubeListWatchClient(await loadKubeAccess(config.kubernetes.kubeconfig, config.kubernetes.context)) }),
  );
}

/**
 * How the `up` refresh reads its answer (prometheus.refreshIn): `stream`, the
 * default, on this thread as it arrives, yielding to the reviews between
 * chunks; `worker` in a worker thread (run from the TypeScript sources, the
 * tests, there is no compiled worker and it runs here); `main` in one parse.
 */
function scrapeReader(url: string, prometheus: WebhookConfig['prometheus'], log: Logger): ScrapeReader | MetricsSource {
  const { timeoutMs } = prometheus;
  const workerFile = WorkerScrapeReader.workerFile();
  if (prometheus.refreshIn === 'stream') return new StreamingScrapeReader({ url, timeoutMs });
  if (prometheus.refreshIn === 'main') return new PrometheusMetricsSource({ url, timeoutMs });
  if (existsSync(fileURLToPath(workerFile))) return new WorkerScrapeReader({ url, timeoutMs }, workerFile);
  log.info({ component: 'scrape-status' }, 'no compiled scrape-status worker beside the webhook: up is read on the admission thread');
  return new PrometheusMetricsSource({ url, timeoutMs });
}
