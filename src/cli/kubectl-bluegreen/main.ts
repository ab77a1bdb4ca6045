// `kubectl bluegreen`: the on-call engineer's view of a guarded cutover and
// the runbook's manual steps as commands, with the caller's own kubeconfig and
// RBAC. Each command reuses the watcher's code (cutover state, rule
// evaluation, the rollback use case, the latch clear) so it says and does what
// the watcher would.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseWatcherConfig, WatcherConfigError, type WatcherConfig } from '../../config/watcher-config.js';
import { PrometheusMetricsSource } from '../../prometheus/prometheus-metrics-source.js';
import type { VirtualService } from '../../istio/types.js';
import { clearRollbackLatch } from '../../watcher/clear-latch.js';
import { decideCutover, readCutoverState } from '../../watcher/cutover-state.js';
import { completionReport } from '../../watcher/cutover-timeline.js';
import { evaluateService } from '../../watcher/evaluate.js';
import { collectMetrics, keyOf } from '../../watcher/metrics-snapshot.js';
import { VirtualServicePatcher } from '../../watcher/virtual-service-patcher.js';
import { DRILL, DRILL_REQUESTED_AT } from '../../istio/annotations.js';
import { lastReport } from '../../watcher/drills.js';
import { annotationOps } from '../../watcher/json-patch.js';
import { PluginCluster, PluginError, type ClusterFlags } from './cluster.js';
import { renderDrill } from './drill-view.js';
import { describeStatus, duration, exitCodeOf, isSettled, renderStatus, type CutoverStatus, type StatusInput } from './status-view.js';

const USAGE = `usage: kubectl bluegreen <command> [NAME] [flags]

commands:
  status NAME     phase, weights, rules against thresholds, timeline, last events
                  [--watch] [--timeout 10m] [-o json] [--prometheus URL]
  list            guarded VirtualServices with phase, weights, candidate, age  [-A]
  rollback NAME   the runbook's rollback: weights to the stable subset, verified  [--reason TEXT]
  promote NAME    record the candidate stable once the hold has passed
                  [--force --reason TEXT: before the hold ends, members of --break-glass-group only]
  ack NAME        clear the rollback latch  --reason TEXT
  drill NAME      ask the watcher for a failover drill now and print its report
                  [--timeout 5m] [-o json]; the VirtualService must opt in

flags like kubectl: --kubeconfig FILE, --context NAME, -n/--namespace NS
  --config FILE   the watcher's configuration (thresholds, holdSeconds, queries); default: the chart's defaults
  --prometheus URL  also judge the candidate's rules (default: prometheusUrl of --config)

exit status: 0 healthy or promoted, 1 degraded or rolled back, 2 --timeout passed, 3 error`;

type Values = Record<string, string | boolean | string[] | undefined>;

