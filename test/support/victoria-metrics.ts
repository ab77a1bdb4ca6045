// A second, independent PromQL engine for integration tests: single-node
// VictoriaMetrics (the Debian `victoria-metrics` binary), holding the same
// backfilled Istio history as the Prometheus harness (prometheus.ts).
//
//   const vm = await startVictoriaMetrics({ backfill: openMetricsText });  // beforeAll
//   new PrometheusMetricsSource({ url: vm.url, … })                         // its Prometheus-compatible API
//   await vm.stop();                                                        // afterAll
//
// - The history is imported through /api/v1/import/prometheus, which takes the
//   Prometheus text format: the same lines as the OpenMetrics backfill, with
//   timestamps in milliseconds instead of seconds.
// - Retention 100 years, so the fixed past instants the scenarios use stay;
//   the rollup cache is off (`-search.disableCache`), because it assumes
//   history never changes behind "now", which a backfill does.
// - Resolves once the imported series are searchable.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { readyOnFreePort, type ReadyServer } from './ready-on-free-port.js';
import { systemBinary } from './system-binary.js';

export interface VictoriaMetricsOptions {
  /** OpenMetrics text (as for startPrometheus), timestamps in seconds, ending in `# EOF`. */
  backfill: string;
  readyTimeoutMs?: number;
}

export type RunningVictoriaMetrics = ReadyServer;

export async function startVictoriaMetrics(options: VictoriaMetricsOptions): Promise<RunningVictoriaMetrics> {
  const binary = systemBinary('victoria-metrics', 'VICTORIA_METRICS_BIN', 'victoria-metrics');
  const dir = mkdtempSync(join(tmpdir(), 'bgg-victoria-metrics-'));
  const server = await readyOnFreePort(dir, options.readyTimeoutMs ?? 60_000, (port) =>
    ManagedProcess.start({
      name: 'victoria-metrics',
      command: binary,
      args: [`-storageDataPath=${join(dir, 'data')}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=100y', '-search.disableCache'],
      logPath: join(dir, 'victoria-metrics.log'),
      cwd: dir,
    }),
  );
  try {
    await importHistory(server.url, options.backfill);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** OpenMetrics sample lines (seconds) to the Prometheus text format (milliseconds); comments and `# EOF` dropped. */
export function toPrometheusText(openMetrics: string): string {
  const out: string[] = [];
  for (const line of openMetrics.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    const seconds = Number(line.slice(cut + 1));
    if (!Number.isFinite(seconds)) throw new Error(`victoria-metrics backfill: no timestamp on line ${JSON.stringify(line)}`);
    out.push(`${line.slice(0, cut)} ${Math.round(seconds * 1000)}`);
  }
  return `${out.join('\n')}\n`;
}

async function importHistory(url: string, openMetrics: string): Promise<void> {
  const text = toPrometheusText(openMetrics);
  const res = await fetch(`${url}/api/v1/import/prometheus`, { method: 'POST', body: text });
  if (!res.ok) throw new Error(`victoria-metrics at ${url} refused the backfill: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer().catch(() => undefined);
  // Imported rows become searchable after the next flush: force it.
  const flush = await fetch(`${url}/internal/force_flush`);
  await flush.arrayBuffer();
  if (!flush.ok) throw new Error(`victoria-metrics at ${url}: /internal/force_flush answered HTTP ${flush.status}`);
}
