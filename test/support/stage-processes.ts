// How the stage runs bluegreen-guard's two processes: the chart's config files
// with this machine's addresses, paths and kubeconfig put in, free loopback
// ports, and readiness from their own /ready. Threshold profiles: `seed` is the
// runbook's numbers (the chart's defaults); `short` keeps the runbook's ratios
// and latency limits and divides every window by ten, so a cutover, a breach
// and a rollback happen in seconds and a demo ends in minutes.
import { freePort } from './free-port.js';
import { ProductProcess } from './product-process.js';
import type { ServingCertificateFiles } from './tls.js';
import { waitUntil } from './wait-until.js';

export type ThresholdProfile = 'seed' | 'short';

type Doc = Record<string, unknown>;

/** `over` merged into `base`, mappings recursively; anything else in `over` replaces. */
export function mergeConfig(base: Doc, over: Doc): Doc {
  const out: Doc = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const bothMaps = [current, value].every((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
    out[key] = bothMaps ? mergeConfig(current as Doc, value as Doc) : value;
  }
  return out;
}

/** The `short` profile: the seed's ratios and limits, windows a tenth as long. */
export const SHORT_THRESHOLDS: Doc = {
  intervalSeconds: 1,
  // 5 % sustained over 12 s (seed: 120 s), judged every 2 s on a 6 s rate (seed: 15 s, 60 s).
  errorRate: { ratio: 0.05, windowSeconds: 12, stepSeconds: 2, rateWindowSeconds: 6 },
  // Minutes cannot shrink below one: p99 > 2 s in the last minute (seed: 3 minutes).
  latencyP99: { thresholdMs: 2000, consecutiveMinutes: 1 },
  earlyWindow: { durationSeconds: 30 },
  holdSeconds: 60,
  noData: { alertAfterSeconds: 30 },
  blind: { alertAfterSeconds: 6 },
  lease: { durationSeconds: 6, renewDeadlineSeconds: 4, retryPeriodSeconds: 1 },
};

async function isReady(metricsTarget: string): Promise<boolean> {
  const response = await fetch(`http://${metricsTarget}/ready`, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.ok;
}

async function waitReady(process: ProductProcess, metricsTarget: string, timeoutMs: number): Promise<void> {
  try {
    await waitUntil(
      async () => {
        if (!process.isRunning) throw new Error('exited');
        return isReady(metricsTarget);
      },
      { timeoutMs, intervalMs: 100, description: `ready at http://${metricsTarget}/ready` },
    );
  } catch (error) {
    throw process.failure(`was not ready (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Starts a process on fresh free ports until it binds them (a port probed free can be taken before the process binds it). */
async function startOnFreePorts<T>(start: (ports: number[]) => { process: ProductProcess; metricsTarget: string; value: T }, ports: number, timeoutMs: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const chosen: number[] = [];
    for (let i = 0; i < ports; i++) chosen.push(await freePort());
    const { process, metricsTarget, value } = start(chosen);
    try {
      await waitReady(process, metricsTarget, timeoutMs);
      return value;
    } catch (error) {
      await process.stop();
      if (attempt < 3 && /EADDRINUSE|address already in use/.test(process.logTail())) continue;
      throw error;
    }
  }
}

export interface WebhookProcess {
  process: ProductProcess;
  /** `https://127.0.0.1:PORT/validate`: the URL the ValidatingWebhookConfiguration names. */
  admissionUrl: string;
  metricsTarget: string;
  /** Resolves once /ready answers 200 (caches synced). */
  waitReady(timeoutMs: number): Promise<void>;
}

export interface WebhookProcessOptions {
  workDir: string;
  /** The stage's Prometheus, which the metrics-scraped rule asks for `up`. */
  prometheusUrl: string;
  /** The chart's webhook.yaml. */
  chartConfig: Doc;
  kubeconfig: string;
  certificates: ServingCertificateFiles;
  /** Merged over the result. */
  extra?: Doc;
  readyTimeoutMs?: number;
}

/** `bluegreen-guard webhook --config FILE` with the chart's config, the stage's certificate and the webhook's ServiceAccount. */
export function startWebhookProcess(options: WebhookProcessOptions): Promise<WebhookProcess> {
  return startOnFreePorts(
    ([admissionPort, metricsPort]) => {
      const config = mergeConfig(
        mergeConfig(options.chartConfig, {
          admission: { host: '127.0.0.1', port: admissionPort },
          metrics: { host: '127.0.0.1', port: metricsPort },
          tls: { certFile: options.certificates.certFile, keyFile: options.certificates.keyFile },
          kubernetes: { kubeconfig: options.kubeconfig },
          // Prometheus scrapes every second here; the rule's cache follows as fast.
          prometheus: { url: options.prometheusUrl, refreshIntervalSeconds: 1 },
          // Tests stop and start it on purpose; no load balancer needs the grace period.
          shutdownGraceSeconds: 0,
        }),
        options.extra ?? {},
      );
      const process = ProductProcess.start({ name: 'webhook', command: 'webhook', config, workDir: options.workDir });
      const path = (config.admission as { path?: string }).path ?? '/validate';
      const metricsTarget = `127.0.0.1:${String(metricsPort)}`;
      const value: WebhookProcess = {
        process,
        admissionUrl: `https://127.0.0.1:${String(admissionPort)}${path}`,
        metricsTarget,
        waitReady: (timeoutMs) => waitReady(process, metricsTarget, timeoutMs),
      };
      return { process, metricsTarget, value };
    },
    2,
    options.readyTimeoutMs ?? 120_000,
  );
}

export interface WatcherProcessOptions {
  /** Its Lease identity too: `watcher-0`. */
  name: string;
  workDir: string;
  /** The chart's watcher.yaml. */
  chartConfig: Doc;
  profile: ThresholdProfile;
  prometheusUrl: string;
  alertmanagerUrl: string;
  kubeconfig: string;
  /** Merged over the result. */
  extra?: Doc;
  readyTimeoutMs?: number;
}

export interface WatcherProcess {
  process: ProductProcess;
  metricsTarget: string;
  /** The configuration document it was started with. */
  config: Doc;
}

/** The watcher's config: the chart's, pointed at the stage's Prometheus and Alertmanager, with the profile's thresholds. */
export function watcherConfig(options: Pick<WatcherProcessOptions, 'chartConfig' | 'profile' | 'prometheusUrl' | 'alertmanagerUrl' | 'extra'>): Doc {
  const withEndpoints = mergeConfig(options.chartConfig, { prometheusUrl: options.prometheusUrl, alertmanagerUrl: options.alertmanagerUrl });
  return mergeConfig(options.profile === 'short' ? mergeConfig(withEndpoints, SHORT_THRESHOLDS) : withEndpoints, options.extra ?? {});
}

/** `bluegreen-guard watcher --config FILE --identity NAME` with the watcher's ServiceAccount; ready once its caches synced. */
export function startWatcherProcess(options: WatcherProcessOptions): Promise<WatcherProcess> {
  const config = watcherConfig(options);
  return startOnFreePorts(
    ([metricsPort]) => {
      const process = ProductProcess.start({
        name: options.name,
        command: 'watcher',
        config,
        extraArgs: ['--kubeconfig', options.kubeconfig, '--identity', options.name, '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort)],
        workDir: options.workDir,
      });
      const metricsTarget = `127.0.0.1:${String(metricsPort)}`;
      return { process, metricsTarget, value: { process, metricsTarget, config } };
    },
    1,
    options.readyTimeoutMs ?? 120_000,
  );
}
