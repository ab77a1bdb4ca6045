// `bluegreen-guard preflight`: judge one VirtualService/DestinationRule (or Deployment, Pod, Service) change
// offline, against cluster objects given as files, with the webhook's rule
// core. The composition root of the command: arguments and config are read
// and checked here, once.
//
//   bluegreen-guard preflight --file NEW.yaml [--old OLD.yaml] [--state FILE]...
//     [--root-namespace NS] [--output json|text] [--config FILE]
//
// Exit status: 0 allowed (with or without warnings), 1 denied, 2 unusable input.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { ClusterState } from '../cluster/cluster-state.js';
import { loadStateFiles, ManifestError, readManifests, withNamespace } from '../cluster/load-state-files.js';
import { slimIstio } from '../cluster/slim.js';
import { parseMeshConfig } from '../config/mesh-config.js';
import { PrometheusMetricsSource } from '../prometheus/prometheus-metrics-source.js';
import { PrometheusScrapeStatus } from '../webhook/prometheus-scrape-status.js';
import { parseRulesConfig, RULES_CONFIG_FIELDS, type RulesConfig } from '../webhook/rules-config.js';
import type { ScrapeStatus } from '../webhook/rules/scrape-status.js';
import type { AdmittedObject, Finding, ReviewInput, ReviewVerdict } from '../webhook/verdict.js';
import { judgeAdmission, slimAdmittedWorkload } from '../webhook/workload-review.js';

const USAGE = `usage: bluegreen-guard preflight --file NEW.yaml [--old OLD.yaml] [--state FILE]...
                                 [--root-namespace NS] [--output json|text] [--config FILE] [--prometheus URL]

Judge a VirtualService, DestinationRule, Deployment, Pod or Service change with the
admission webhook's rules, against cluster objects given as files.

  --file FILE            the object as it would be applied (one VirtualService, DestinationRule,
                         Deployment, Pod or Service)
  --old FILE             the object as it is now; without it the change is a CREATE
  --state FILE           cluster objects the rules consult, as 'kubectl get
                         dr,vs,svc,deploy,rs,pods,ns -o yaml' prints them (repeatable)
  --root-namespace NS    Istio's mesh root namespace (default istio-system)
  --config FILE          rules config (YAML/JSON: modes, rootNamespace, canaryMaxWeightPercent, ...),
                         or the webhook's config file (its rules: section)
  --output json|text     json prints {"allowed": bool, "findings": [...]} (default text)
  --namespace NS         namespace of objects that name none (default "default")
  --as USER              requester's user name (default "preflight")
  --as-group GROUP       requester's group, for break-glass (repeatable)
  --prometheus URL       judge metrics-scraped by asking this Prometheus for 'up' of the candidate's pods
                         (without it the rule is skipped, with a warning)

exit status: 0 allowed, 1 denied, 2 unusable input (reason on stderr)`;

/** Input the command cannot use: reported on stderr, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface PreflightOptions {
  file: string;
  old: string | undefined;
  state: string[];
  configFile: string | undefined;
  rootNamespace: string | undefined;
  output: 'json' | 'text';
  namespace: string;
  username: string;
  groups: string[];
  /** Prometheus the metrics-scraped rule asks for `up`; without it the rule is skipped, with a warning. */
  prometheus: string | undefined;
}

/** What `--output json` prints, and nothing else. */
export interface PreflightReport {
  allowed: boolean;
  findings: Finding[];
}

