// `bluegreen-guard watcher`: the in-cluster watcher process and its
// composition root. Config is parsed once here; every part is built here and
// handed its ports: watch caches, Prometheus, Alertmanager, the Lease, the
// VirtualService patcher, Events, the promotion label, the loop, and the
// plain-HTTP port for /metrics, /live and /ready.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { AlertmanagerAlertSink, type AlertSink } from '../alertmanager/alert-sink.js';
import { RetryingAlertSink } from '../alertmanager/retrying-alert-sink.js';
import { AlertmanagerFiringAlertSource } from '../alertmanager/firing-alert-source.js';
import type { IstioApiVersion } from '../cluster/cluster-cache.js';
import { KubernetesDeploymentPromoter } from '../cluster/deployment-labeler.js';
import { KubernetesSubsetPods } from '../cluster/kubernetes-subset-pods.js';
import { measureRecovery } from '../watcher/recovery-probe.js';
import { runSmokeTest } from '../watcher/smoke-test.js';
import { KubernetesEventRecorder } from '../cluster/events.js';
import { kubeConfigAccess } from '../cluster/kube-access.js';
import { KubeListWatchClient } from '../cluster/kube-list-watch-client.js';
import { KubernetesLeaseStore } from '../cluster/kubernetes-lease-store.js';
import { KubernetesVirtualServiceStore } from '../cluster/kubernetes-virtual-service-store.js';
import { LeaseElector } from '../cluster/lease-elector.js';
import { VirtualServicePatcher } from '../watcher/virtual-service-patcher.js';
import { WatcherCaches } from '../cluster/watcher-caches.js';
import { parseWatcherConfig, WatcherConfigError, type WatcherConfig } from '../config/watcher-config.js';
import type { MetricsSource } from '../prometheus/metrics-source.js';
import { PrometheusMetricsSource } from '../prometheus/prometheus-metrics-source.js';
import { MetricsCycleEvaluator } from '../watcher/cycle-evaluator.js';
import { WatcherLoop } from '../watcher/loop.js';
import { DrillCoordinator } from '../watcher/drills.js';
import { PrometheusDrillTraffic } from '../watcher/drill-traffic.js';
import { WatcherMetrics } from '../watcher/watcher-metrics.js';
import { createMetricsServer } from '../http/metrics-server.js';
import { loadKubeConfig } from './kube-config.js';
import { serveUntilSignal } from './process-lifecycle.js';

export const WATCHER_USAGE = `usage: bluegreen-guard watcher [options]

Evaluates the rollback thresholds of every guarded VirtualService whose
candidate gets traffic and rolls it back to the stable subset on a breach.
One replica acts at a time (a coordination.k8s.io Lease).

options:
  --config FILE             watcher configuration (YAML); defaults are the runbook's
  --dry-run                 decide and alert, never patch (overrides the file)
  --prometheus URL          Prometheus base URL (overrides prometheusUrl)
  --alertmanager URL        Alertmanager base URL (overrides alertmanagerUrl)
  --kubeconfig FILE         default: $KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount
  --context NAME            kubeconfig context
  --identity NAME           this replica's name in the Lease (default: $POD_NAME, else the host name)
  --metrics-port N          plain-HTTP port for /metrics, /live, /ready (default 9090)
  --metrics-host HOST       default 0.0.0.0
  --istio-api-version V     networking.istio.io version: v1 (default), v1beta1, v1alpha3
  --root-namespace NS       deprecated: set mesh.rootNamespace in the config file
  --cluster-domain DOMAIN   deprecated: set mesh.clusterDomain in the config file
  --log-level LEVEL         debug, info (default), warn, error
  -h, --help`;

/** Process settings that are not part of the watcher's rules: where it runs and how it talks to the cluster. */
export interface WatcherProcessOptions {
  identity: string;
  metricsPort: number;
  metricsHost: string;
  istioApiVersion: IstioApiVersion;
}

export interface RunningWatcher {
  metricsAddress: AddressInfo;
  elector: LeaseElector;
  loop: WatcherLoop;
  caches: WatcherCaches;
  metrics: WatcherMetrics;
  /** Stops the loop (waiting for the cycle in flight), releases the Lease, closes caches and the port. */
  stop(): Promise<void>;
}

export interface WatcherDeps {
  log: Logger;
  kubeConfig: KubeConfig;
}

