// The evaluation scenarios through the chart's recording rules: helm renders
// the PrometheusRule of `watcher.recordingRules.enabled`, promtool evaluates its
// rules over the scenarios' history (`tsdb create-blocks-from rules`, every
// 15 s), and a Prometheus holding both the raw history and the recorded series
// answers the watcher's `queries.recordingRules` templates.
//
// Prometheus evaluates a rule group at a phase of its own within the interval
// (derived from the group's name; promtool backfills on the same grid), so a
// recorded value is the one of the last evaluation, up to one interval before
// the watcher's instant. The claim tested: reading the recorded series at AT
// decides exactly what the default templates decide at that last evaluation
// instant, for every scenario, value for value; the rules and the queries that
// read them are written in two places, and this is where they meet.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultWatcherConfig, parseWatcherConfig } from '../../src/config/watcher-config.js';
import { PrometheusMetricsSource } from '../../src/prometheus/prometheus-metrics-source.js';
import { evaluateService } from '../../src/watcher/evaluate.js';
import { collectMetrics, type MetricsSnapshot } from '../../src/watcher/metrics-snapshot.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { backfillRules, chartRecordingRules, type RuleGroup } from '../support/recording-rules.js';
import { AT, NAMESPACE, SCENARIOS, scenarioHistory } from './evaluate-scenarios.js';

const config = parseWatcherConfig({ queries: { recordingRules: true } });
const HISTORY_START = AT - 12 * 60;
let dir: string;
let groups: RuleGroup[];
let prom: RunningPrometheus | undefined;
let source: PrometheusMetricsSource;
let snapshot: MetricsSnapshot;
/** The default templates' snapshot at the rules' last evaluation instant before AT. */
let raw: MetricsSnapshot;
let evaluatedAt: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bgg-recorded-'));
  groups = await chartRecordingRules();
  const history = await startPrometheus({ backfill: scenarioHistory() });
  try {
    const blocks = await backfillRules(groups, history.url, { startSeconds: HISTORY_START, endSeconds: AT + 60 }, dir);
    // The raw history's blocks beside the recorded ones: the same data, plus the rules' series.
    prom = await startPrometheus({ blocks: [join(history.dir, 'data'), blocks] });
  } finally {
    await history.stop();
  }
  source = new PrometheusMetricsSource({ url: prom.url, timeoutMs: 30_000 });
  snapshot = await collectMetrics(source, AT, config);
  const probe = new PrometheusMetricsSource({ url: prom.url, timeoutMs: 30_000 });
  const [last] = await probe.instantQuery('max(timestamp(namespace_service_version:istio_requests:rate60s))', AT);
  if (!last) throw new Error('no recorded series at AT: promtool backfilled nothing the watcher can read');
  evaluatedAt = last.value;
  raw = await collectMetrics(probe, evaluatedAt, defaultWatcherConfig());
}, 900_000);

afterAll(async () => {
  await prom?.stop();
  if (dir && process.env.KEEP_TEST_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
});

describe("evaluation through the chart's recording rules", () => {
  it('the chart records one group every 15 s, and the watcher reads only recorded series', () => {
    expect(groups.map((g) => [g.name, g.interval])).toEqual([['bluegreen-guard.recorded', '15s']]);
    const recorded = groups.flatMap((g) => g.rules.map((r) => r.record));
    for (const template of [config.queries.errorRatio.query, config.queries.latencyP99.query]) {
      const query = template.replaceAll('{{rateWindow}}', '60s');
      const names = query.match(/[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/g) ?? [];
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(recorded).toContain(name);
      expect(query).not.toMatch(/istio_requests_total|_bucket/);
    }
  });

  it('answers every service from the same two queries', () => {
    expect(source.stats).toMatchObject({ queries: 2, failures: 0 });
  });

  it('reads values of the last evaluation, less than one interval old', () => {
    expect(AT - evaluatedAt).toBeGreaterThanOrEqual(0);
    expect(AT - evaluatedAt).toBeLessThan(15);
  });

  it.each(Object.entries(SCENARIOS))('%s: decided as the default queries decide at that evaluation', (service, scenario) => {
    const key = { namespace: NAMESPACE, service, version: scenario.version };
    const recorded = evaluateService(snapshot, key, {}, config);
    const direct = evaluateService(raw, key, {}, defaultWatcherConfig());
    expect(recorded.verdict).toBe(direct.verdict);
    expect(recorded.findings.map((f) => [f.rule, f.status])).toEqual(direct.findings.map((f) => [f.rule, f.status]));
    recorded.findings.forEach((f, i) => {
      const value = direct.findings[i]?.value;
      if (value === null || value === undefined) expect(f.value).toBe(value);
      else expect(f.value).toBeCloseTo(value, 9);
    });
  });

  it('at the scenarios that are not at a step boundary, the verdicts are the scenarios\' own', () => {
    const verdicts = Object.entries(SCENARIOS).map(([service, s]) => [service, evaluateService(snapshot, { namespace: NAMESPACE, service, version: s.version }, {}, config).verdict, s.verdict]);
    const differ = verdicts.filter(([, got, want]) => got !== want).map(([service]) => service);
    // One interval late, "began 2 minutes ago" has not been sustained for 2 minutes yet: the freshness the rules cost.
    expect(differ).toEqual(['errors-began-2m-ago']);
  });
});
