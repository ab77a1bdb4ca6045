// Many more guarded services in the same watcher, for part 3's second
// configuration, without a mesh simulator per service: N VirtualServices and
// DestinationRules in a few namespaces, created in bulk with one server-side
// apply, each in a cutover (stable 50, candidate 50), and their Istio metrics
// from one BulkMeshExporter scraped by the stage's Prometheus, all healthy.
//
// The namespaces are created without the guard label and labelled once their
// objects exist: the webhook reviews only guarded namespaces, and these
// objects have no Deployments for its rules to find (they are there for the
// watcher's cycle, not for admission). From then on the watcher evaluates
// every one of them each cycle.
import { GUARD_LABEL } from '../../src/istio/annotations.js';
import { BulkMeshExporter, type BulkService } from '../../test/support/bulk-mesh-exporter.js';
import type { Stage } from '../../test/support/stage.js';
import { VS_API } from '../../test/support/stage-scene.js';
import { waitUntil } from '../../test/support/wait-until.js';

export const SERVICES_PER_NAMESPACE = 50;

export interface ExtraServices {
  count: number;
  namespaces: string[];
  exporter: BulkMeshExporter;
  /** Seconds from the apply to the watcher evaluating all of them and having recorded their cutovers. */
  setupSeconds: number;
  /** Of which: from labelling their namespaces guarded. */
  guardSeconds: number;
  /** How long Prometheus took to scrape the exporter, last scrape. */
  scrapeDurationMs: number;
}

export function extraServiceNames(count: number): BulkService[] {
  return Array.from({ length: count }, (_, i) => ({ namespace: `bulk-${String(Math.floor(i / SERVICES_PER_NAMESPACE)).padStart(2, '0')}`, service: `svc-${String(i).padStart(4, '0')}` }));
}

function manifest(stage: Stage, services: BulkService[], namespaces: string[]): string {
  const { defaultStableSubset: stable } = stage.meshConfig;
  const candidate = stable === 'blue' ? 'green' : 'blue';
  const docs: unknown[] = namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
  for (const { namespace, service } of services) {
    docs.push({
      apiVersion: VS_API,
      kind: 'DestinationRule',
      metadata: { name: service, namespace },
      spec: { host: service, subsets: [{ name: stable, labels: { version: 'v1' } }, { name: candidate, labels: { version: 'v2' } }] },
    });
    docs.push({
      apiVersion: VS_API,
      kind: 'VirtualService',
      metadata: { name: service, namespace },
      spec: {
        hosts: [service],
        http: [
          {
            name: 'primary',
            route: [
              { destination: { host: service, subset: stable, port: { number: 80 } }, weight: 50 },
              { destination: { host: service, subset: candidate, port: { number: 80 } }, weight: 50 },
            ],
          },
        ],
      },
    });
  }
  // JSON is YAML: one multi-document stream for one kubectl apply.
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}

/**
 * Creates `count` services in cutover, not guarded yet, and their metrics in
 * Prometheus; `guard` then labels their namespaces and waits until the
 * watcher evaluates them all (it throws otherwise). The exporter is pushed
 * onto `started` as soon as it runs: the caller stops it, also after a failure.
 */
export async function prepareExtraServices(stage: Stage, count: number, startedExporters: BulkMeshExporter[], progress: (line: string) => void): Promise<{ guard: () => Promise<ExtraServices> }> {
  const started = performance.now();
  const services = extraServiceNames(count);
  const namespaces = [...new Set(services.map((s) => s.namespace))];
  const applied = await stage.cp.kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], { stdin: manifest(stage, services, namespaces) });
  if (applied.code !== 0) throw new Error(`applying ${count} extra services failed (kubectl exit ${applied.code}): ${applied.stderr.slice(0, 2000)}`);
  progress(`rollback: ${count} extra VirtualServices and DestinationRules applied in ${namespaces.length} namespaces (${((performance.now() - started) / 1000).toFixed(1)} s)`);

  const exporter = await BulkMeshExporter.start({ services, clusterDomain: stage.meshConfig.clusterDomain });
  startedExporters.push(exporter);
  stage.addMeshTarget('bulk', exporter.metricsTarget);
  await waitUntil(
    async () => {
      const rates = await stage.query(`count(sum by (destination_service_namespace, destination_service_name) (rate(istio_requests_total{simulated_namespace="bulk", destination_version="v2"}[5s])) > 0)`);
      return Number(rates[0]?.value[1] ?? 0) === count;
    },
    { timeoutMs: 120_000, intervalMs: 500, description: `Prometheus holding a rate for all ${count} extra services (${exporter.seriesCount} series from ${exporter.metricsUrl})` },
  );
  const scrape = await stage.query(`scrape_duration_seconds{simulated_namespace="bulk"}`);
  const scrapeDurationMs = 1000 * Number(scrape[0]?.value[1] ?? Number.NaN);

  const guard = async (): Promise<ExtraServices> => {
    const guardStarted = performance.now();
    const writesBefore = await stage.metric('watcher-0', 'bluegreen_guard_watcher_state_writes_total');
    const label = await stage.cp.kubectl(['label', 'namespace', ...namespaces, `${guardLabel(stage)}=enabled`]);
    if (label.code !== 0) throw new Error(`labelling the extra namespaces guarded failed: ${label.stderr}`);
    await waitUntil(async () => (await stage.metric('watcher-0', 'bluegreen_guard_watcher_evaluated_services')) >= count, {
      timeoutMs: 180_000,
      intervalMs: 500,
      description: `the watcher evaluating the ${count} extra services (bluegreen_guard_watcher_evaluated_services)`,
    });
    // The first cycles record each cutover on its VirtualService; measure after that.
    await waitUntil(async () => (await stage.metric('watcher-0', 'bluegreen_guard_watcher_state_writes_total')) >= writesBefore + count, {
      timeoutMs: 300_000,
      intervalMs: 1000,
      description: `the watcher recording the ${count} extra cutovers (bluegreen_guard_watcher_state_writes_total)`,
    });
    const guardSeconds = (performance.now() - guardStarted) / 1000;
    progress(`rollback: the watcher evaluates the ${count} extra services (${exporter.seriesCount} series, scraped in ${scrapeDurationMs.toFixed(0)} ms); guarded and recorded in ${guardSeconds.toFixed(1)} s`);
    return { count, namespaces, exporter, setupSeconds: (performance.now() - started) / 1000, guardSeconds, scrapeDurationMs };
  };
  return { guard };
}

function guardLabel(stage: Stage): string {
  const mesh = stage.chart.watcherConfig.mesh as { guardLabel?: string } | undefined;
  return mesh?.guardLabel ?? GUARD_LABEL;
}
