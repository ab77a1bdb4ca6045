// The watcher's whole configuration: one typed object with the seed's
// defaults, parsed and validated once at the composition root. Every problem
// is reported at once, each naming the field and how to fix it.
import { DEFAULT_MESH, type Mesh } from '../istio/mesh.js';
import { DEFAULT_LATCH_POLICY, type LatchPolicy } from '../watcher/latch.js';
import { parseMeshConfig, type LegacyMeshValue, type MeshField } from './mesh-config.js';
import { DEFAULT_RECOVERY_POLICY, type RecoveryPolicy } from '../watcher/recovery.js';
import { validate as validCron } from 'node-cron';
import { DEFAULT_DRILL_POLICY } from '../watcher/drill.js';
import type { DrillScheduleConfig } from '../watcher/drills.js';
import { DEFAULT_ERROR_RATIO_QUERY, DEFAULT_LATENCY_P99_QUERY, ISTIO_LABELS, type QueryTemplate } from '../prometheus/query-templates.js';
import { recordedQueries } from '../prometheus/recording-rules.js';

export type AlertSeverity = 'critical' | 'warning' | 'info';

export interface WatcherConfig {
  /** How often every guarded service is evaluated. */
  intervalSeconds: number;
  /** Evaluate and alert, never patch. */
  dryRun: boolean;
  /** Prometheus base URL; null leaves the watcher blind (every metric rule is `error`). */
  prometheusUrl: string | null;
  prometheusTimeoutMs: number;
  /** Alertmanager base URL; null disables the `critical-alert` rule and alert posting. */
  alertmanagerUrl: string | null;
  alertmanagerTimeoutMs: number;
  /** `error-rate`: breached when the 5xx ratio is ≥ `ratio` at every step of the last `windowSeconds`. */
  errorRate: { ratio: number; windowSeconds: number; stepSeconds: number; rateWindowSeconds: number };
  /** `latency-p99`: breached when p99 > `thresholdMs` in each of the last `consecutiveMinutes` minutes. */
  latencyP99: { thresholdMs: number; consecutiveMinutes: number };
  /** Warnings (no rollback) during the first `durationSeconds` after a cutover begins. */
  earlyWindow: {
    durationSeconds: number;
    errorRatio: number;
    latencyP99Ms: number;
    errorLogsPerSecond: number;
    /** Warning when the open count is above this. */
    circuitBreakerOpen: number;
  };
  /** No breach for this long at full candidate traffic records the cutover stable. */
  holdSeconds: number;
  /** No traffic / no series: no rollback; a warning alert once it has lasted this long. */
  noData: { alertAfterSeconds: number; severity: AlertSeverity };
  /** Prometheus unreachable or failing: no rollback; a "guard is blind" alert once it has lasted this long. */
  blind: { alertAfterSeconds: number; severity: AlertSeverity };
  queries: {
    /**
     * Read the recorded series of src/prometheus/recording-rules.ts (the chart's `watcher.recordingRules`)
     * instead of reducing raw counters and buckets in every cycle: for large meshes; values up to one rule interval old.
     */
    recordingRules: boolean;
    errorRatio: QueryTemplate;
    latencyP99: QueryTemplate;
    /** null: the `error-logs` rule is not evaluated (there is no standard metric for it). */
    errorLogs: QueryTemplate | null;
    /** null: the `circuit-breaker` rule is not evaluated (Istio does not export Envoy's breaker stats by default). */
    circuitBreakerOpen: QueryTemplate | null;
  };
  /**
   * `smoke-test`: an HTTP GET that must answer `expectedStatus`. `url` may use
   * `{{service}}`, `{{namespace}}` and `{{version}}`; null disables the rule
   * (a VirtualService can still name its own URL in an annotation).
   */
  smokeTest: { url: string | null; expectedStatus: number; timeoutMs: number };
  alerts: {
    /** Alertmanager label values that make an alert count for `critical-alert`. */
    severityLabel: string;
    criticalSeverity: string;
    serviceLabel: string;
    namespaceLabel: string;
    /** Alert names never counted by `critical-alert` (our own alerts must not trigger a rollback). */
    ignoreAlertnameRegex: string;
    /** Added to every alert the watcher posts (e.g. `cluster`). */
    extraLabels: Record<string, string>;
    /** Link put in `generatorURL`; null uses the Prometheus URL. */
    generatorUrl: string | null;
  };
  lease: { name: string; namespace: string; durationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
  /** Seed step 7: label the candidate Deployment once the cutover is stable. */
  promotion: { enabled: boolean; labelKey: string; labelValue: string };
  /** Rollback latch (docs/watcher-rollback.md): record the rolled-back revisions; expirySeconds 0 keeps them until cleared. */
  latch: LatchPolicy;
  /** The mesh as the webhook sees it too (src/config/mesh-config.ts). */
  mesh: Mesh;
  /** Deprecated keys in use, logged at start. */
  warnings: string[];
  /** After a rollback: the stable version back to its pre-cutover level within windowSeconds, callers too (docs/watcher-rollback.md). */
  recovery: RecoveryPolicy;
  /** Failover drills (docs/drills.md): the schedule, and how a drill runs. Only opted-in VirtualServices are drilled. */
  drills: DrillScheduleConfig;
}

export function defaultWatcherConfig(): WatcherConfig {
  return {
    intervalSeconds: 15,
    dryRun: false,
    prometheusUrl: null,
    prometheusTimeoutMs: 5000,
    alertmanagerUrl: null,
    alertmanagerTimeoutMs: 5000,
    errorRate: { ratio: 0.05, windowSeconds: 120, stepSeconds: 15, rateWindowSeconds: 60 },
    latencyP99: { thresholdMs: 2000, consecutiveMinutes: 3 },
    earlyWindow: { durationSeconds: 300, errorRatio: 0.005, latencyP99Ms: 800, errorLogsPerSecond: 2, circuitBreakerOpen: 0 },
    holdSeconds: 600,
    noData: { alertAfterSeconds: 300, severity: 'warning' },
    blind: { alertAfterSeconds: 60, severity: 'critical' },
    queries: {
      recordingRules: false,
      errorRatio: { query: DEFAULT_ERROR_RATIO_QUERY, labels: { ...ISTIO_LABELS } },
      latencyP99: { query: DEFAULT_LATENCY_P99_QUERY, labels: { ...ISTIO_LABELS } },
      errorLogs: null,
      circuitBreakerOpen: null,
    },
    smokeTest: { url: null, expectedStatus: 200, timeoutMs: 5000 },
    alerts: {
      severityLabel: 'severity',
      criticalSeverity: 'critical',
      serviceLabel: 'service',
      namespaceLabel: 'namespace',
      ignoreAlertnameRegex: 'BlueGreenGuard.*',
      extraLabels: {},
      generatorUrl: null,
    },
    lease: { name: 'bluegreen-guard-watcher', namespace: 'bluegreen-guard', durationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 },
    promotion: { enabled: false, labelKey: 'env', labelValue: 'prod' },
    latch: { ...DEFAULT_LATCH_POLICY },
    mesh: { ...DEFAULT_MESH },
    warnings: [],
    recovery: { ...DEFAULT_RECOVERY_POLICY },
    // Weekly, Monday 04:00 UTC: the seed's "test blue-green failover weekly".
    drills: { enabled: true, schedule: '0 4 * * 1', timezone: 'UTC', ...DEFAULT_DRILL_POLICY },
  };
}

export class WatcherConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid watcher configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'WatcherConfigError';
  }
}

