// The webhook process's whole configuration: a YAML file (`--config`) with
// command-line flags on top, parsed and validated once at the composition
// root. Every problem is reported at once, naming the field and the fix.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { CacheScope, IstioApiVersion } from '../cluster/cluster-cache.js';
import type { Mesh } from '../istio/mesh.js';
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_MAX_CONCURRENT_REVIEWS, DEFAULT_MAX_QUEUED_REVIEWS, MIN_BODY_LIMIT_BYTES } from '../webhook/admission-transport.js';
import { DEFAULT_WORK_BOUND, type WorkBound } from '../webhook/admission-wrappers.js';
import { DEFAULT_CONNECTION_LIMITS } from '../webhook/server.js';
import { parseRulesConfig, type RulesConfig } from '../webhook/rules-config.js';
import { parseMeshConfig, type LegacyMeshValue, type MeshField } from './mesh-config.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const REFRESH_THREADS = ['stream', 'worker', 'main'] as const;
export type RefreshThread = (typeof REFRESH_THREADS)[number];
const CACHE_SCOPES: readonly CacheScope[] = ['cluster', 'guarded-namespaces'];
const ISTIO_API_VERSIONS: readonly IstioApiVersion[] = ['v1', 'v1beta1', 'v1alpha3'];

export interface WebhookConfig {
  admission: {
    host: string;
    port: number;
    path: string;
    bodyLimitBytes: number;
    /** Past it an object is denied before any rule runs. */
    workBound: WorkBound;
    /** Reviews read and judged at once; past them up to maxQueuedReviews wait, then 429. */
    maxConcurrentReviews: number;
    maxQueuedReviews: number;
    /** A client that has not finished the TLS handshake by then is cut. */
    handshakeTimeoutMs: number;
    /** Open connections per process; past it new ones are dropped at accept. */
    maxConnections: number;
  };
  tls: { certFile: string; keyFile: string; pollIntervalSeconds: number };
  /** Plain HTTP: `/metrics`, `/live`, `/ready`. */
  metrics: { host: string; port: number };
  kubernetes: {
    /** null: in-cluster ServiceAccount inside a pod, else $KUBECONFIG or ~/.kube/config. */
    kubeconfig: string | null;
    context: string | null;
    cacheScope: CacheScope;
    istioApiVersion: IstioApiVersion;
    watchTimeoutSeconds: number;
    stallSeconds: number;
  };
  /** After SIGTERM, keep answering (and report not-ready) this long so the Service stops sending first. */
  shutdownGraceSeconds: number;
  logLevel: LogLevel;
  /** Where the `metrics-scraped` rule asks whether pods are scraped; null turns the rule into a "skipped" warning. */
  prometheus: {
    url: string | null;
    refreshIntervalSeconds: number;
    timeoutMs: number;
    /** Where the `up` query and its parse run: a worker thread (no stall of the reviews; some 40 MiB more) or the admission thread. */
    refreshIn: RefreshThread;
  };
  /** The mesh as the watcher sees it too (src/config/mesh-config.ts). */
  mesh: Mesh;
  /** The rules' settings; its rootNamespace, clusterDomain and defaultStableSubset are the mesh's. */
  rules: RulesConfig;
  /** Deprecated keys in use, logged at start. */
  warnings: string[];
}

export function defaultWebhookConfigDocument(): Omit<WebhookConfig, 'rules' | 'mesh' | 'warnings'> {
  return {
    admission: {
      host: '0.0.0.0',
      port: 8443,
      path: '/validate',
      bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
      workBound: { ...DEFAULT_WORK_BOUND },
      maxConcurrentReviews: DEFAULT_MAX_CONCURRENT_REVIEWS,
      maxQueuedReviews: DEFAULT_MAX_QUEUED_REVIEWS,
      handshakeTimeoutMs: DEFAULT_CONNECTION_LIMITS.handshakeTimeoutMs,
      maxConnections: DEFAULT_CONNECTION_LIMITS.maxConnections,
    },
    tls: { certFile: '/etc/bluegreen-guard/tls/tls.crt', keyFile: '/etc/bluegreen-guard/tls/tls.key', pollIntervalSeconds: 10 },
    metrics: { host: '0.0.0.0', port: 9090 },
    kubernetes: { kubeconfig: null, context: null, cacheScope: 'cluster', istioApiVersion: 'v1', watchTimeoutSeconds: 300, stallSeconds: 90 },
    shutdownGraceSeconds: 5,
    logLevel: 'info',
    prometheus: { url: null, refreshIntervalSeconds: 15, timeoutMs: 5000, refreshIn: 'stream' },
  };
}

