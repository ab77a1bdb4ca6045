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
import { RECOVERY_FAILED_ALERT } from '../watcher/follow-recovery.js';
import { measureRecovery, recoveryTimes } from '../watcher/recovery-probe.js';
import { judgeRecovery, type Level, type RecoveryMeasurement, type RecoveryPolicy } from '../watcher/recovery.js';
import type { MetricsSource } from '../prometheus/metrics-source.js';
import { runSmokeTest, smokeTestUrl } from '../watcher/smoke-test.js';
import { formatNumber } from '../watcher/thresholds.js';
import type { Evaluation, ServiceKey, Verdict } from '../watcher/verdict.js';

const USAGE = `usage: bluegreen-guard evaluate --prometheus URL --namespace NS --service NAME --version V
           [--alertmanager URL] [--at TIME] [--cutover-at TIME] [--config FILE] [--output json|text]
           [--rolled-back-at TIME --stable-version V]

Prints what the watcher would decide for one service, from Prometheus (at --at)
and Alertmanager (as it is now: it keeps no history).

  --prometheus URL    Prometheus base URL
  --namespace NS      the service's namespace (destination_service_namespace)
  --service NAME      the service's name (destination_service_name)
  --version V         the candidate's destination_version
  --alertmanager URL  also judge critical-alert (default: alertmanagerUrl of --config)
  --at TIME           RFC 3339 or Unix seconds (default: now)
  --cutover-at TIME   when the cutover began: enables the early-window warnings
  --config FILE       watcher configuration (YAML or JSON): thresholds, queries, smoke test, recovery
  --output json|text  default text
  --rolled-back-at TIME  also judge the recovery after a rollback at TIME, as the watcher
                      does: the stable version (and its callers) back at the level before
                      --cutover-at (before TIME without it), recovered in N s or failed
                      (BlueGreenGuardRecoveryFailed) with the measured values
  --stable-version V  the stable version's destination_version (with --rolled-back-at)

exit status: 0 healthy or warning, 1 breached, 3 no-data or error, 2 unusable input
(the candidate's verdict; the recovery is printed, it does not change the exit status)`;

const EXIT: Record<Verdict, number> = { healthy: 0, warning: 0, breached: 1, 'no-data': 3, error: 3 };

class UsageError extends Error {}

