// `npm run demo`: the whole product loop on this machine (see scripts/demo.sh
// for the set-up it needs, and demo/story.ts for what it shows).
//
//   node --import ./bench/ts-loader.ts demo/run-demo.ts [--keep] [--quick]
//
// Exit status: 0 when a bad cutover was refused, the runbook admitted and the
// failing cutover rolled back by the watcher; 1 otherwise (no rollback is a
// failure); 130 when interrupted. Everything it starts is stopped on the way
// out, also on Ctrl-C or SIGTERM; a second Ctrl-C kills at once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultWatcherConfig, parseWatcherConfig, type WatcherConfig } from '../src/config/watcher-config.js';
import { Stage, type StageStep } from '../test/support/stage.js';
import { createConsole, formatDuration, formatPercent, type DemoConsole } from './console.js';
import { reapplyAsGitOpsThenFix } from './gitops-step.js';
import { DemoFailure, Story } from './story.js';

const USAGE = `usage: npm run demo [-- --keep] [-- --quick] [-- --watcher-dry-run]

Plays the blue-green runbook on a local cluster with the real bluegreen-guard
webhook and watcher: a cutover that skips the preflight is refused, the right
sequence is admitted, a failing v2 is rolled back by the watcher.

  --keep    leave the cluster up at the end and print how to explore it; Ctrl-C stops it
  --quick   skip the pauses that only let you watch (used by the demo's test)
  --watcher-dry-run
            run the watcher in dry run: it decides and alerts but never patches,
            so the demo shows no rollback and exits 1
  -h, --help`;

const FAULT_ERROR_RATIO = 0.2;
const STOP_TIMEOUT_MS = 30_000;

interface DemoArgs {
  keep: boolean;
  quick: boolean;
  watcherDryRun: boolean;
}

function parse(argv: string[]): DemoArgs | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      keep: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'watcher-dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  return { keep: values.keep, quick: values.quick, watcherDryRun: values['watcher-dry-run'] };
}

/** How the demo's watcher windows compare with the runbook's, in one line each. */
function describeShortenedWindows(short: WatcherConfig, seed: WatcherConfig): string[] {
  const er = short.errorRate;
  const lines = [
    `5xx ≥ ${formatPercent(er.ratio)} sustained ${er.windowSeconds} s instead of ${formatDuration(seed.errorRate.windowSeconds * 1000)} (ratio over ${er.rateWindowSeconds} s, judged every ${er.stepSeconds} s)`,
    `p99 > ${short.latencyP99.thresholdMs / 1000} s for ${short.latencyP99.consecutiveMinutes} min instead of ${seed.latencyP99.consecutiveMinutes} consecutive min`,
    `early warnings for ${short.earlyWindow.durationSeconds} s after a cutover instead of ${formatDuration(seed.earlyWindow.durationSeconds * 1000)}; stable after ${formatDuration(short.holdSeconds * 1000)} instead of ${formatDuration(seed.holdSeconds * 1000)}`,
  ];
  return lines;
}

function printIntro(out: DemoConsole): void {
  out.heading('bluegreen-guard demo · the blue-green runbook, enforced, on this machine');
  out.line('kube-apiserver and etcd (built from the Kubernetes sources) with Istio\'s CRDs, Prometheus,');
  out.line('Alertmanager, and the bluegreen-guard webhook and watcher as processes, installed from');
  out.line('the Helm chart\'s own RBAC and config files. Only Istio\'s data plane is simulated: it');
  out.line('follows the VirtualService and reports Istio\'s standard metrics.');
}

function printWindows(out: DemoConsole, config: WatcherConfig): void {
  out.line();
  out.line('The watcher runs with windows shortened so that the demo ends in minutes:');
  for (const l of describeShortenedWindows(config, defaultWatcherConfig())) out.line(`  ${l}`);
}

async function printKeep(out: DemoConsole, stage: Stage): Promise<void> {
  const kubectl = join(stage.cp.binDir, 'kubectl');
  const kubeconfig = stage.cp.kubeconfigPath;
  // Where the watchers serve /metrics, as Prometheus scrapes them (the stage labels each target by component).
  const watcherTargets = await stage.query('up{component=~"watcher-.*"}').catch(() => []);
  const watcherMetrics = watcherTargets
    .map((t) => [t.metric.component ?? 'watcher', `metrics http://${t.metric.instance ?? '?'}/metrics`] as [string, string])
    .sort((a, b) => a[0].localeCompare(b[0]));
  out.heading('The cluster keeps running (--keep); Ctrl-C stops everything');
  const rows: [string, string][] = [
    ['kubeconfig', kubeconfig],
    ['try', `${kubectl} --kubeconfig ${kubeconfig} get vs -A`],
    ['Prometheus', `${stage.prometheus.url}   (query: istio_requests_total)`],
    ['Alertmanager', stage.alertmanager.url],
    ['webhook', stage.webhook ? `${stage.webhook.admissionUrl}, metrics http://${stage.webhook.metricsTarget}/metrics` : 'not running'],
    ...watcherMetrics,
    ['manifests', join(stage.workDir, 'manifests')],
    ['logs', stage.workDir],
  ];
  for (const [label, value] of rows) out.verbatim(`${label.padEnd(13)} ${value}`);
}

