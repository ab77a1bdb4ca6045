// The shipped Grafana dashboard, executed. The chart renders it (helm template,
// this release's thresholds in place); the stage runs a cutover the seed's way
// (blue=0, a 10 % canary, blue=100), a fault in v2 and the watcher's rollback,
// with the real Prometheus scraping the mesh and the product. Then every
// variable query, every panel target and the rollback annotation, with the
// dashboard's variables substituted the way Grafana does (one value as itself,
// All as the variable's allValue), must parse and return series over the
// cutover's time range. The version variable must narrow the per-version
// panels to the chosen version (the seed: "Grafana dashboards updated to
// include v2 version filtering").
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { Helm } from '../support/helm.js';
import { injectFaultAndAwaitRollback } from '../support/rollback-timing.js';
import { startStage, type Stage } from '../support/stage.js';
import type { Scene } from '../support/stage-scene.js';
import { waitUntil } from '../support/wait-until.js';

jest.setTimeout(240_000);

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query?: { query: string };
  allValue?: string;
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Variable[] };
  annotations: { list: { name: string; expr?: string }[] };
}

let stage: Stage;
let scene: Scene;
let dashboard: Dashboard;
let startSeconds: number;
let endSeconds: number;

/**
 * Grafana's interpolation for a Prometheus data source: `$name` / `${name}`
 * becomes the chosen value, several values `(a|b)`, All the allValue;
 * `$__rate_interval` is max(4 × scrape interval, step + scrape interval), 1m
 * for Grafana's default 15 s scrape interval.
 */
function substitute(expr: string, values: Record<string, string[] | 'All'>): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      const variable = dashboard.templating.list.find((v) => v.name === name);
      if (!variable) throw new Error(`the dashboard uses $${name} but defines no such variable`);
      const chosen = values[name];
      if (chosen === undefined) throw new Error(`no value for $${name} in this test`);
      if (chosen === 'All') return variable.allValue ?? '.*';
      return chosen.length === 1 ? chosen[0]! : `(${chosen.join('|')})`;
    });
}

