// What the rules can be told: each rule's mode, where Istio's root namespace
// is, who the watcher is, who may break glass. Parsed and validated once, at
// the composition root; the rule core only ever sees a valid RulesConfig.
import { DEFAULT_STABLE_SUBSET, GUARD_LABEL } from '../istio/annotations.js';
import { RULE_IDS, type RuleId, type RuleMode } from './verdict.js';

export const RULE_MODES: readonly RuleMode[] = ['deny', 'warn', 'off'];

export interface RulesConfig {
  /** Global mode of each rule; namespaces and objects override it with the `bluegreen-guard.io/rules` annotation. */
  modes: Readonly<Record<RuleId, RuleMode>>;
  /** Istio's mesh root namespace, searched last for DestinationRules. */
  rootNamespace: string;
  /** Kubernetes cluster domain: `name.ns.svc.<clusterDomain>`. */
  clusterDomain: string;
  /** `canary-first`: the largest share a candidate may jump to from 0%. */
  canaryMaxWeightPercent: number;
  /** Stable subset of a VirtualService without the `bluegreen-guard.io/stable-subset` annotation. */
  defaultStableSubset: string;
  /** Namespace label that opts a namespace in (`mesh.guardLabel`; not a rules field, set from the mesh section). */
  guardLabel: string;
  /** Requests from these users are allowed at once (the watcher's rollbacks). */
  watcherUsernames: readonly string[];
  /** Members of these groups may override denials with the `bluegreen-guard.io/break-glass` annotation. */
  breakGlassGroups: readonly string[];
  /** `pods-ready`: a pod whose container restarted less than this long ago is not passing, Ready or not. */
  restartWindowSeconds: number;
  /** `jobs`: the label keys that tie a Job to a service and a version. */
  jobLabels: Readonly<{ service: string; version: string }>;
  /** `probes`: HTTP paths every container's probes must use, when set (the runbook's /ready and /live). */
  probePaths: Readonly<{ readinessPath?: string; livenessPath?: string }>;
  /** Members of these groups may clear a rollback latch (`bluegreen-guard ack`); empty: the break-glass groups. */
  latchAckGroups: readonly string[];
  /** `keep-previous`: how long after a cutover reached full traffic the previous stable Deployment is kept. */
  keepPreviousSeconds: number;
  /** `keep-previous`: users that may scale it anyway (e.g. the HPA controller's identity). */
  keepPreviousExemptUsernames: readonly string[];
  /** `smoke-passed`: flag a cutover without any recorded pre-traffic smoke result (not only a failed or outdated one). */
  requireSmokeTest: boolean;
}

export function defaultRulesConfig(): RulesConfig {
  const modes = Object.fromEntries(RULE_IDS.map((id) => [id, 'deny'])) as Record<RuleId, RuleMode>;
  modes['canary-first'] = 'warn';
  modes['smoke-passed'] = 'warn';
  modes['dr-host'] = 'warn';
  modes['unreachable-route'] = 'warn';
  modes['ineffective-match'] = 'warn';
  return {
    modes,
    rootNamespace: 'istio-system',
    clusterDomain: 'cluster.local',
    canaryMaxWeightPercent: 1,
    defaultStableSubset: DEFAULT_STABLE_SUBSET,
    guardLabel: GUARD_LABEL,
    watcherUsernames: ['system:serviceaccount:bluegreen-guard:bluegreen-guard-watcher'],
    breakGlassGroups: [],
    // Twice the kubelet's longest crash back-off (5 minutes): a crash-looping container that is
    // up and Ready between two crashes still counts.
    restartWindowSeconds: 600,
    jobLabels: { service: 'app', version: 'version' },
    probePaths: {},
    latchAckGroups: [],
    keepPreviousSeconds: 3600,
    keepPreviousExemptUsernames: [],
    requireSmokeTest: false,
  };
}

export function isRuleId(s: string): s is RuleId {
  return (RULE_IDS as readonly string[]).includes(s);
}

export function isRuleMode(s: unknown): s is RuleMode {
  return typeof s === 'string' && (RULE_MODES as readonly string[]).includes(s);
}

export const RULES_CONFIG_FIELDS = [
  'modes',
  'rootNamespace',
  'clusterDomain',
  'canaryMaxWeightPercent',
  'defaultStableSubset',
  'watcherUsernames',
  'breakGlassGroups',
  'restartWindowSeconds',
  'jobLabels',
  'probePaths',
  'latchAckGroups',
  'keepPreviousSeconds',
  'keepPreviousExemptUsernames',
  'requireSmokeTest',
] as const;

/**
 * Validate rules configuration (from a config file, Helm values...). Absent
 * fields take their defaults; anything wrong throws an error naming the field
 * and the fix.
 */