function progress(out: DemoConsole): { onProgress: (s: StageStep) => void; stop: () => void } {
  let last = { step: 'start', atMs: Date.now() };
  const stop = out.heartbeat(() => `still working (${formatDuration(Date.now() - last.atMs)} since ${last.step})`, 3_000);
  return {
    onProgress: (s) => {
      last = { step: s.step, atMs: Date.now() };
      out.ok(`${s.step.padEnd(13)} ${formatDuration(s.durationMs).padStart(6)}`, s.detail, 21);
    },
    stop,
  };
}

async function main(argv: string[]): Promise<number> {
  const out = createConsole();
  let args: DemoArgs | undefined;
  try {
    args = parse(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const startedMs = Date.now();
  printIntro(out);

  const beat = progress(out);
  const stage = new Stage(
    { thresholds: 'short', watchers: 1, onProgress: beat.onProgress, ...(args.watcherDryRun ? { watcherConfig: { dryRun: true } } : {}) },
    mkdtempSync(join(tmpdir(), 'bgg-demo-')),
  );
  let exitCode: number;
  let interrupted: NodeJS.Signals | undefined;
  let stopping: Promise<void> | undefined;
  const stopStage = (): Promise<void> => {
    stopping ??= Promise.race([
      stage.stop(),
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`not everything stopped within ${STOP_TIMEOUT_MS / 1000} s`)), STOP_TIMEOUT_MS).unref()),
    ]);
    return stopping;
  };
  let release: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      // Second signal: the exit hook of every started process kills it now.
      process.stderr.write(`\n${signal} again: killing everything now\n`);
      process.exit(130);
    }
    interrupted = signal;
    beat.stop();
    if (release) {
      release();
      return;
    }
    out.line();
    out.line(`${signal}: stopping everything the demo started…`);
    stopStage().then(
      () => process.exit(130),
      (error: unknown) => {
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(130);
      },
    );
  };
  // The signal handler stops the stage and exits; main only waits for that.
  const stopAfterSignal = async (): Promise<number> => {
    await stopStage().catch(() => undefined);
    return 130;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    out.heading('Starting the local cluster');
    await stage.start();
    const scene = await stage.seed({ v2: false, traffic: { requestsPerSecond: 50 } });
    beat.stop();
    // The thresholds the watcher really runs with: its config file as the stage wrote it.
    const config = parseWatcherConfig(stage.watcherConfigs[0]);
    printWindows(out, config);
    const story = new Story(stage, scene, config, out, { quick: args.quick, faultErrorRatio: FAULT_ERROR_RATIO });
    await story.refuseSkippedPreflight();
    await story.admitRunbookSequence();
    await story.rollBackFailingCandidate();
    await story.report();
    if (story.result.rolledBack) await reapplyAsGitOpsThenFix(stage, scene, out, story.result.v2RequestsAtRollback);
    exitCode = story.result.rolledBack ? 0 : 1;
  } catch (error) {
    beat.stop();
    if (interrupted) return stopAfterSignal();
    out.line();
    if (error instanceof DemoFailure) out.fail('demo failed', error.message);
    else out.fail('demo failed', error instanceof Error ? (error.stack ?? error.message) : String(error));
    exitCode = 1;
  }
  if (interrupted) return stopAfterSignal();

  out.line();
  out.line(exitCode === 0 ? `Demo done in ${formatDuration(Date.now() - startedMs)}: a bad cutover refused, a failing one rolled back by the watcher, its GitOps re-apply refused, the fixed v2 admitted.` : 'The demo did not show the whole story (see ✗ above).');
  if (args.keep) {
    await printKeep(out, stage);
    await new Promise<void>((resolve) => (release = resolve));
    out.line();
    out.line(`${interrupted ?? 'signal'}: stopping everything the demo started…`);
  } else {
    out.line('Stopping everything the demo started…');
  }
  try {
    await stopStage();
    out.line('Stopped: no process left behind.');
  } catch (error) {
    out.fail('stop', error instanceof Error ? error.message : String(error));
    return 1;
  }
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