/** Builds and starts every part of the watcher. Throws if the metrics port cannot be bound. */
export async function startWatcher(config: WatcherConfig, options: WatcherProcessOptions, deps: WatcherDeps): Promise<RunningWatcher> {
  const { log, kubeConfig } = deps;
  const clock = { now: () => new Date() };
  const metrics = new WatcherMetrics({ defaultMetrics: true });

  const caches = new WatcherCaches({ client: new KubeListWatchClient(kubeConfigAccess(kubeConfig)), log: log.child({ component: 'cache' }), istioApiVersion: options.istioApiVersion });
  const store = new KubernetesVirtualServiceStore(kubeConfig.makeApiClient(CustomObjectsApi), options.istioApiVersion);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  const source: MetricsSource = config.prometheusUrl
    ? new PrometheusMetricsSource({ url: config.prometheusUrl, timeoutMs: config.prometheusTimeoutMs, onQuery: (e) => metrics.prometheusQuery(e) })
    : noPrometheus;
  const alertmanager = config.alertmanagerUrl ? { url: config.alertmanagerUrl, timeoutMs: config.alertmanagerTimeoutMs } : undefined;
  // What Alertmanager does not take is kept and re-sent with backoff until it does (bounded).
  const retrying = alertmanager
    ? new RetryingAlertSink(new AlertmanagerAlertSink(alertmanager), {
        pending: (n) => metrics.alertsPending(n),
        dropped: (n) => {
          metrics.alertsDropped(n);
          log.error({ dropped: n }, 'too many undelivered alerts: the oldest are given up');
        },
        delivered: (n, attempts) => {
          if (attempts > 1) log.info({ alerts: n, attempts }, 'Alertmanager took the alerts it had refused');
        },
      })
    : undefined;
  const sink: AlertSink = retrying ?? { send: () => Promise.resolve() };
  if (!config.prometheusUrl) log.warn({}, 'prometheusUrl is empty: every service is judged blind (no rollback on metrics); fix: set prometheusUrl');
  if (!alertmanager) log.warn({}, 'alertmanagerUrl is empty: the critical-alert rule is off and no alert is posted; fix: set alertmanagerUrl');
  for (const warning of config.warnings) log.warn({}, warning);

  const subsetPods = new KubernetesSubsetPods(core);
  const evaluator = new MetricsCycleEvaluator({
    source,
    config,
    // Each answer to the read of firing alerts says Alertmanager is up: undelivered alerts go at once.
    ...(alertmanager ? { firingAlerts: new AlertmanagerFiringAlertSource({ ...alertmanager, ...config.alerts, onAnswered: () => retrying?.alertmanagerAnswered() }) } : {}),
  });
  const patcher = new VirtualServicePatcher(store, { mesh: config.mesh });
  const events = new KubernetesEventRecorder(core, options.identity);
  const leading = { isLeader: () => elector.isLeader() };
  const alertLabels = { extraLabels: config.alerts.extraLabels, generatorUrl: config.alerts.generatorUrl ?? config.prometheusUrl };
  const drills = new DrillCoordinator({
    drill: {
      store,
      rollBack: (vs, request) => patcher.rollBack(vs, request),
      traffic: new PrometheusDrillTraffic(source),
      // Not the retrying sink: the drill checks that Alertmanager takes its alert now.
      alerts: alertmanager ? new AlertmanagerAlertSink(alertmanager) : { send: () => Promise.reject(new Error('alertmanagerUrl is empty')) },
      stableVerdict: async (virtualService, key, subset) => (await evaluator.evaluate([{ virtualService, key, subset, cutoverStartedAt: undefined }], clock.now()))[0]?.verdict ?? 'error',
      objects: caches.objects(),
      readyPods: subsetPods,
      mesh: config.mesh,
      clock,
      alertLabels,
    },
    objects: caches.objects(),
    elector: leading,
    events,
    alerts: sink,
    metrics,
    log: log.child({ component: 'drills' }),
    mesh: config.mesh,
    config: config.drills,
    dryRun: config.dryRun,
  });
  const loop: WatcherLoop = new WatcherLoop({
    objects: caches.objects(),
    evaluator,
    writer: patcher,
    events,
    drills,
    alerts: sink,
    promoter: new KubernetesDeploymentPromoter(core, kubeConfig.makeApiClient(AppsV1Api)),
    revisions: subsetPods,
    readyPods: subsetPods,
    podTimes: subsetPods,
    recoveryProbe: (target, times) => measureRecovery(source, target, times),
    smokeRunner: (spec) => runSmokeTest(spec),
    // Asked at each step, so a lost Lease stops writes mid-cycle.
    elector: leading,
    clock,
    metrics,
    log: log.child({ component: 'loop' }),
    mesh: config.mesh,
    config: { ...config, alerts: alertLabels },
  });

  const elector = new LeaseElector(new KubernetesLeaseStore(kubeConfig.makeApiClient(CoordinationV1Api), config.lease.namespace, config.lease.name), {
    identity: options.identity,
    leaseDurationMs: config.lease.durationSeconds * 1000,
    renewDeadlineMs: config.lease.renewDeadlineSeconds * 1000,
    retryPeriodMs: config.lease.retryPeriodSeconds * 1000,
    clock,
    log: log.child({ component: 'lease' }),
    onStartedLeading: () => {
      metrics.leader(true);
      // State lives on the VirtualServices: the new leader carries on where the old one stopped.
      loop.wake();
    },
    onStoppedLeading: () => metrics.leader(false),
  });

  let stopping = false;
  const readiness = { notReady: () => [...(stopping ? ['shutdown'] : []), ...caches.notReady()] };
  const server = createMetricsServer(metrics.registry, readiness);
  let metricsAddress: AddressInfo;
  try {
    metricsAddress = await listen(server, options.metricsPort, options.metricsHost);
  } catch (e) {
    throw new Error(`cannot listen on ${options.metricsHost}:${options.metricsPort}: ${(e as Error).message}; fix: choose a free port (--metrics-port)`, { cause: e });
  }
  metrics.leader(false);
  caches.start();
  elector.start();
  loop.start();
  drills.start();
  // The first cycle ran before the caches had anything: run the next one as soon as they have.
  void caches.whenSynced().then(() => loop.wake());
  log.info(
    {
      identity: options.identity,
      lease: `${config.lease.namespace}/${config.lease.name}`,
      metrics: `http://${metricsAddress.address}:${metricsAddress.port}/metrics`,
      intervalSeconds: config.intervalSeconds,
      dryRun: config.dryRun,
      drills: config.drills.enabled ? `${config.drills.schedule} (${config.drills.timezone}), opted-in VirtualServices only` : 'not scheduled (kubectl bluegreen drill still works)',
      prometheus: config.prometheusUrl,
      alertmanager: config.alertmanagerUrl,
      mesh: config.mesh,
    },
    'watcher started; acts once it holds the Lease and its caches have synced',
  );

  return {
    metricsAddress,
    elector,
    loop,
    caches,
    metrics,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await drills.stop();
      await loop.stop();
      retrying?.stop();
      await elector.stop();
      await caches.stop();
      await closeServer(server);
      log.info({}, 'watcher stopped');
    },
  };
}