export function parseRulesConfig(raw: unknown): RulesConfig {
  const config = defaultRulesConfig();
  if (raw === undefined || raw === null) return config;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(`rules config: expected a mapping with fields ${RULES_CONFIG_FIELDS.join(', ')}, got ${describe(raw)}. Fix: write the rules config as a YAML/JSON object.`);
  }
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(RULES_CONFIG_FIELDS as readonly string[]).includes(key)) {
      throw new Error(`rules config: unknown field '${key}'. Fix: remove it, or use one of ${RULES_CONFIG_FIELDS.join(', ')}.`);
    }
  }
  if (o.modes !== undefined) {
    if (o.modes === null || typeof o.modes !== 'object' || Array.isArray(o.modes)) {
      throw new Error(`rules config: modes must map rule ids to deny|warn|off, got ${describe(o.modes)}. Fix: e.g. modes: { canary-first: deny, probes: warn }.`);
    }
    const modes = { ...config.modes };
    for (const [id, mode] of Object.entries(o.modes as Record<string, unknown>)) {
      if (!isRuleId(id)) throw new Error(`rules config: modes.${id} is not a rule. Fix: use one of ${RULE_IDS.join(', ')}.`);
      if (!isRuleMode(mode)) throw new Error(`rules config: modes.${id} is ${describe(mode)}. Fix: set it to one of deny, warn, off.`);
      modes[id] = mode;
    }
    config.modes = modes;
  }
  config.rootNamespace = dnsLabel(o, 'rootNamespace', config.rootNamespace);
  config.clusterDomain = nonEmptyString(o, 'clusterDomain', config.clusterDomain);
  config.defaultStableSubset = nonEmptyString(o, 'defaultStableSubset', config.defaultStableSubset);
  if (o.canaryMaxWeightPercent !== undefined) {
    const v = o.canaryMaxWeightPercent;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 100) {
      throw new Error(`rules config: canaryMaxWeightPercent is ${describe(v)}. Fix: set it to a number above 0 and below 100 (default 1).`);
    }
    config.canaryMaxWeightPercent = v;
  }
  config.watcherUsernames = stringList(o, 'watcherUsernames', config.watcherUsernames);
  config.breakGlassGroups = stringList(o, 'breakGlassGroups', config.breakGlassGroups);
  if (o.restartWindowSeconds !== undefined) {
    const v = o.restartWindowSeconds;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(`rules config: restartWindowSeconds is ${describe(v)}. Fix: set it to a whole number of seconds, 0 or more (default 600; 0 ignores restarts).`);
    }
    config.restartWindowSeconds = v;
  }
  const jobLabels = stringFields(o, 'jobLabels', ['service', 'version'], 'e.g. jobLabels: { service: app, version: version }');
  config.jobLabels = { ...config.jobLabels, ...jobLabels };
  const probePaths = stringFields(o, 'probePaths', ['readinessPath', 'livenessPath'], 'e.g. probePaths: { readinessPath: /ready, livenessPath: /live }');
  for (const [field, path] of Object.entries(probePaths)) {
    if (!path.startsWith('/')) throw new Error(`rules config: probePaths.${field} is '${path}'. Fix: write an HTTP path starting with '/', e.g. /ready.`);
  }
  config.probePaths = probePaths;
  config.latchAckGroups = stringList(o, 'latchAckGroups', config.latchAckGroups);
  if (o.requireSmokeTest !== undefined) {
    if (typeof o.requireSmokeTest !== 'boolean') throw new Error(`rules config: requireSmokeTest is ${describe(o.requireSmokeTest)}. Fix: set it to true or false (default false).`);
    config.requireSmokeTest = o.requireSmokeTest;
  }
  config.keepPreviousExemptUsernames = stringList(o, 'keepPreviousExemptUsernames', config.keepPreviousExemptUsernames);
  if (o.keepPreviousSeconds !== undefined) {
    const v = o.keepPreviousSeconds;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(`rules config: keepPreviousSeconds is ${describe(v)}. Fix: set it to a whole number of seconds, 0 or more (default 3600).`);
    }
    config.keepPreviousSeconds = v;
  }
  return config;
}

/** A mapping of some of `allowed` to non-empty strings. */
function stringFields(o: Record<string, unknown>, field: string, allowed: readonly string[], example: string): Record<string, string> {
  const v = o[field];
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`rules config: ${field} must be a mapping, got ${describe(v)}. Fix: ${example}.`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw new Error(`rules config: ${field}.${key} is not a field. Fix: use ${allowed.join(' or ')} (${example}).`);
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`rules config: ${field}.${key} is ${describe(value)}. Fix: set it to a non-empty string (${example}).`);
    out[key] = value;
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v === 'object' ? 'a mapping' : typeof v;
}

function nonEmptyString(o: Record<string, unknown>, field: string, fallback: string): string {
  const v = o[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`rules config: ${field} is ${describe(v)}. Fix: set it to a non-empty string (default '${fallback}').`);
  return v;
}

function dnsLabel(o: Record<string, unknown>, field: string, fallback: string): string {
  const v = nonEmptyString(o, field, fallback);
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) {
    throw new Error(`rules config: ${field} '${v}' is not a valid namespace name. Fix: use lower-case letters, digits and '-' (default '${fallback}').`);
  }
  return v;
}

function stringList(o: Record<string, unknown>, field: string, fallback: readonly string[]): readonly string[] {
  const v = o[field];
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) {
    throw new Error(`rules config: ${field} must be a list of non-empty strings, got ${describe(v)}. Fix: e.g. ${field}: ["${fallback[0] ?? 'name'}"].`);
  }
  return [...(v as string[])];
}