export function parsePreflightArgs(argv: string[]): PreflightOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        file: { type: 'string', short: 'f' },
        old: { type: 'string' },
        state: { type: 'string', multiple: true, default: [] },
        config: { type: 'string' },
        'root-namespace': { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        namespace: { type: 'string', short: 'n', default: 'default' },
        as: { type: 'string', default: 'preflight' },
        'as-group': { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', short: 'h', default: false },
        prometheus: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return 'help';
  if (values.file === undefined) throw new UsageError(`--file is required: the VirtualService, DestinationRule, Deployment, Pod or Service to judge.\n\n${USAGE}`);
  if (values.output !== 'json' && values.output !== 'text') throw new UsageError(`--output must be json or text, not '${values.output}'.`);
  return {
    file: values.file,
    old: values.old,
    state: values.state,
    configFile: values.config,
    rootNamespace: values['root-namespace'],
    output: values.output,
    namespace: values.namespace,
    username: values.as,
    groups: values['as-group'],
    prometheus: values.prometheus,
  };
}

/** What `--file` and `--old` may hold, by kind: the API group the webhook judges it in. */
const JUDGED: Readonly<Record<string, string>> = {
  VirtualService: 'networking.istio.io/',
  DestinationRule: 'networking.istio.io/',
  Deployment: 'apps/v1',
  Pod: 'v1',
  Service: 'v1',
};

async function readJudgedObject(path: string, role: string, namespace: string): Promise<AdmittedObject> {
  const objects = await readManifests(path);
  if (objects.length !== 1) {
    throw new UsageError(`${path}: ${role} must hold exactly one VirtualService, DestinationRule, Deployment, Pod or Service, found ${objects.length} objects.`);
  }
  const raw = withNamespace(objects[0] as Record<string, unknown>, namespace);
  const kind = typeof raw.kind === 'string' ? raw.kind : '';
  const apiVersion = typeof raw.apiVersion === 'string' ? raw.apiVersion : '';
  const want = JUDGED[kind];
  if (want === undefined || (apiVersion !== '' && (want.endsWith('/') ? !apiVersion.startsWith(want) : apiVersion !== want))) {
    throw new UsageError(
      `${path}: ${role} is a ${kind || 'object without kind'} (${apiVersion || 'no apiVersion'}); preflight judges networking.istio.io VirtualServices and DestinationRules, apps/v1 Deployments and v1 Pods and Services.`,
    );
  }
  if (kind === 'VirtualService' || kind === 'DestinationRule') return slimIstio(raw);
  return slimAdmittedWorkload(raw);
}

async function loadRulesConfig(options: PreflightOptions): Promise<RulesConfig> {
  let raw: unknown;
  let meshSection: unknown;
  let webhookFile = false;
  if (options.configFile !== undefined) {
    const docs = await readConfigDocument(options.configFile);
    // A bare rules config, or the webhook's config file, which keeps them under `rules:` and the mesh under `mesh:`.
    webhookFile = isRecord(docs) && !Object.keys(docs).every((k) => (RULES_CONFIG_FIELDS as readonly string[]).includes(k));
    raw = webhookFile && isRecord(docs) ? docs.rules : docs;
    meshSection = webhookFile && isRecord(docs) ? docs.mesh : undefined;
  }
  const where = options.rootNamespace !== undefined ? '--root-namespace' : (options.configFile ?? 'config');
  let rules: RulesConfig;
  try {
    rules = parseRulesConfig(options.rootNamespace === undefined ? raw : { ...(isRecord(raw) ? raw : {}), rootNamespace: options.rootNamespace });
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
  if (!webhookFile) return rules;
  // The webhook's file: read its mesh the way the webhook does, so preflight judges as the webhook would.
  const legacy = isRecord(raw) ? raw : {};
  const parsed = parseMeshConfig(meshSection, {
    ...(legacy.clusterDomain !== undefined ? { clusterDomain: { value: legacy.clusterDomain, where: 'rules.clusterDomain' } } : {}),
    ...(legacy.defaultStableSubset !== undefined ? { defaultStableSubset: { value: legacy.defaultStableSubset, where: 'rules.defaultStableSubset' } } : {}),
    // --root-namespace wins over both, below.
    ...(options.rootNamespace === undefined && legacy.rootNamespace !== undefined ? { rootNamespace: { value: legacy.rootNamespace, where: 'rules.rootNamespace' } } : {}),
  });
  if (parsed.problems.length > 0) throw new UsageError(`${options.configFile ?? 'config'}: ${parsed.problems.join('; ')}`);
  const { mesh } = parsed;
  return {
    ...rules,
    clusterDomain: mesh.clusterDomain,
    defaultStableSubset: mesh.defaultStableSubset,
    rootNamespace: options.rootNamespace ?? mesh.rootNamespace,
    guardLabel: mesh.guardLabel,
  };
}

async function readConfigDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new UsageError(`${path}: config is not valid YAML: ${(err as Error).message}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export interface PreflightOutcome {
  verdict: ReviewVerdict;
  /** Notes for stderr (never part of the JSON report). */
  notes: string[];
}

/**
 * Extension point for `metrics-scraped`: given a ScrapeStatus (built from
 * Prometheus' `up` series for the state's pods, e.g. by `--prometheus URL`),
 * the rule is judged; without one it reports that it was skipped.
 */
export type ScrapeStatusSource = (state: ClusterState) => Promise<ScrapeStatus | undefined>;

export async function preflight(options: PreflightOptions, scrapeStatus?: ScrapeStatusSource): Promise<PreflightOutcome> {
  const config = await loadRulesConfig(options);
  const object = await readJudgedObject(options.file, '--file', options.namespace);
  const old = options.old !== undefined ? await readJudgedObject(options.old, '--old', options.namespace) : undefined;
  if (old && (old.kind !== object.kind || old.metadata.namespace !== object.metadata.namespace || old.metadata.name !== object.metadata.name)) {
    throw new UsageError(
      `--old is ${old.kind} ${old.metadata.namespace}/${old.metadata.name} but --file is ${object.kind} ${object.metadata.namespace}/${object.metadata.name}: both must be the same object.`,
    );
  }
  const { state, ignored } = await loadStateFiles(options.state, options.namespace);
  const notes: string[] = [];
  if (ignored.size > 0) notes.push(`ignored objects the rules never read: ${[...ignored].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  const { namespace, name } = object.metadata;
  const current = storedObject(state, object.kind, namespace, name);
  if (!old && current) notes.push(`the state holds ${object.kind} ${namespace}/${name}; judging a CREATE as asked (pass it with --old to judge an UPDATE)`);

  const input: ReviewInput = {
    operation: old ? 'UPDATE' : 'CREATE',
    object,
    oldObject: old,
    dryRun: true,
    requester: { username: options.username, groups: options.groups },
    nowMs: Date.now(),
  };
  const scrape = scrapeStatus ? await scrapeStatus(state) : undefined;
  return { verdict: judgeAdmission(input, state, config, scrape), notes };
}

function storedObject(state: ClusterState, kind: AdmittedObject['kind'], namespace: string, name: string): unknown {
  switch (kind) {
    case 'VirtualService':
      return state.virtualServices().find((v) => v.metadata.namespace === namespace && v.metadata.name === name);
    case 'DestinationRule':
      return state.destinationRules(namespace).find((d) => d.metadata.name === name);
    case 'Deployment':
      return state.deployment(namespace, name);
    case 'Pod':
      return state.pods(namespace).find((p) => p.metadata.name === name);
    case 'Service':
      return state.service(namespace, name);
  }
}

export function formatText(verdict: ReviewVerdict): string {
  const lines = verdict.findings.map((f) => `${f.severity.toUpperCase().padEnd(4)}  ${f.rule}  ${f.object}\n      ${f.message}`);
  const denies = verdict.findings.filter((f) => f.severity === 'deny').length;
  const warns = verdict.findings.length - denies;
  const summary = `${verdict.allowed ? 'allowed' : 'denied'}: ${denies} denial${denies === 1 ? '' : 's'}, ${warns} warning${warns === 1 ? '' : 's'}${verdict.exemption ? ` (exemption: ${verdict.exemption})` : ''}`;
  return [...lines, summary].join('\n') + '\n';
}

/** One read of `up` from Prometheus; unreachable leaves every pod unknown, which the rule reports. */
function prometheusScrapeStatus(url: string | undefined): ScrapeStatusSource | undefined {
  if (url === undefined) return undefined;
  return async () => {
    const status = new PrometheusScrapeStatus({ source: new PrometheusMetricsSource({ url, timeoutMs: 10_000 }) });
    await status.refresh();
    return status;
  };
}

export async function run(argv: string[], scrapeStatus?: ScrapeStatusSource): Promise<number> {
  try {
    const options = parsePreflightArgs(argv);
    if (options === 'help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const { verdict, notes } = await preflight(options, scrapeStatus ?? prometheusScrapeStatus(options.prometheus));
    for (const note of notes) process.stderr.write(`bluegreen-guard preflight: note: ${note}\n`);
    if (options.output === 'json') {
      const report: PreflightReport = { allowed: verdict.allowed, findings: verdict.findings };
      process.stdout.write(JSON.stringify(report) + '\n');
    } else {
      process.stdout.write(formatText(verdict));
    }
    return verdict.allowed ? 0 : 1;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ManifestError) {
      process.stderr.write(`bluegreen-guard preflight: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