export async function run(argv: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        output: { type: 'string', short: 'o' },
        watch: { type: 'boolean', short: 'w' },
        timeout: { type: 'string' },
        prometheus: { type: 'string' },
        config: { type: 'string' },
        reason: { type: 'string' },
        force: { type: 'boolean' },
        'break-glass-group': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`kubectl bluegreen: ${(e as Error).message}\n\n${USAGE}\n`);
    return 3;
  }
  const [command, name] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 3 : 0;
  }
  try {
    const config = await readConfig(values);
    const flags: ClusterFlags = { kubeconfig: str(values.kubeconfig), context: str(values.context), namespace: str(values.namespace) };
    if (command === 'list') return await list(new PluginCluster(flags), values.output === 'json', values['all-namespaces'] === true, config);
    if (!name) throw new PluginError(`${command} needs the VirtualService's name: kubectl bluegreen ${command} NAME -n NAMESPACE`);
    const cluster = new PluginCluster(flags);
    switch (command) {
      case 'status':
        return await status(cluster, name, config, values);
      case 'rollback':
        return await rollback(cluster, name, config, str(values.reason));
      case 'promote':
        return await promote(cluster, name, config, values);
      case 'ack':
        return await ack(cluster, name, str(values.reason) ?? '');
      case 'drill':
        return await drill(cluster, name, config, values);
      default:
        throw new PluginError(`unknown command '${command}'\n\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof PluginError || err instanceof WatcherConfigError) {
      process.stderr.write(`kubectl bluegreen: ${err.message}\n`);
      return 3;
    }
    throw err;
  }
}

function str(v: Values[string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

async function readConfig(values: Values): Promise<WatcherConfig> {
  let raw: Record<string, unknown> = {};
  const file = str(values.config);
  if (file) {
    const text = await readFile(file, 'utf8').catch((e: Error) => {
      throw new PluginError(`cannot read --config ${file}: ${e.message}`);
    });
    raw = { ...((parseYaml(text) as Record<string, unknown> | null) ?? {}) };
  }
  const prometheus = str(values.prometheus);
  if (prometheus !== undefined) raw.prometheusUrl = prometheus;
  return parseWatcherConfig(raw);
}

async function gather(cluster: PluginCluster, name: string, config: WatcherConfig): Promise<CutoverStatus> {
  const vs = await cluster.guardedVirtualService(name);
  const input: StatusInput = { vs, mesh: config.mesh, events: await cluster.events(vs), now: new Date(), holdSeconds: config.holdSeconds };
  const evaluation = config.prometheusUrl ? await evaluateCandidate(cluster, vs, config) : undefined;
  if (evaluation) input.evaluation = evaluation;
  return describeStatus(input);
}

/** The watcher's own judgement of the busiest candidate, from Prometheus now. */
async function evaluateCandidate(cluster: PluginCluster, vs: VirtualService, config: WatcherConfig): Promise<StatusInput['evaluation']> {
  const state = readCutoverState(vs, config.mesh);
  const top = state.active[0];
  if (!top?.service) return undefined;
  const rules = await cluster.destinationRules(top.service.namespace);
  const subset = rules.flatMap((r) => r.spec.subsets ?? []).find((s) => s.name === top.subset);
  const version = subset?.labels?.[config.mesh.versionLabel] ?? top.subset;
  const service = { namespace: top.service.namespace, service: top.service.name, version };
  const source = new PrometheusMetricsSource({ url: config.prometheusUrl ?? '', timeoutMs: config.prometheusTimeoutMs });
  const now = Date.now() / 1000;
  const snapshot = await collectMetrics(source, now, config, { earlyWindow: true });
  const result = evaluateService(snapshot, service, { cutoverStartedAtSeconds: state.cutoverStartedAt ? state.cutoverStartedAt.getTime() / 1000 : null }, config);
  const historyOf = (q: typeof snapshot.errorRatio) => (q.status === 'ok' ? (q.byService.get(keyOf(service)) ?? []) : []);
  return { version, result, errorRatioHistory: historyOf(snapshot.errorRatio), latencyP99MsHistory: historyOf(snapshot.latencyP99Ms) };
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new PluginError(`--timeout must look like 90s, 10m or 1h, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

async function status(cluster: PluginCluster, name: string, config: WatcherConfig, values: Values): Promise<number> {
  const json = values.output === 'json';
  const timeoutMs = parseTimeout(str(values.timeout));
  const watch = values.watch === true || timeoutMs !== undefined;
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  for (;;) {
    const s = await gather(cluster, name, config);
    process.stdout.write(json ? `${JSON.stringify(s)}\n` : renderStatus(s));
    if (!watch) return exitCodeOf(s);
    if (isSettled(s)) return s.phase === 'Stable' ? 0 : 1;
    if (Date.now() >= deadline) {
      process.stderr.write(`kubectl bluegreen: ${s.namespace}/${s.name} still ${s.phase} after --timeout ${str(values.timeout)}\n`);
      return 2;
    }
    await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(0, deadline - Date.now()))));
    if (!json) process.stdout.write('---\n');
  }
}

