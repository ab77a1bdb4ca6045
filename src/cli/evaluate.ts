// `bluegreen-guard evaluate`: what the watcher would decide for one service,
// now or at a past instant (post-incident analysis, CI canary gates). Its own
// composition root: flags and the config file are read here, once.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { AlertmanagerFiringAlertSource } from '../alertmanager/firing-alert-source.js';
import { parseWatcherConfig, WatcherConfigError, type WatcherConfig } from '../config/watcher-config.js';
import { PrometheusMetricsSource } from '../prometheus/prometheus-metrics-source.js';
import { evaluateService, inEarlyWindow, type EvaluationContext } from '../watcher/evaluate.js';
import { collectMetrics } from '../watcher/metrics-snapshot.js';
import { runSmokeTest, smokeTestUrl } from '../watcher/smoke-test.js';
import { formatNumber } from '../watcher/thresholds.js';
import type { Evaluation, ServiceKey, Verdict } from '../watcher/verdict.js';

const USAGE = `usage: bluegreen-guard evaluate --prometheus URL --namespace NS --service NAME --version V
           [--alertmanager URL] [--at TIME] [--cutover-at TIME] [--config FILE] [--output json|text]

Prints what the watcher would decide for one service, from Prometheus (at --at)
and Alertmanager (as it is now: it keeps no history).

  --prometheus URL    Prometheus base URL
  --namespace NS      the service's namespace (destination_service_namespace)
  --service NAME      the service's name (destination_service_name)
  --version V         the candidate's destination_version
  --alertmanager URL  also judge critical-alert (default: alertmanagerUrl of --config)
  --at TIME           RFC 3339 or Unix seconds (default: now)
  --cutover-at TIME   when the cutover began: enables the early-window warnings
  --config FILE       watcher configuration (YAML or JSON): thresholds, queries, smoke test
  --output json|text  default text

exit status: 0 healthy or warning, 1 breached, 3 no-data or error, 2 unusable input`;

const EXIT: Record<Verdict, number> = { healthy: 0, warning: 0, breached: 1, 'no-data': 3, error: 3 };

class UsageError extends Error {}

interface Inputs {
  service: ServiceKey;
  atSeconds: number;
  cutoverAtSeconds: number | null;
  output: 'json' | 'text';
  config: WatcherConfig;
}