interface Inputs {
  service: ServiceKey;
  atSeconds: number;
  cutoverAtSeconds: number | null;
  /** --rolled-back-at with --stable-version: the recovery to judge. */
  recovery: { rolledBackSeconds: number; stableVersion: string } | null;
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
  const [snapshot, criticalAlerts, smokeTest, recovery] = await Promise.all([
    collectMetrics(source, atSeconds, config, { earlyWindow: early }),
    config.alertmanagerUrl ? new AlertmanagerFiringAlertSource({ url: config.alertmanagerUrl, timeoutMs: config.alertmanagerTimeoutMs, ...config.alerts }).criticalAlerts() : undefined,
    smokeUrl ? runSmokeTest({ url: smokeUrl, expectedStatus: config.smokeTest.expectedStatus, timeoutMs: config.smokeTest.timeoutMs }) : undefined,
    inputs.recovery ? evaluateRecovery(source, service, inputs.recovery, atSeconds, inputs.cutoverAtSeconds, config.recovery) : undefined,
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
  if (recovery && inputs.cutoverAtSeconds === null) {
    notes.push(`the recovery baseline is the ${config.recovery.baselineSeconds} s before --rolled-back-at; give --cutover-at for the level before the cutover, as the watcher takes it`);
  }

  process.stdout.write(inputs.output === 'json' ? `${JSON.stringify(toJson(evaluation, service, atSeconds, notes, recovery))}\n` : toText(evaluation, service, atSeconds, notes, recovery));
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
        'rolled-back-at': { type: 'string' },
        'stable-version': { type: 'string' },
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
  const atSeconds = at === undefined ? Date.now() / 1000 : parseTime('--at', at);
  const rolledBackAt = str('rolled-back-at');
  const stableVersion = str('stable-version');
  if ((rolledBackAt === undefined) !== (stableVersion === undefined)) {
    throw new UsageError('--rolled-back-at and --stable-version go together: the recovery is judged on the stable version after the rollback');
  }
  let recovery: Inputs['recovery'] = null;
  if (rolledBackAt !== undefined && stableVersion !== undefined) {
    const rolledBackSeconds = parseTime('--rolled-back-at', rolledBackAt);
    if (rolledBackSeconds >= atSeconds) throw new UsageError(`--rolled-back-at ${rolledBackAt} is not before --at: the recovery is measured after the rollback`);
    recovery = { rolledBackSeconds, stableVersion };
  }
  return {
    service: { namespace: str('namespace') as string, service: str('service') as string, version: str('version') as string },
    atSeconds,
    cutoverAtSeconds: cutoverAt === undefined ? null : parseTime('--cutover-at', cutoverAt),
    recovery,
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

/** The recovery after a rollback, judged at --at as the watcher judges it each cycle. */
export interface RecoveryResult {
  /** `error`: Prometheus could not be read; `pending`: not yet, and the recovery window is still open. */
  state: 'recovered' | 'pending' | 'failed' | 'error';
  stableVersion: string;
  rolledBackAt: string;
  secondsSinceRollback: number;
  /** The critical alert the watcher fires for a failed recovery. */
  alert?: typeof RECOVERY_FAILED_ALERT;
  /** "recovered in N s: …", or what is not back with the measured values. */
  detail: string;
  measured?: RecoveryMeasurement;
}

export async function evaluateRecovery(
  source: MetricsSource,
  service: ServiceKey,
  rollback: { rolledBackSeconds: number; stableVersion: string },
  atSeconds: number,
  cutoverAtSeconds: number | null,
  policy: RecoveryPolicy,
): Promise<RecoveryResult> {
  const secondsSinceRollback = atSeconds - rollback.rolledBackSeconds;
  const base = { stableVersion: rollback.stableVersion, rolledBackAt: new Date(rollback.rolledBackSeconds * 1000).toISOString(), secondsSinceRollback: Math.round(secondsSinceRollback) };
  let measured: RecoveryMeasurement;
  try {
    measured = await measureRecovery(
      source,
      { namespace: service.namespace, service: service.service, stableVersion: rollback.stableVersion },
      recoveryTimes(policy, atSeconds, rollback.rolledBackSeconds, cutoverAtSeconds ?? undefined),
    );
  } catch (err) {
    return { ...base, state: 'error', detail: `the recovery could not be measured: ${err instanceof Error ? err.message : String(err)}` };
  }
  const verdict = judgeRecovery(measured, policy, secondsSinceRollback);
  return { ...base, state: verdict.kind, ...(verdict.kind === 'failed' ? { alert: RECOVERY_FAILED_ALERT } : {}), detail: verdict.detail, measured };
}

export function toJson(evaluation: Evaluation, service: ServiceKey, atSeconds: number, notes: string[], recovery?: RecoveryResult) {
  return {
    verdict: evaluation.verdict,
    findings: evaluation.findings.map((f) => ({ rule: f.rule, status: f.status, value: jsonNumber(f.value), threshold: jsonNumber(f.threshold), message: f.message })),
    service,
    at: new Date(atSeconds * 1000).toISOString(),
    ...(recovery ? { recovery: recoveryJson(recovery) } : {}),
    notes,
  };
}

function recoveryJson(r: RecoveryResult) {
  const level = (l: Level) => ({ errorRatio: jsonNumber(l.errorRatio), latencyP99Ms: jsonNumber(l.latencyP99Ms) });
  const { measured, ...rest } = r;
  if (!measured) return rest;
  return {
    ...rest,
    measured: {
      now: level(measured.now),
      baseline: level(measured.baseline),
      callers: measured.callers.map((c) => ({ workload: c.workload, errorRatio: jsonNumber(c.errorRatio), baselineErrorRatio: jsonNumber(c.baselineErrorRatio) })),
    },
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

export function toText(evaluation: Evaluation, service: ServiceKey, atSeconds: number, notes: string[], recovery?: RecoveryResult): string {
  const lines = [`${service.namespace}/${service.service} version ${service.version} at ${new Date(atSeconds * 1000).toISOString()}: ${evaluation.verdict.toUpperCase()}`];
  for (const f of evaluation.findings) {
    const numbers = f.value === null && f.threshold === null ? '' : ` (value ${f.value === null ? 'none' : formatNumber(f.value)}, threshold ${f.threshold === null ? 'none' : formatNumber(f.threshold)})`;
    lines.push(`  ${f.status.padEnd(8)} ${f.rule.padEnd(17)} ${f.message}${numbers}`);
  }
  if (recovery) {
    lines.push(
      `recovery of version ${recovery.stableVersion} after the rollback at ${recovery.rolledBackAt} (${recovery.secondsSinceRollback} s before): ${recovery.state.toUpperCase()}${recovery.alert ? ` (${recovery.alert})` : ''}`,
      `  ${recovery.detail}`,
    );
  }
  for (const note of notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}