export class WebhookConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid webhook configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'WebhookConfigError';
  }
}

export const WEBHOOK_USAGE = `usage: bluegreen-guard webhook [--config FILE] [options]

Serve the validating admission webhook for VirtualServices and DestinationRules.
Options override the same setting in the config file.

  --config FILE            YAML/JSON configuration (see docs/webhook-config.md)
  --host ADDR              admission HTTPS address (admission.host, default 0.0.0.0)
  --port N                 admission HTTPS port (admission.port, default 8443)
  --metrics-host ADDR      plain-HTTP /metrics, /live, /ready address (metrics.host)
  --metrics-port N         its port (metrics.port, default 9090)
  --cert-file FILE         serving certificate, PEM (tls.certFile); reloaded when it changes
  --key-file FILE          its private key, PEM (tls.keyFile)
  --body-limit-bytes N     largest AdmissionReview accepted (admission.bodyLimitBytes, ≥ 3 MiB, default 6 MiB)
  --kubeconfig FILE        cluster access (kubernetes.kubeconfig; default in-cluster or ~/.kube/config)
  --context NAME           kubeconfig context (kubernetes.context)
  --cache-scope SCOPE      cluster | guarded-namespaces (kubernetes.cacheScope)
  --root-namespace NS      Istio's mesh root namespace (mesh.rootNamespace, default istio-system)
  --cluster-domain DOMAIN  Kubernetes cluster domain (mesh.clusterDomain, default cluster.local)
  --log-level LEVEL        ${LOG_LEVELS.join(' | ')} (logLevel, default info)
  --prometheus URL         Prometheus the metrics-scraped rule asks for 'up' (prometheus.url; unset: rule skipped)`;

/** Flags as parsed; every one is optional and overrides the file. */
export function parseWebhookFlags(argv: string[]): { help: boolean; configFile: string | undefined; overrides: Record<string, string> } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'metrics-host': { type: 'string' },
      'metrics-port': { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      'body-limit-bytes': { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      'cache-scope': { type: 'string' },
      'root-namespace': { type: 'string' },
      'cluster-domain': { type: 'string' },
      'log-level': { type: 'string' },
      prometheus: { type: 'string' },
    },
  });
  const { help, config, ...rest } = values;
  const overrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) if (typeof v === 'string') overrides[k] = v;
  return { help: help === true, configFile: config, overrides };
}

/** Where each flag lands in the document. */
const FLAG_PATHS: Record<string, { path: [string, string] | [string]; numeric?: boolean }> = {
  host: { path: ['admission', 'host'] },
  port: { path: ['admission', 'port'], numeric: true },
  'metrics-host': { path: ['metrics', 'host'] },
  'metrics-port': { path: ['metrics', 'port'], numeric: true },
  'cert-file': { path: ['tls', 'certFile'] },
  'key-file': { path: ['tls', 'keyFile'] },
  'body-limit-bytes': { path: ['admission', 'bodyLimitBytes'], numeric: true },
  kubeconfig: { path: ['kubernetes', 'kubeconfig'] },
  context: { path: ['kubernetes', 'context'] },
  'cache-scope': { path: ['kubernetes', 'cacheScope'] },
  'root-namespace': { path: ['mesh', 'rootNamespace'] },
  'cluster-domain': { path: ['mesh', 'clusterDomain'] },
  'log-level': { path: ['logLevel'] },
  prometheus: { path: ['prometheus', 'url'] },
};

