// The chart's PrometheusRule, evaluated by the real promtool (Debian's
// prometheus package): `promtool check rules` accepts the rendered groups, and
// `promtool test rules` replays input series in which each alert fires and in
// which it stays quiet. The per-version alerts get series where v1 and v2 differ,
// so a rule that mixed the versions (the seed's checklist: "rules evaluate both
// v1 and v2 independently") would fire for the wrong one and fail here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { Helm } from '../support/helm.js';

const NS = 'guard-system';
const RELEASE = 'bgg';
const WEBHOOK_JOB = `${RELEASE}-bluegreen-guard-webhook`;
const WATCHER_JOB = `${RELEASE}-bluegreen-guard-watcher`;

interface Rule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}
interface Series {
  series: string;
  values: string;
}
interface AlertCase {
  /** What the series show. */
  name: string;
  alert: string;
  input: Series[];
  evalTime: string;
  /** The labels of each alert expected to fire (alertname and severity added); [] for "stays quiet". */
  firing: Record<string, string>[];
}

let dir: string;
let groups: { name: string; rules: Rule[] }[];

function series(metric: string, labels: Record<string, string>, values: string): Series {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return { series: `${metric}{${text}}`, values };
}

const guard = { namespace: NS };
const webhookUp = (values: string) => series('up', { ...guard, job: WEBHOOK_JOB, pod: 'webhook-a' }, values);
const reviews = (outcome: string, values: string) => series('bluegreen_guard_admission_reviews_total', { ...guard, outcome }, values);
const reviewBucket = (le: string, values: string) => series('bluegreen_guard_admission_review_duration_seconds_bucket', { ...guard, le }, values);
const leader = (pod: string, values: string) => series('bluegreen_guard_watcher_leader', { ...guard, job: WATCHER_JOB, pod }, values);
const queries = (ok: string, values: string) => series('bluegreen_guard_watcher_prometheus_query_duration_seconds_count', { ...guard, job: WATCHER_JOB, ok }, values);
const service = { reporter: 'destination', destination_service_namespace: 'shop', destination_service_name: 'reviews' };
const requests = (version: string, code: string, values: string) => series('istio_requests_total', { ...service, destination_version: version, response_code: code }, values);
const latencyBucket = (version: string, le: string, values: string) => series('istio_request_duration_milliseconds_bucket', { ...service, destination_version: version, le }, values);
const reviewsVersion = (version: string) => ({ destination_service_namespace: 'shop', destination_service_name: 'reviews', destination_version: version });
/** Requests per minute: 600 = 10/s. */
const perMinute = (n: number) => `0+${n}x30`;

const CASES: AlertCase[] = [
  { name: 'no webhook pod scrapes', alert: 'BlueGreenGuardWebhookDown', input: [webhookUp('0x20')], evalTime: '10m', firing: [{}] },
  { name: 'the webhook job is gone from Prometheus', alert: 'BlueGreenGuardWebhookDown', input: [series('up', { ...guard, job: 'other' }, '1x20')], evalTime: '10m', firing: [{ namespace: NS, job: WEBHOOK_JOB }] },
  { name: 'a webhook pod scrapes', alert: 'BlueGreenGuardWebhookDown', input: [webhookUp('1x20')], evalTime: '10m', firing: [] },
  { name: '1 review in 11 errs', alert: 'BlueGreenGuardWebhookErrors', input: [reviews('errored', perMinute(60)), reviews('allowed', perMinute(600))], evalTime: '25m', firing: [{}] },
  { name: 'no review errs', alert: 'BlueGreenGuardWebhookErrors', input: [reviews('errored', '0x30'), reviews('allowed', perMinute(600))], evalTime: '25m', firing: [] },
  {
    name: 'reviews take up to a second',
    alert: 'BlueGreenGuardWebhookSlow',
    input: [reviewBucket('0.1', '0x30'), reviewBucket('1', perMinute(600)), reviewBucket('+Inf', perMinute(600))],
    evalTime: '25m',
    firing: [{}],
  },
  {
    name: 'reviews answer within 100 ms',
    alert: 'BlueGreenGuardWebhookSlow',
    input: [reviewBucket('0.1', perMinute(600)), reviewBucket('1', perMinute(600)), reviewBucket('+Inf', perMinute(600))],
    evalTime: '25m',
    firing: [],
  },
  { name: 'a pod never synced', alert: 'BlueGreenGuardWebhookCachesNotSynced', input: [series('bluegreen_guard_cache_synced', { ...guard, pod: 'webhook-a' }, '0x20')], evalTime: '15m', firing: [{ pod: 'webhook-a' }] },
  { name: 'caches synced', alert: 'BlueGreenGuardWebhookCachesNotSynced', input: [series('bluegreen_guard_cache_synced', { ...guard, pod: 'webhook-a' }, '1x20')], evalTime: '15m', firing: [] },
  { name: 'nobody leads', alert: 'BlueGreenGuardWatcherNotLeading', input: [leader('watcher-a', '0x10'), leader('watcher-b', '0x10')], evalTime: '5m', firing: [{}] },
  { name: 'one replica leads', alert: 'BlueGreenGuardWatcherNotLeading', input: [leader('watcher-a', '1x10'), leader('watcher-b', '0x10')], evalTime: '5m', firing: [] },
  { name: 'two replicas lead', alert: 'BlueGreenGuardWatcherSplitBrain', input: [leader('watcher-a', '1x10'), leader('watcher-b', '1x10')], evalTime: '5m', firing: [{}] },
  { name: 'one replica leads', alert: 'BlueGreenGuardWatcherSplitBrain', input: [leader('watcher-a', '1x10'), leader('watcher-b', '0x10')], evalTime: '5m', firing: [] },
  { name: 'every query fails', alert: 'BlueGreenGuardBlind', input: [queries('false', perMinute(60)), queries('true', '0x30')], evalTime: '10m', firing: [{}] },
  { name: 'some queries fail, others answer', alert: 'BlueGreenGuardBlind', input: [queries('false', perMinute(60)), queries('true', perMinute(60))], evalTime: '10m', firing: [] },
  {
    name: 'v2 answers 10 % 5xx beside a v1 at 1 %',
    alert: 'BlueGreenGuardVersionErrorRatio',
    input: [requests('v1', '200', perMinute(594)), requests('v1', '500', perMinute(6)), requests('v2', '200', perMinute(540)), requests('v2', '503', perMinute(60))],
    evalTime: '10m',
    firing: [reviewsVersion('v2')],
  },
  {
    name: 'v1 answers 10 % 5xx beside a healthy v2',
    alert: 'BlueGreenGuardVersionErrorRatio',
    input: [requests('v1', '200', perMinute(540)), requests('v1', '500', perMinute(60)), requests('v2', '200', perMinute(600))],
    evalTime: '10m',
    firing: [reviewsVersion('v1')],
  },
  {
    name: 'both versions at 1 % 5xx',
    alert: 'BlueGreenGuardVersionErrorRatio',
    input: [requests('v1', '200', perMinute(594)), requests('v1', '500', perMinute(6)), requests('v2', '200', perMinute(594)), requests('v2', '500', perMinute(6))],
    evalTime: '10m',
    firing: [],
  },
  {
    name: 'v2 answers in 2-5 s, v1 under 500 ms',
    alert: 'BlueGreenGuardVersionLatencyP99',
    input: [
      latencyBucket('v1', '500', perMinute(600)),
      latencyBucket('v1', '5000', perMinute(600)),
      latencyBucket('v1', '+Inf', perMinute(600)),
      latencyBucket('v2', '500', '0x30'),
      latencyBucket('v2', '5000', perMinute(600)),
      latencyBucket('v2', '+Inf', perMinute(600)),
    ],
    evalTime: '10m',
    firing: [reviewsVersion('v2')],
  },
  {
    name: 'both versions under 500 ms',
    alert: 'BlueGreenGuardVersionLatencyP99',
    input: ['v1', 'v2'].flatMap((v) => [latencyBucket(v, '500', perMinute(600)), latencyBucket(v, '5000', perMinute(600)), latencyBucket(v, '+Inf', perMinute(600))]),
    evalTime: '10m',
    firing: [],
  },
];