export async function run(argv: string[]): Promise<number> {
  let inputs: Inputs;
  try {
    const parsed = await readInputs(argv);
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    inputs = parsed;
  } catch (err) {
    if (err instanceof UsageError || err instanceof WatcherConfigError) {
      process.stderr.write(`bluegreen-guard evaluate: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }

  const { config, service, atSeconds } = inputs;
  const notes: string[] = [];
  const nowSeconds = Date.now() / 1000;
  const source = new PrometheusMetricsSource({ url: config.prometheusUrl ?? '', timeoutMs: config.prometheusTimeoutMs });
  const early = inEarlyWindow(atSeconds, inputs.cutoverAtSeconds, config);

  const context: EvaluationContext = { cutoverStartedAtSeconds: inputs.cutoverAtSeconds };
  const smokeUrl = smokeTestUrl(config.smokeTest.url, service);
  const [snapshot, criticalAlerts, smokeTest] = await Promise.all([
    collectMetrics(source, atSeconds, config, { earlyWindow: early }),
    config.alertmanagerUrl ? new AlertmanagerFiringAlertSource({ url: config.alertmanagerUrl, timeoutMs: config.alertmanagerTimeoutMs, ...config.alerts }).criticalAlerts() : undefined,
    smokeUrl ? runSmokeTest({ url: smokeUrl, expectedStatus: config.smokeTest.expectedStatus, timeoutMs: config.smokeTest.timeoutMs }) : undefined,
  ]);
  if (criticalAlerts) context.criticalAlerts = criticalAlerts;
  if (smokeTest) context.smokeTest = smokeTest;
  const evaluation = evaluateService(snapshot, service, context, config);

  // A few seconds of slack: "--at now" typed by hand is not the past.
  if (atSeconds < nowSeconds - 5) {
    if (criticalAlerts) notes.push(`Alertmanager was read as it is now (${new Date(nowSeconds * 1000).toISOString()}), not as of --at: it keeps no history`);
    if (smokeTest) notes.push('the smoke test ran now, not as of --at');
  }
  if (inputs.cutoverAtSeconds !== null && !early) {
    notes.push(`no early-window warnings: --at is not within the first ${config.earlyWindow.durationSeconds} s after --cutover-at`);
  }

  process.stdout.write(inputs.output === 'json' ? `${JSON.stringify(toJson(evaluation, service, atSeconds, notes))}\n` : toText(evaluation, service, atSeconds, notes));
  return EXIT[evaluation.verdict];
}

async function readInputs(argv: string[]): Promise<Inputs | 'help'> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        prometheus: { type: 'string' },
        namespace: { type: 'string' },
        service: { type: 'string' },
        version: { type: 'string' },
        alertmanager: { type: 'string' },
        at: { type: 'string' },
        'cutover-at': { type: 'string' },
        config: { type: 'string' },
        output: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const missing = ['prometheus', 'namespace', 'service', 'version'].filter((n) => !str(n));
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);

  const output = str('output') ?? 'text';
  if (output !== 'json' && output !== 'text') throw new UsageError(`--output must be json or text, got ${JSON.stringify(output)}`);

  let raw: Record<string, unknown> = {};
  const file = str('config');
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --config ${file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text) as unknown;
    } catch (err) {
      throw new UsageError(`--config ${file} is not valid YAML or JSON: ${(err as Error).message}`);
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) throw new UsageError(`--config ${file} must hold a mapping of watcher settings`);
    raw = { ...((doc as Record<string, unknown> | null) ?? {}) };
  }
  for (const flag of ['prometheus', 'alertmanager']) {
    const url = str(flag);
    if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--${flag} must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
  }
  raw.prometheusUrl = str('prometheus');
  if (str('alertmanager')) raw.alertmanagerUrl = str('alertmanager');
  const config = parseWatcherConfig(raw);

  const at = str('at');
  const cutoverAt = str('cutover-at');
  return {
    service: { namespace: str('namespace') as string, service: str('service') as string, version: str('version') as string },
    atSeconds: at === undefined ? Date.now() / 1000 : parseTime('--at', at),
    cutoverAtSeconds: cutoverAt === undefined ? null : parseTime('--cutover-at', cutoverAt),
    output,
    config,
  };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 (with a time zone) or Unix seconds, to Unix seconds. */
export function parseTime(flag: string, text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  if (RFC3339.test(text)) {
    const ms = Date.parse(text.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return ms / 1000;
  }
  throw new UsageError(`${flag} must be RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds (1714564800), got ${JSON.stringify(text)}`);
}

export function toJson(evaluation: Evaluation, service: ServiceKey, atSeconds: number, notes: string[]) {
  return {
    verdict: evaluation.verdict,
    findings: evaluation.findings.map((f) => ({ rule: f.rule, status: f.status, value: jsonNumber(f.value), threshold: jsonNumber(f.threshold), message: f.message })),
    service,
    at: new Date(atSeconds * 1000).toISOString(),
    notes,
  };
}

/**
 * JSON has no Infinity or NaN: such a value (a p99 in the +Inf bucket) is
 * `null`, never a made-up finite number; the finding's status and message
 * (which spells it `+Inf`) say what it was.
 */
function jsonNumber(n: number | null): number | null {
  return n !== null && Number.isFinite(n) ? n : null;
}

export function toText(evaluation: Evaluation, service: ServiceKey, atSeconds: number, notes: string[]): string {
  const lines = [`${service.namespace}/${service.service} version ${service.version} at ${new Date(atSeconds * 1000).toISOString()}: ${evaluation.verdict.toUpperCase()}`];
  for (const f of evaluation.findings) {
    const numbers = f.value === null && f.threshold === null ? '' : ` (value ${f.value === null ? 'none' : formatNumber(f.value)}, threshold ${f.threshold === null ? 'none' : formatNumber(f.threshold)})`;
    lines.push(`  ${f.status.padEnd(8)} ${f.rule.padEnd(17)} ${f.message}${numbers}`);
  }
  for (const note of notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}