async function labelValues(query: string, values: Record<string, string[] | 'All'>): Promise<string[]> {
  const match = /^label_values\((.*), *(\w+)\)$/.exec(substitute(query, values));
  if (!match) throw new Error(`not a label_values() query: ${query}`);
  const params = new URLSearchParams({ 'match[]': match[1]!, start: String(startSeconds), end: String(endSeconds) });
  const body = (await (await fetch(`${stage.prometheus.url}/api/v1/label/${match[2]}/values?${params.toString()}`)).json()) as { status: string; error?: string; data: string[] };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${match[1]}: ${body.error}`);
  return body.data;
}

function targets(): { panel: string; target: Target }[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: `${p.title} (${target.refId})`, target })));
}

beforeAll(async () => {
  const helm = await Helm.build();
  try {
    const r = await helm.template({ namespace: 'bluegreen-guard', values: {} });
    if (r.code !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
    const configMap = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name: string }; data?: Record<string, string> } | null)
      .find((o) => o?.kind === 'ConfigMap' && o.metadata?.name.endsWith('-dashboard'));
    const json = configMap?.data?.['bluegreen-guard.json'];
    if (!json) throw new Error('the chart rendered no dashboard ConfigMap with bluegreen-guard.json (metrics.dashboard.enabled defaults to true)');
    dashboard = JSON.parse(json) as Dashboard;
  } finally {
    helm.dispose();
  }
  stage = await startStage({ watchers: 1 });
  startSeconds = Math.floor(Date.now() / 1000);
  scene = await stage.seed({ namespacePrefix: 'shop' });
  // The seed's cutover with a canary step, then a fault in blue and the watcher's rollback.
  await scene.mustApply('DestinationRule with green and blue', scene.destinationRule());
  await scene.mustApply('VirtualService blue=0', scene.virtualService({ green: 100, blue: 0 }));
  await scene.waitUntilScraped();
  await scene.mustApply('VirtualService blue=10', scene.virtualService({ green: 90, blue: 10 }));
  await scene.mesh!.waitForShare('v2', 0.1, 30_000);
  // A typo someone makes on the way: refused, so the webhook's findings have a point in this story.
  const refused = await scene.apply(scene.virtualService({ green: 0, bleu: 100 }), { dryRun: true });
  expect(refused.code).not.toBe(0);
  await scene.mustApply('VirtualService blue=100', scene.virtualService({ green: 0, blue: 100 }));
  await scene.mesh!.waitForShare('v2', 1, 30_000);
  await injectFaultAndAwaitRollback(stage, scene, { errorRatio: 0.2 });
  // Prometheus has scraped the watcher's counters since the rollback.
  await waitUntil(async () => (await stage.query('sum(increase(bluegreen_guard_watcher_rollbacks_total{outcome="rolled-back"}[1m])) > 0')).length > 0, {
    timeoutMs: 30_000,
    description: 'Prometheus seeing the watcher\'s rollback counter go up',
  });
  // The range ends on a whole second at or after the sample that showed the
  // rollback, and evaluating it at a 1 s step includes that instant.
  endSeconds = Math.ceil(Date.now() / 1000);
  await waitUntil(() => Date.now() >= endSeconds * 1000, { timeoutMs: 2_000, description: 'the end of the cutover\'s range passing' });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

describe('the Grafana dashboard against the stage\'s Prometheus during a cutover', () => {
  it('offers the version variable and its choices list the namespace, the service and both versions', async () => {
    const names = dashboard.templating.list.map((v) => v.name);
    expect(names).toEqual(['datasource', 'namespace', 'service', 'version']);
    const query = (name: string) => dashboard.templating.list.find((v) => v.name === name)?.query?.query ?? '';
    expect(await labelValues(query('namespace'), {})).toContain(scene.namespace);
    expect(await labelValues(query('service'), { namespace: [scene.namespace] })).toEqual([scene.service]);
    expect(await labelValues(query('version'), { namespace: [scene.namespace], service: [scene.service] })).toEqual(['v1', 'v2']);
  });

  const choices: [string, Record<string, string[] | 'All'>][] = [
    ['All', { namespace: 'All', service: 'All', version: 'All' }],
    ['this service, v2', { namespace: [], service: [], version: ['v2'] }],
    ['this service, v1 and v2', { namespace: [], service: [], version: ['v1', 'v2'] }],
  ];

  it.each(choices)('every panel target returns series with %s chosen', async (_label, template) => {
    const values: Record<string, string[] | 'All'> = { ...template, ...(template.namespace === 'All' ? {} : { namespace: [scene.namespace], service: [scene.service] }) };
    const versions = values.version ?? 'All';
    const empty: string[] = [];
    for (const { panel, target } of targets()) {
      const result = await stage.queryRange(substitute(target.expr, values), startSeconds, endSeconds, 1);
      if (result.length === 0) empty.push(panel);
      // The per-version panels show only the chosen versions.
      if (versions !== 'All' && target.expr.includes('destination_version=~')) {
        expect({ panel, versions: [...new Set(result.map((s) => s.metric.destination_version))].sort() }).toEqual({ panel, versions: [...versions].sort() });
      }
    }
    expect(empty).toEqual([]);
  });

  it('every panel of the dashboard has a target, and no target is left with an unknown variable', () => {
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.filter((p) => (p.targets ?? []).length === 0).map((p) => p.title)).toEqual([]);
    for (const { target } of targets()) expect(substitute(target.expr, { namespace: 'All', service: 'All', version: 'All' })).not.toMatch(/\$/);
  });

  it('the rollback annotation marks the rollback', async () => {
    const annotation = dashboard.annotations.list.find((a) => a.name === 'Rollbacks');
    const result = await stage.queryRange(annotation?.expr ?? '', startSeconds, endSeconds, 1);
    expect(result.map((s) => s.metric.outcome)).toEqual(['rolled-back']);
  });
});