async function list(cluster: PluginCluster, json: boolean, all: boolean, config: WatcherConfig): Promise<number> {
  const labels = new Map<string, Record<string, string>>();
  const rows: CutoverStatus[] = [];
  const ages: string[] = [];
  for (const vs of await cluster.virtualServices(all)) {
    if (!(await cluster.isGuarded(vs, labels))) continue;
    rows.push(describeStatus({ vs, mesh: config.mesh, events: [], now: new Date(), holdSeconds: config.holdSeconds }));
    // Age of the phase: since the last step the watcher recorded (the object's own age is not kept by the slim model).
    const last = rows[rows.length - 1]!.timeline.at(-1);
    ages.push(last ? duration((Date.now() - Date.parse(last.at)) / 1000) : '-');
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ namespace: r.namespace, name: r.name, phase: r.phase, summary: r.summary, weights: r.weights, candidate: r.candidate })))}\n`);
    return 0;
  }
  const table = [['NAMESPACE', 'NAME', 'PHASE', 'WEIGHTS', 'CANDIDATE', 'AGE (PHASE)']];
  rows.forEach((r, i) => {
    const weights = r.weights.map((w) => Object.entries(w.weights).map(([k, v]) => `${k}=${v}`).join(',')).join(' ');
    table.push([r.namespace, r.name, r.phase === 'Canary' ? `Canary ${r.canaryPercent} %` : r.phase, weights || '-', r.candidate ?? '-', ages[i] ?? '-']);
  });
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  process.stdout.write(table.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('   ').trimEnd()).join('\n') + '\n');
  if (rows.length === 0) process.stderr.write(`no guarded VirtualServices ${all ? 'in any namespace' : `in ${cluster.namespace}`}\n`);
  return 0;
}

async function rollback(cluster: PluginCluster, name: string, config: WatcherConfig, why: string | undefined): Promise<number> {
  const vs = await cluster.guardedVirtualService(name);
  const { username } = await cluster.whoAmI();
  const state = readCutoverState(vs, config.mesh);
  const reason = `manual rollback by ${username}${why ? `: ${why}` : ''}`;
  const patcher = new VirtualServicePatcher(cluster.store(), { mesh: config.mesh });
  const at = new Date();
  // A cutover ended by hand gets its report too, written in the rollback's patch as the watcher writes it.
  const report = state.active.length > 0 ? completionReport(vs, state, 'rolled-back', at) : undefined;
  const result = await patcher.rollBack(vs, { roles: state.roles, reason, at, ...(report ? { annotations: report.annotations } : {}) });
  const where = `${vs.metadata.namespace}/${name}`;
  switch (result.outcome) {
    case 'already-rolled-back':
      process.stdout.write(`${where}: no candidate gets traffic; nothing to roll back (stable subset ${state.roles.stableSubset})\n`);
      return 0;
    case 'rolled-back': {
      const moved = result.changes.map((c) => `${c.route} ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`).join('; ');
      process.stdout.write(`${where}: rolled back to ${state.roles.stableSubset} and verified (${moved}); recorded: ${reason}\n`);
      await cluster
        .recorder(`kubectl-bluegreen/${username}`)
        .record(vs, { type: 'Warning', reason: 'RolledBack', message: `Rolled back to ${state.roles.stableSubset} by hand (${reason}): ${moved}${report ? `. ${report.summary}` : ''}`, at: new Date() })
        .catch((e: Error) => process.stderr.write(`warning: the rollback is done but its Event was not recorded: ${e.message}\n`));
      return 0;
    }
    case 'blocked':
      throw new PluginError(`${where}: candidate traffic flows only on routes weights cannot move: ${result.blocked.map((b) => `${b.route}: ${b.message}`).join('; ')}`);
    case 'not-verified':
      throw new PluginError(`${where}: patched, but the object read back still sends traffic to a candidate: ${result.problems.join('; ')}`);
    case 'failed':
      throw new PluginError(result.error);
  }
}

async function promote(cluster: PluginCluster, name: string, config: WatcherConfig, values: Values): Promise<number> {
  const vs = await cluster.guardedVirtualService(name);
  const state = readCutoverState(vs, config.mesh);
  const where = `${vs.metadata.namespace}/${name}`;
  const candidate = state.active[0]?.subset;
  if (state.phase !== 'full-traffic' || !candidate) throw new PluginError(`${where} is not at full traffic on a candidate (phase ${state.phase}); promote once the candidate serves 100 %`);
  const heldSeconds = state.fullTrafficAt ? (Date.now() - state.fullTrafficAt.getTime()) / 1000 : 0;
  const left = config.holdSeconds - heldSeconds;
  const who = await cluster.whoAmI();
  let note = '';
  if (left > 0) {
    if (values.force !== true) throw new PluginError(`${where}: the ${duration(config.holdSeconds)} hold has ${duration(left)} left; wait, or --force --reason TEXT as a member of a break-glass group`);
    const groups = (values['break-glass-group'] as string[] | undefined) ?? [];
    const member = groups.find((g) => who.groups.includes(g));
    if (!member) throw new PluginError(`${where}: --force before the hold ends needs a break-glass group; ${who.username} is in none of [${groups.join(', ')}] (name the group with --break-glass-group)`);
    if (!str(values.reason)) throw new PluginError('--force needs --reason TEXT: it is recorded on the Event');
    note = ` before the hold ended (${duration(left)} left), break-glass as ${who.username} (${member}): ${str(values.reason)}`;
  }
  const transition = decideCutover(state, new Date(), 'healthy', { holdSeconds: 0 });
  if (transition.kind !== 'confirmed-stable') throw new PluginError(`${where}: nothing to record (${transition.kind})`);
  const patcher = new VirtualServicePatcher(cluster.store(), { mesh: config.mesh });
  const recorded = await patcher.recordAnnotations(vs, transition.annotations);
  if (recorded.outcome === 'failed') throw new PluginError(recorded.error);
  if (recorded.outcome === 'conflict') throw new PluginError(`${where} changed while promoting; run the command again`);
  const message = `${candidate} recorded stable by ${who.username}${note}`;
  await cluster
    .recorder(`kubectl-bluegreen/${who.username}`)
    .record(vs, { type: 'Normal', reason: 'CutoverStable', message, at: new Date() })
    .catch((e: Error) => process.stderr.write(`warning: promoted, but its Event was not recorded: ${e.message}\n`));
  process.stdout.write(`${where}: ${message}\n`);
  return 0;
}

async function ack(cluster: PluginCluster, name: string, reason: string): Promise<number> {
  const vs = await cluster.guardedVirtualService(name);
  const result = await clearRollbackLatch(cluster.store(), { namespace: vs.metadata.namespace, name, reason });
  const where = `${vs.metadata.namespace}/${name}`;
  switch (result.outcome) {
    case 'cleared':
      process.stdout.write(`${where}: rollback latch cleared (${result.entries.map((e) => `${e.subset} since ${e.at}`).join('; ') || 'unreadable record'}); reason recorded: ${reason.trim()}\n`);
      return 0;
    case 'not-latched':
      process.stdout.write(`${where}: no rollback latch to clear\n`);
      return 0;
    case 'refused':
    case 'failed':
      throw new PluginError(`${where}: the latch was not cleared: ${result.error}`);
  }
}

/**
 * The leader runs the drill (with the watcher's Prometheus, Alertmanager and identity, judged by the
 * webhook like any cutover); this asks for it and waits for the report it records on the object.
 */
async function drill(cluster: PluginCluster, name: string, config: WatcherConfig, values: Values): Promise<number> {
  const vs = await cluster.guardedVirtualService(name);
  const { namespace } = vs.metadata;
  const where = `${namespace}/${name}`;
  const own = vs.metadata.annotations?.[DRILL];
  const optedIn = own !== undefined ? own === 'enabled' : (await cluster.namespaceLabels(namespace))[DRILL] === 'enabled';
  if (!optedIn) {
    throw new PluginError(`${where} is not opted in for failover drills; fix: kubectl annotate virtualservice ${name} -n ${namespace} ${DRILL}=enabled (or label the namespace ${DRILL}=enabled)`);
  }
  const timeoutText = str(values.timeout) ?? '5m';
  const timeoutMs = parseTimeout(timeoutText) ?? 300_000;
  const requestedAt = new Date().toISOString();
  const store = cluster.store();
  try {
    await store.patch(namespace, name, annotationOps(vs.metadata.annotations, { [DRILL_REQUESTED_AT]: requestedAt }));
  } catch (err) {
    throw cluster.failure(err, 'patch', `VirtualService ${where}`);
  }
  process.stderr.write(`drill requested on ${where} at ${requestedAt}; waiting up to ${timeoutText} for the watcher's report\n`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let current: VirtualService;
    try {
      current = await store.get(namespace, name);
    } catch (err) {
      throw cluster.failure(err, 'get', `VirtualService ${where}`);
    }
    const report = lastReport(current);
    if (report?.requestedAt === requestedAt) {
      process.stdout.write(values.output === 'json' ? `${JSON.stringify(report)}\n` : renderDrill(report, config.drills.maxRollbackSeconds));
      return report.outcome === 'passed' ? 0 : 1;
    }
    if (Date.now() >= deadline) {
      process.stderr.write(
        `kubectl bluegreen: no drill report on ${where} after --timeout ${timeoutText}; is a watcher running, holding its Lease and not in dry run? (kubectl -n bluegreen-guard get lease; kubectl -n bluegreen-guard logs deploy/bluegreen-guard-watcher)\n`,
      );
      return 2;
    }
    await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(0, deadline - Date.now()))));
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kubectl bluegreen: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 3;
  },
);