/** Used when no Prometheus is configured: every query fails, so every service is `error` and the blind alert fires. */
const noPrometheus: MetricsSource = {
  instantQuery: () => Promise.reject(new Error('no Prometheus configured (prometheusUrl is empty); fix: set prometheusUrl')),
  rangeQuery: () => Promise.reject(new Error('no Prometheus configured (prometheusUrl is empty); fix: set prometheusUrl')),
};

async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
  return server.address() as AddressInfo;
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}

interface Parsed {
  config: WatcherConfig;
  options: WatcherProcessOptions;
  kubeconfig: string | undefined;
  context: string | undefined;
  logLevel: string;
}

/** Flags, then the config file, validated once. Throws WatcherConfigError or Error with the problem and its fix. */
export async function parseWatcherArgs(argv: string[], env: Record<string, string | undefined>): Promise<Parsed | 'help'> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: 'string' },
      'dry-run': { type: 'boolean' },
      prometheus: { type: 'string' },
      alertmanager: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      identity: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'istio-api-version': { type: 'string' },
      'root-namespace': { type: 'string' },
      'cluster-domain': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  let raw: Record<string, unknown> = {};
  if (values.config) {
    let text: string;
    try {
      text = await readFile(values.config, 'utf8');
    } catch (e) {
      throw new Error(`cannot read --config ${values.config}: ${(e as Error).message}`, { cause: e });
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new Error(`--config ${values.config} must hold a YAML mapping of settings`);
    }
    raw = (parsed as Record<string, unknown> | null) ?? {};
  }
  if (values['dry-run']) raw = { ...raw, dryRun: true };
  if (values.prometheus !== undefined) raw = { ...raw, prometheusUrl: values.prometheus };
  if (values.alertmanager !== undefined) raw = { ...raw, alertmanagerUrl: values.alertmanager };
  // The old flags still work (with a warning) when the file's `mesh` leaves the field out.
  const config = parseWatcherConfig(raw, {
    ...(values['root-namespace'] !== undefined ? { rootNamespace: { value: values['root-namespace'], where: '--root-namespace' } } : {}),
    ...(values['cluster-domain'] !== undefined ? { clusterDomain: { value: values['cluster-domain'], where: '--cluster-domain' } } : {}),
  });

  const port = Number(values['metrics-port'] ?? '9090');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-port must be a port number, got ${values['metrics-port']}`);
  const istioApiVersion = values['istio-api-version'] ?? 'v1';
  if (!['v1', 'v1beta1', 'v1alpha3'].includes(istioApiVersion)) throw new Error(`--istio-api-version must be v1, v1beta1 or v1alpha3, got ${istioApiVersion}`);
  const logLevel = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new Error(`--log-level must be debug, info, warn or error, got ${logLevel}`);
  return {
    config,
    kubeconfig: values.kubeconfig,
    context: values.context,
    logLevel,
    options: {
      identity: values.identity ?? env.POD_NAME ?? `${hostname()}-${process.pid}`,
      metricsPort: port,
      metricsHost: values['metrics-host'] ?? '0.0.0.0',
      istioApiVersion: istioApiVersion as IstioApiVersion,
    },
  };
}

export async function run(argv: string[]): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = await parseWatcherArgs(argv, process.env);
  } catch (e) {
    const message = e instanceof WatcherConfigError ? e.message : `${(e as Error).message}\n\n${WATCHER_USAGE}`;
    process.stderr.write(`bluegreen-guard watcher: ${message}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(`${WATCHER_USAGE}\n`);
    return 0;
  }

  const { config, options, logLevel, kubeconfig, context } = parsed;
  return serveUntilSignal('watcher', logLevel, (log) => startWatcher(config, options, { log, kubeConfig: loadKubeConfig(kubeconfig, context) }), 'signal received: releasing the Lease and stopping');
}