/** Reads `--config` (if any), applies the flags, validates. Throws WebhookConfigError. */
export function loadWebhookConfig(argv: string[], readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): WebhookConfig {
  const { configFile, overrides } = parseWebhookFlags(argv);
  let raw: unknown = {};
  if (configFile !== undefined) {
    let text: string;
    try {
      text = readFile(configFile);
    } catch (e) {
      throw new WebhookConfigError([`--config ${configFile}: cannot read it (${(e as Error).message}); fix: pass the path of a readable YAML file`]);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (e) {
      throw new WebhookConfigError([`--config ${configFile}: not valid YAML (${(e as Error).message})`]);
    }
  }
  try {
    return parseWebhookConfig(applyFlags(raw, overrides));
  } catch (e) {
    if (!(e instanceof WebhookConfigError)) throw e;
    // Say which flag set a bad value, so nobody searches the file for it.
    const byPath = new Map(Object.keys(overrides).flatMap((flag) => (FLAG_PATHS[flag] ? [[FLAG_PATHS[flag].path.join('.'), flag] as const] : [])));
    throw new WebhookConfigError(
      e.problems.map((p) => {
        const flag = [...byPath].find(([path]) => p.startsWith(`${path}:`) || p.startsWith(`rules: rules config: ${path.split('.').pop() ?? ''} `))?.[1];
        return flag ? `${p} (set by --${flag})` : p;
      }),
    );
  }
}

function applyFlags(raw: unknown, overrides: Record<string, string>): unknown {
  if (Object.keys(overrides).length === 0 || raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const doc = structuredClone(raw) as Record<string, unknown>;
  for (const [flag, value] of Object.entries(overrides)) {
    const target = FLAG_PATHS[flag];
    if (!target) continue;
    const parsed = target.numeric && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    const [section, key] = target.path;
    if (key === undefined) {
      doc[section] = parsed;
      continue;
    }
    const existing = doc[section];
    const obj = existing !== null && typeof existing === 'object' && !Array.isArray(existing) ? (existing as Record<string, unknown>) : {};
    obj[key] = parsed;
    doc[section] = obj;
    // A flag overrides the file, the file's deprecated spelling of the same field included.
    const rules = doc.rules;
    if (section === 'mesh' && rules !== null && typeof rules === 'object' && !Array.isArray(rules) && key in rules) {
      const rest = { ...(rules as Record<string, unknown>) };
      delete rest[key];
      doc.rules = rest;
    }
  }
  return doc;
}

type Obj = Record<string, unknown>;

/** Validates a decoded document over the defaults. */
export function parseWebhookConfig(raw: unknown): WebhookConfig {
  const d = defaultWebhookConfigDocument();
  const problems: string[] = [];
  const top = section(raw, '', ['admission', 'tls', 'metrics', 'kubernetes', 'shutdownGraceSeconds', 'logLevel', 'prometheus', 'mesh', 'rules'], problems);
  const p = section(top?.prometheus, 'prometheus', ['url', 'refreshIntervalSeconds', 'timeoutMs', 'refreshIn'], problems);
  const a = section(top?.admission, 'admission', ['host', 'port', 'path', 'bodyLimitBytes', 'workBound', 'maxConcurrentReviews', 'maxQueuedReviews', 'handshakeTimeoutMs', 'maxConnections'], problems);
  const wb = section(a?.workBound, 'admission.workBound', ['maxRoutes', 'maxDestinations', 'maxMatches'], problems);
  const t = section(top?.tls, 'tls', ['certFile', 'keyFile', 'pollIntervalSeconds'], problems);
  const m = section(top?.metrics, 'metrics', ['host', 'port'], problems);
  const k = section(top?.kubernetes, 'kubernetes', ['kubeconfig', 'context', 'cacheScope', 'istioApiVersion', 'watchTimeoutSeconds', 'stallSeconds'], problems);
  const f = new Fields(problems);

  const config: Omit<WebhookConfig, 'rules' | 'mesh' | 'warnings'> = {
    admission: {
      host: f.string(a, 'admission.host', d.admission.host),
      port: f.port(a, 'admission.port', d.admission.port),
      path: f.string(a, 'admission.path', d.admission.path, (s) => (s.startsWith('/') ? undefined : `must start with "/", got "${s}"`)),
      bodyLimitBytes: f.integer(a, 'admission.bodyLimitBytes', d.admission.bodyLimitBytes, MIN_BODY_LIMIT_BYTES, 64 * 1024 * 1024,
        `the API server sends objects up to 3 MiB (--max-request-bytes); fix: set at least ${MIN_BODY_LIMIT_BYTES}`),
      // Each bound is what one review may ask of the rules; memory grows with it (docs/security.md, limits).
      workBound: {
        maxRoutes: f.integer(wb, 'admission.workBound.maxRoutes', d.admission.workBound.maxRoutes, 1, 100_000),
        maxDestinations: f.integer(wb, 'admission.workBound.maxDestinations', d.admission.workBound.maxDestinations, 1, 400_000),
        maxMatches: f.integer(wb, 'admission.workBound.maxMatches', d.admission.workBound.maxMatches, 1, 400_000),
      },
      // Every review in flight may hold its body several times over: this, not the callers, bounds peak memory.
      maxConcurrentReviews: f.integer(a, 'admission.maxConcurrentReviews', d.admission.maxConcurrentReviews, 1, 64,
        `at least one review must be judged at a time; fix: set at least 1 (default ${d.admission.maxConcurrentReviews})`),
      maxQueuedReviews: f.integer(a, 'admission.maxQueuedReviews', d.admission.maxQueuedReviews, 0, 10_000),
      handshakeTimeoutMs: f.integer(a, 'admission.handshakeTimeoutMs', d.admission.handshakeTimeoutMs, 1000, 120_000,
        `a TLS handshake over a busy network can take a few hundred milliseconds; fix: set at least 1000 (default ${d.admission.handshakeTimeoutMs})`),
      maxConnections: f.integer(a, 'admission.maxConnections', d.admission.maxConnections, 8, 100_000,
        `the API server opens several connections per replica and the kubelet probes need their own; fix: set at least 8 (default ${d.admission.maxConnections})`),
    },
    tls: {
      certFile: f.string(t, 'tls.certFile', d.tls.certFile),
      keyFile: f.string(t, 'tls.keyFile', d.tls.keyFile),
      pollIntervalSeconds: f.integer(t, 'tls.pollIntervalSeconds', d.tls.pollIntervalSeconds, 1, 3600),
    },
    metrics: { host: f.string(m, 'metrics.host', d.metrics.host), port: f.port(m, 'metrics.port', d.metrics.port) },
    kubernetes: {
      kubeconfig: f.nullableString(k, 'kubernetes.kubeconfig', d.kubernetes.kubeconfig),
      context: f.nullableString(k, 'kubernetes.context', d.kubernetes.context),
      cacheScope: f.oneOf(k, 'kubernetes.cacheScope', d.kubernetes.cacheScope, CACHE_SCOPES),
      istioApiVersion: f.oneOf(k, 'kubernetes.istioApiVersion', d.kubernetes.istioApiVersion, ISTIO_API_VERSIONS),
      watchTimeoutSeconds: f.integer(k, 'kubernetes.watchTimeoutSeconds', d.kubernetes.watchTimeoutSeconds, 10, 3600),
      // Bookmarks arrive about once a minute; a shorter stall limit would restart healthy watches.
      stallSeconds: f.integer(k, 'kubernetes.stallSeconds', d.kubernetes.stallSeconds, 70, 3600,
        `the API server sends a watch bookmark only about once a minute; fix: set at least 70 (default ${d.kubernetes.stallSeconds})`),
    },
    shutdownGraceSeconds: f.integer(top, 'shutdownGraceSeconds', d.shutdownGraceSeconds, 0, 300),
    logLevel: f.oneOf(top, 'logLevel', d.logLevel, LOG_LEVELS),
    prometheus: {
      url: f.nullableString(p, 'prometheus.url', d.prometheus.url),
      refreshIntervalSeconds: f.integer(p, 'prometheus.refreshIntervalSeconds', d.prometheus.refreshIntervalSeconds, 1, 3600),
      timeoutMs: f.integer(p, 'prometheus.timeoutMs', d.prometheus.timeoutMs, 100, 60_000),
      refreshIn: f.oneOf(p, 'prometheus.refreshIn', d.prometheus.refreshIn, REFRESH_THREADS),
    },
  };
  if (config.admission.port !== 0 && config.admission.port === config.metrics.port) {
    problems.push(`metrics.port: ${config.metrics.port} is also admission.port; fix: give the metrics their own port (default ${d.metrics.port})`);
  }
  let rules: RulesConfig | undefined;
  try {
    rules = parseRulesConfig(top?.rules);
  } catch (e) {
    problems.push(`rules: ${(e as Error).message}`);
  }
  const parsedMesh = parseMeshConfig(top?.mesh, legacyMeshKeys(top?.rules));
  problems.push(...parsedMesh.problems);
  if (problems.length > 0 || !rules) throw new WebhookConfigError(problems);
  const { mesh } = parsedMesh;
  return {
    ...config,
    mesh,
    rules: { ...rules, rootNamespace: mesh.rootNamespace, clusterDomain: mesh.clusterDomain, defaultStableSubset: mesh.defaultStableSubset, guardLabel: mesh.guardLabel },
    warnings: parsedMesh.warnings,
  };
}

/** The rules keys `mesh` replaces, as given (deprecated, still read). */
function legacyMeshKeys(rules: unknown): Partial<Record<MeshField, LegacyMeshValue>> {
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) return {};
  const r = rules as Obj;
  const out: Partial<Record<MeshField, LegacyMeshValue>> = {};
  for (const field of ['rootNamespace', 'clusterDomain', 'defaultStableSubset'] as const) {
    if (r[field] !== undefined) out[field] = { value: r[field], where: `rules.${field}` };
  }
  return out;
}

function section(value: unknown, path: string, known: readonly string[], problems: string[]): Obj | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path || 'the configuration'}: must be a mapping, got ${describe(value)}; fix: write it as key: value pairs`);
    return undefined;
  }
  const obj = value as Obj;
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      problems.push(`${path ? `${path}.` : ''}${key}: unknown field; fix: remove it or correct the spelling (known here: ${known.join(', ')})`);
    }
  }
  return obj;
}

class Fields {
  constructor(private readonly problems: string[]) {}

  private key(path: string): string {
    return path.slice(path.lastIndexOf('.') + 1);
  }

  string(obj: Obj | undefined, path: string, fallback: string, check?: (s: string) => string | undefined): string {
    const v = obj?.[this.key(path)];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v.trim() === '') {
      this.problems.push(`${path}: must be a non-empty string, got ${describe(v)} (default ${JSON.stringify(fallback)})`);
      return fallback;
    }
    const problem = check?.(v);
    if (problem) this.problems.push(`${path}: ${problem}`);
    return v;
  }

  nullableString(obj: Obj | undefined, path: string, fallback: string | null): string | null {
    const v = obj?.[this.key(path)];
    if (v === null) return null;
    if (v === undefined) return fallback;
    return this.string(obj, path, fallback ?? '');
  }

  integer(obj: Obj | undefined, path: string, fallback: number, min: number, max: number, belowMinHint?: string): number {
    const v = obj?.[this.key(path)];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.problems.push(`${path}: must be a whole number, got ${describe(v)}; fix: write a plain number (default ${fallback})`);
      return fallback;
    }
    if (v < min) this.problems.push(`${path}: must be ≥ ${min}, got ${v}; ${belowMinHint ?? `fix: raise it (default ${fallback})`}`);
    if (v > max) this.problems.push(`${path}: must be ≤ ${max}, got ${v}; fix: lower it (default ${fallback})`);
    return v;
  }

  port(obj: Obj | undefined, path: string, fallback: number): number {
    return this.integer(obj, path, fallback, 0, 65535);
  }

  oneOf<T extends string>(obj: Obj | undefined, path: string, fallback: T, allowed: readonly T[]): T {
    const v = obj?.[this.key(path)];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${path}: must be one of ${allowed.join(', ')}, got ${describe(v)}`);
      return fallback;
    }
    return v as T;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}