function severityOf(alert: string): string {
  const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
  if (!rule) throw new Error(`the rendered PrometheusRule has no alert ${alert}`);
  return (rule.labels as Record<string, string>).severity ?? '';
}

/** A promtool unit-test file for these cases against rules.yaml (annotations stripped: their templates are checked by `check rules`, their wording is not the test's). */
function promtoolTests(cases: AlertCase[]): string {
  const tests = cases.map((c) => ({
    name: `${c.alert}: ${c.name}`,
    interval: '1m',
    input_series: c.input,
    alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: c.firing.map((labels) => ({ exp_labels: { ...labels, severity: severityOf(c.alert) } })) }],
  }));
  return stringify({ rule_files: ['rules-without-annotations.yaml'], evaluation_interval: '1m', tests });
}

function promtool(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`could not run promtool (apt-get install prometheus): ${r.error.message}`);
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bgg-rules-'));
  const helm = await Helm.build();
  try {
    const r = await helm.template({ releaseName: RELEASE, namespace: NS, values: { metrics: { prometheusRule: { enabled: true } } } });
    if (r.code !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
    const rule = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind?: string; spec?: { groups: typeof groups } } | null)
      .find((o) => o?.kind === 'PrometheusRule');
    if (!rule?.spec) throw new Error('the chart rendered no PrometheusRule with metrics.prometheusRule.enabled=true');
    groups = rule.spec.groups;
  } finally {
    helm.dispose();
  }
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
  writeFileSync(join(dir, 'rules-without-annotations.yaml'), stringify({ groups: groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...rest }) => rest) })) }));
}, 900_000);

afterAll(() => {
  if (dir && process.env.KEEP_TEST_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
});

describe("the chart's PrometheusRule under promtool", () => {
  it('passes promtool check rules, annotation templates included', () => {
    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert));
    const r = promtool(['check', 'rules', 'rules.yaml']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('has a firing and a quiet case for every alert it ships', () => {
    const alerts = new Set(groups.flatMap((g) => g.rules.map((r) => r.alert)));
    const fires = new Set(CASES.filter((c) => c.firing.length > 0).map((c) => c.alert));
    const quiet = new Set(CASES.filter((c) => c.firing.length === 0).map((c) => c.alert));
    expect([...alerts].filter((a) => !fires.has(a) || !quiet.has(a))).toEqual([]);
  });

  it('fires each alert on its input series and stays quiet on healthy ones (promtool test rules)', () => {
    writeFileSync(join(dir, 'tests.yaml'), promtoolTests(CASES));
    const r = promtool(['test', 'rules', 'tests.yaml']);
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('tells v1 from v2: expecting the healthy v1 to fire as well fails', () => {
    const mixed = CASES.filter((c) => c.alert.startsWith('BlueGreenGuardVersion') && c.firing.some((l) => l.destination_version === 'v2')).map((c) => ({
      ...c,
      firing: [...c.firing, reviewsVersion('v1')],
    }));
    expect(mixed).toHaveLength(2);
    writeFileSync(join(dir, 'mixed.yaml'), promtoolTests(mixed));
    const r = promtool(['test', 'rules', 'mixed.yaml']);
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/FAILED/);
    expect(`${r.stdout}${r.stderr}`).toContain('destination_version="v1"');
  });
});