type Obj = Record<string, unknown>;

/** A small validator that collects every problem with its field path. */
class Reader {
  readonly problems: string[] = [];

  object(value: unknown, path: string, known: readonly string[]): Obj | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.problems.push(`${path || 'the configuration'}: must be a mapping, got ${describe(value)}; fix: write it as key: value pairs`);
      return undefined;
    }
    const obj = value as Obj;
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) {
        this.problems.push(`${join(path, key)}: unknown field; fix: remove it or correct the spelling (known here: ${known.join(', ')})`);
      }
    }
    return obj;
  }

  number(obj: Obj | undefined, path: string, key: string, fallback: number, limits: { min?: number; max?: number; integer?: boolean; exclusiveMin?: number }): number {
    const value = obj?.[key];
    if (value === undefined) return fallback;
    const where = join(path, key);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.problems.push(`${where}: must be a number, got ${describe(value)}; fix: write a plain number (default ${fallback})`);
      return fallback;
    }
    if (limits.integer && !Number.isInteger(value)) this.problems.push(`${where}: must be a whole number, got ${value}; fix: round it (default ${fallback})`);
    if (limits.min !== undefined && value < limits.min) this.problems.push(`${where}: must be ≥ ${limits.min}, got ${value}; fix: raise it (default ${fallback})`);
    if (limits.exclusiveMin !== undefined && value <= limits.exclusiveMin) this.problems.push(`${where}: must be > ${limits.exclusiveMin}, got ${value}; fix: raise it (default ${fallback})`);
    if (limits.max !== undefined && value > limits.max) this.problems.push(`${where}: must be ≤ ${limits.max}, got ${value}; fix: lower it (default ${fallback})`);
    return value;
  }

  boolean(obj: Obj | undefined, path: string, key: string, fallback: boolean): boolean {
    const value = obj?.[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.problems.push(`${join(path, key)}: must be true or false, got ${describe(value)}`);
      return fallback;
    }
    return value;
  }

  string(obj: Obj | undefined, path: string, key: string, fallback: string, check?: (s: string) => string | undefined): string {
    const value = obj?.[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value.trim() === '') {
      this.problems.push(`${join(path, key)}: must be a non-empty string, got ${describe(value)} (default ${JSON.stringify(fallback)})`);
      return fallback;
    }
    const problem = check?.(value);
    if (problem) this.problems.push(`${join(path, key)}: ${problem}`);
    return value;
  }

  nullableString(obj: Obj | undefined, path: string, key: string, fallback: string | null, check?: (s: string) => string | undefined): string | null {
    if (obj?.[key] === null) return null;
    if (obj?.[key] === undefined) return fallback;
    return this.string(obj, path, key, fallback ?? '', check);
  }

  oneOf<T extends string>(obj: Obj | undefined, path: string, key: string, fallback: T, allowed: readonly T[]): T {
    const value = obj?.[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${join(path, key)}: must be one of ${allowed.join(', ')}, got ${describe(value)}`);
      return fallback;
    }
    return value as T;
  }

  stringMap(obj: Obj | undefined, path: string, key: string): Record<string, string> {
    const value = obj?.[key];
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
      this.problems.push(`${join(path, key)}: must map label names to string values, got ${describe(value)}`);
      return {};
    }
    return { ...(value as Record<string, string>) };
  }

  query(obj: Obj | undefined, path: string, key: string, fallback: QueryTemplate | null): QueryTemplate | null {
    const value = obj?.[key];
    if (value === null) return null;
    if (value === undefined) return fallback;
    const where = join(path, key);
    const q = this.object(value, where, ['query', 'labels']);
    if (!q) return fallback;
    const base = fallback ?? { query: '', labels: { ...ISTIO_LABELS } };
    const query = this.string(q, where, 'query', base.query);
    const labelsObj = this.object(q.labels, join(where, 'labels'), ['namespace', 'service', 'version']);
    const labels = {
      namespace: this.string(labelsObj, join(where, 'labels'), 'namespace', base.labels.namespace, labelName),
      service: this.string(labelsObj, join(where, 'labels'), 'service', base.labels.service, labelName),
      version: this.string(labelsObj, join(where, 'labels'), 'version', base.labels.version, labelName),
    };
    return { query, labels };
  }
}

/**
 * Parses a configuration document (YAML/JSON already decoded) over the seed
 * defaults. `legacyMesh`: mesh values given the old way (`--cluster-domain`).
 */
export function parseWatcherConfig(raw: unknown, legacyMesh: Partial<Record<MeshField, LegacyMeshValue>> = {}): WatcherConfig {
  const d = defaultWatcherConfig();
  const r = new Reader();
  const top = r.object(raw, '', [
    'intervalSeconds', 'dryRun', 'prometheusUrl', 'prometheusTimeoutMs', 'alertmanagerUrl', 'alertmanagerTimeoutMs',
    'errorRate', 'latencyP99', 'earlyWindow', 'holdSeconds', 'noData', 'blind', 'queries', 'smokeTest', 'alerts', 'lease', 'promotion', 'latch', 'recovery', 'mesh', 'drills',
  ]);
  const seconds = { exclusiveMin: 0 };
  const ratio = { exclusiveMin: 0, max: 1 };

  const er = r.object(top?.errorRate, 'errorRate', ['ratio', 'windowSeconds', 'stepSeconds', 'rateWindowSeconds']);
  const errorRate = {
    ratio: r.number(er, 'errorRate', 'ratio', d.errorRate.ratio, ratio),
    windowSeconds: r.number(er, 'errorRate', 'windowSeconds', d.errorRate.windowSeconds, { ...seconds, integer: true }),
    stepSeconds: r.number(er, 'errorRate', 'stepSeconds', d.errorRate.stepSeconds, { ...seconds, integer: true }),
    rateWindowSeconds: r.number(er, 'errorRate', 'rateWindowSeconds', d.errorRate.rateWindowSeconds, { ...seconds, integer: true }),
  };
  if (errorRate.windowSeconds % errorRate.stepSeconds !== 0) {
    r.problems.push(`errorRate.windowSeconds (${errorRate.windowSeconds}) must be a multiple of errorRate.stepSeconds (${errorRate.stepSeconds}); fix: change one of them so every step of the window is evaluated`);
  }
  if (errorRate.windowSeconds / errorRate.stepSeconds > 1000) {
    r.problems.push(`errorRate.stepSeconds (${errorRate.stepSeconds}) is too small for a ${errorRate.windowSeconds} s window (over 1000 steps); fix: raise errorRate.stepSeconds`);
  }

  const lp = r.object(top?.latencyP99, 'latencyP99', ['thresholdMs', 'consecutiveMinutes']);
  const latencyP99 = {
    thresholdMs: r.number(lp, 'latencyP99', 'thresholdMs', d.latencyP99.thresholdMs, { exclusiveMin: 0 }),
    consecutiveMinutes: r.number(lp, 'latencyP99', 'consecutiveMinutes', d.latencyP99.consecutiveMinutes, { min: 1, max: 60, integer: true }),
  };

  const ew = r.object(top?.earlyWindow, 'earlyWindow', ['durationSeconds', 'errorRatio', 'latencyP99Ms', 'errorLogsPerSecond', 'circuitBreakerOpen']);
  const earlyWindow = {
    durationSeconds: r.number(ew, 'earlyWindow', 'durationSeconds', d.earlyWindow.durationSeconds, { min: 0 }),
    errorRatio: r.number(ew, 'earlyWindow', 'errorRatio', d.earlyWindow.errorRatio, ratio),
    latencyP99Ms: r.number(ew, 'earlyWindow', 'latencyP99Ms', d.earlyWindow.latencyP99Ms, { exclusiveMin: 0 }),
    errorLogsPerSecond: r.number(ew, 'earlyWindow', 'errorLogsPerSecond', d.earlyWindow.errorLogsPerSecond, { exclusiveMin: 0 }),
    circuitBreakerOpen: r.number(ew, 'earlyWindow', 'circuitBreakerOpen', d.earlyWindow.circuitBreakerOpen, { min: 0 }),
  };

  const alertTiming = (key: 'noData' | 'blind') => {
    const o = r.object(top?.[key], key, ['alertAfterSeconds', 'severity']);
    return {
      alertAfterSeconds: r.number(o, key, 'alertAfterSeconds', d[key].alertAfterSeconds, { min: 0 }),
      severity: r.oneOf<AlertSeverity>(o, key, 'severity', d[key].severity, ['critical', 'warning', 'info']),
    };
  };

  const q = r.object(top?.queries, 'queries', ['recordingRules', 'errorRatio', 'latencyP99', 'errorLogs', 'circuitBreakerOpen']);
  const recordingRules = r.boolean(q, 'queries', 'recordingRules', d.queries.recordingRules);
  const ruleDefaults = recordingRules ? recordedQueries() : d.queries;
  const requiredQuery = (key: 'errorRatio' | 'latencyP99'): QueryTemplate => {
    if (recordingRules && q?.[key] !== undefined) {
      r.problems.push(`queries.${key}: set together with queries.recordingRules: true, which reads the chart's recorded series instead; fix: remove one of them`);
    }
    const value = r.query(q, 'queries', key, ruleDefaults[key]);
    if (value === null) {
      r.problems.push(`queries.${key}: cannot be null, the rollback rules need it; fix: remove the field to use the default`);
      return ruleDefaults[key];
    }
    return value;
  };

  const st = r.object(top?.smokeTest, 'smokeTest', ['url', 'expectedStatus', 'timeoutMs']);
  const al = r.object(top?.alerts, 'alerts', ['severityLabel', 'criticalSeverity', 'serviceLabel', 'namespaceLabel', 'ignoreAlertnameRegex', 'extraLabels', 'generatorUrl']);
  const le = r.object(top?.lease, 'lease', ['name', 'namespace', 'durationSeconds', 'renewDeadlineSeconds', 'retryPeriodSeconds']);
  const lease = {
    name: r.string(le, 'lease', 'name', d.lease.name, dnsName),
    namespace: r.string(le, 'lease', 'namespace', d.lease.namespace, dnsName),
    durationSeconds: r.number(le, 'lease', 'durationSeconds', d.lease.durationSeconds, { min: 1, integer: true }),
    renewDeadlineSeconds: r.number(le, 'lease', 'renewDeadlineSeconds', d.lease.renewDeadlineSeconds, { exclusiveMin: 0 }),
    retryPeriodSeconds: r.number(le, 'lease', 'retryPeriodSeconds', d.lease.retryPeriodSeconds, { exclusiveMin: 0 }),
  };
  if (lease.renewDeadlineSeconds >= lease.durationSeconds) {
    r.problems.push(`lease.renewDeadlineSeconds (${lease.renewDeadlineSeconds}) must be below lease.durationSeconds (${lease.durationSeconds}); fix: a leader must give up before a standby may take over`);
  }
  if (lease.retryPeriodSeconds >= lease.renewDeadlineSeconds) {
    r.problems.push(`lease.retryPeriodSeconds (${lease.retryPeriodSeconds}) must be below lease.renewDeadlineSeconds (${lease.renewDeadlineSeconds}); fix: lower it so a renewal can be retried before the deadline`);
  }
  const pr = r.object(top?.promotion, 'promotion', ['enabled', 'labelKey', 'labelValue']);
  const la = r.object(top?.latch, 'latch', ['enabled', 'expirySeconds', 'lookupTimeoutMs']);
  const mesh = parseMeshConfig(top?.mesh, legacyMesh);
  r.problems.push(...mesh.problems);
  const dr = r.object(top?.drills, 'drills', ['enabled', 'schedule', 'timezone', 'sharePercent', 'trafficTimeoutSeconds', 'maxRollbackSeconds', 'pollIntervalMs']);
  const rc = r.object(top?.recovery, 'recovery', ['enabled', 'windowSeconds', 'baselineSeconds', 'rateWindowSeconds', 'errorRatioMargin', 'latencyP99MarginRatio', 'latencyP99MarginMs']);

  const config: WatcherConfig = {
    intervalSeconds: r.number(top, '', 'intervalSeconds', d.intervalSeconds, { min: 1, max: 3600 }),
    dryRun: r.boolean(top, '', 'dryRun', d.dryRun),
    prometheusUrl: r.nullableString(top, '', 'prometheusUrl', d.prometheusUrl, httpUrl),
    prometheusTimeoutMs: r.number(top, '', 'prometheusTimeoutMs', d.prometheusTimeoutMs, { min: 1, integer: true }),
    alertmanagerUrl: r.nullableString(top, '', 'alertmanagerUrl', d.alertmanagerUrl, httpUrl),
    alertmanagerTimeoutMs: r.number(top, '', 'alertmanagerTimeoutMs', d.alertmanagerTimeoutMs, { min: 1, integer: true }),
    errorRate,
    latencyP99,
    earlyWindow,
    holdSeconds: r.number(top, '', 'holdSeconds', d.holdSeconds, { min: 0 }),
    noData: alertTiming('noData'),
    blind: alertTiming('blind'),
    queries: {
      recordingRules,
      errorRatio: requiredQuery('errorRatio'),
      latencyP99: requiredQuery('latencyP99'),
      errorLogs: r.query(q, 'queries', 'errorLogs', d.queries.errorLogs),
      circuitBreakerOpen: r.query(q, 'queries', 'circuitBreakerOpen', d.queries.circuitBreakerOpen),
    },
    smokeTest: {
      url: r.nullableString(st, 'smokeTest', 'url', d.smokeTest.url, (s) => httpUrl(s.replaceAll(/\{\{(service|namespace|version)\}\}/g, 'x'))),
      expectedStatus: r.number(st, 'smokeTest', 'expectedStatus', d.smokeTest.expectedStatus, { min: 100, max: 599, integer: true }),
      timeoutMs: r.number(st, 'smokeTest', 'timeoutMs', d.smokeTest.timeoutMs, { min: 1, integer: true }),
    },
    alerts: {
      severityLabel: r.string(al, 'alerts', 'severityLabel', d.alerts.severityLabel, labelName),
      criticalSeverity: r.string(al, 'alerts', 'criticalSeverity', d.alerts.criticalSeverity),
      serviceLabel: r.string(al, 'alerts', 'serviceLabel', d.alerts.serviceLabel, labelName),
      namespaceLabel: r.string(al, 'alerts', 'namespaceLabel', d.alerts.namespaceLabel, labelName),
      ignoreAlertnameRegex: r.string(al, 'alerts', 'ignoreAlertnameRegex', d.alerts.ignoreAlertnameRegex, regex),
      extraLabels: r.stringMap(al, 'alerts', 'extraLabels'),
      generatorUrl: r.nullableString(al, 'alerts', 'generatorUrl', d.alerts.generatorUrl, httpUrl),
    },
    lease,
    promotion: {
      enabled: r.boolean(pr, 'promotion', 'enabled', d.promotion.enabled),
      labelKey: r.string(pr, 'promotion', 'labelKey', d.promotion.labelKey),
      labelValue: r.string(pr, 'promotion', 'labelValue', d.promotion.labelValue),
    },
    latch: {
      enabled: r.boolean(la, 'latch', 'enabled', d.latch.enabled),
      expirySeconds: r.number(la, 'latch', 'expirySeconds', d.latch.expirySeconds, { min: 0, integer: true }),
      lookupTimeoutMs: r.number(la, 'latch', 'lookupTimeoutMs', d.latch.lookupTimeoutMs, { min: 1, integer: true }),
    },
    mesh: mesh.mesh,
    warnings: mesh.warnings,
    recovery: {
      enabled: r.boolean(rc, 'recovery', 'enabled', d.recovery.enabled),
      windowSeconds: r.number(rc, 'recovery', 'windowSeconds', d.recovery.windowSeconds, { exclusiveMin: 0 }),
      baselineSeconds: r.number(rc, 'recovery', 'baselineSeconds', d.recovery.baselineSeconds, { exclusiveMin: 0, integer: true }),
      rateWindowSeconds: r.number(rc, 'recovery', 'rateWindowSeconds', d.recovery.rateWindowSeconds, { exclusiveMin: 0, integer: true }),
      errorRatioMargin: r.number(rc, 'recovery', 'errorRatioMargin', d.recovery.errorRatioMargin, { min: 0, max: 1 }),
      latencyP99MarginRatio: r.number(rc, 'recovery', 'latencyP99MarginRatio', d.recovery.latencyP99MarginRatio, { min: 0 }),
      latencyP99MarginMs: r.number(rc, 'recovery', 'latencyP99MarginMs', d.recovery.latencyP99MarginMs, { min: 0 }),
    },
    drills: {
      enabled: r.boolean(dr, 'drills', 'enabled', d.drills.enabled),
      schedule: r.string(dr, 'drills', 'schedule', d.drills.schedule, cronExpression),
      timezone: r.string(dr, 'drills', 'timezone', d.drills.timezone, timeZone),
      sharePercent: r.number(dr, 'drills', 'sharePercent', d.drills.sharePercent, { min: 1, max: 50, integer: true }),
      trafficTimeoutSeconds: r.number(dr, 'drills', 'trafficTimeoutSeconds', d.drills.trafficTimeoutSeconds, { min: 1, max: 600 }),
      maxRollbackSeconds: r.number(dr, 'drills', 'maxRollbackSeconds', d.drills.maxRollbackSeconds, { exclusiveMin: 0 }),
      pollIntervalMs: r.number(dr, 'drills', 'pollIntervalMs', d.drills.pollIntervalMs, { min: 50, max: 60_000, integer: true }),
    },
  };
  for (const name of Object.keys(config.alerts.extraLabels)) {
    const problem = labelName(name);
    if (problem) r.problems.push(`alerts.extraLabels.${name}: ${problem}`);
  }
  if (r.problems.length > 0) throw new WatcherConfigError(r.problems);
  return config;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${JSON.stringify(value)}`;
}

function httpUrl(s: string): string | undefined {
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return undefined;
  } catch {
    // reported below
  }
  return `must be an http:// or https:// URL, got ${JSON.stringify(s)}; fix: write the full URL, e.g. http://prometheus.monitoring:9090`;
}

function labelName(s: string): string | undefined {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(s) ? undefined : `${JSON.stringify(s)} is not a valid Prometheus label name; fix: use letters, digits and underscores, not starting with a digit`;
}

function dnsName(s: string): string | undefined {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s) && s.length <= 63 ? undefined : `${JSON.stringify(s)} is not a valid Kubernetes name; fix: lower-case letters, digits and '-'`;
}

function cronExpression(s: string): string | undefined {
  return validCron(s) ? undefined : `${JSON.stringify(s)} is not a cron expression; fix: five fields (minute hour day-of-month month day-of-week, e.g. "0 4 * * 1" for Mondays 04:00) or six with seconds first`;
}

function timeZone(s: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: s });
    return undefined;
  } catch {
    return `${JSON.stringify(s)} is not an IANA time zone; fix: e.g. UTC or Europe/Berlin`;
  }
}

function regex(s: string): string | undefined {
  try {
    new RegExp(`^(?:${s})$`);
    return undefined;
  } catch (err) {
    return `${JSON.stringify(s)} is not a valid regular expression (${(err as Error).message})`;
  }
}
