// The seed's runbook played on the local stage, as a newcomer would watch it:
//
//   1. a cutover that skips the preflight is refused by the webhook;
//   2. the runbook's sequence is admitted step by step;
//   3. v2 starts failing and the watcher rolls traffic back by itself;
//   4. what happened: timeline, the Alertmanager alert, a summary;
//   5. a GitOps re-apply of the failed cutover is refused, a fixed v2 goes through (gitops-step.ts).
//
// Every change goes through the real kubectl against the real API server,
// which calls the real webhook; the rollback is the real watcher's. Only
// Istio's data plane is simulated (test/support/mesh-simulator.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { WatcherConfig } from '../src/config/watcher-config.js';
import { PREVIOUS_WEIGHTS, ROLLBACK_REASON, ROLLED_BACK_AT, ZERO_PERCENT_AT } from '../src/istio/annotations.js';
import { cutoverReport, lastCutover, renderReport } from '../src/watcher/cutover-report.js';
import { conditionTrueAt, errorRatioQuery } from '../test/support/rollback-timing.js';
import type { AlertmanagerAlert, Stage } from '../test/support/stage.js';
import type { Scene, Weights } from '../test/support/stage-scene.js';
import { waitUntil } from '../test/support/wait-until.js';
import { trimPatchDump } from './kubectl-output.js';
import { formatDuration, formatOffset, formatPercent, table, type DemoConsole } from './console.js';
import { counterStoppedAtSeconds, firstAtOrAboveSeconds, type Sample, type TimelineEntry } from './timeline.js';

export interface StoryOptions {
  /** Shorter pauses where the demo only lets the viewer watch (tests). */
  quick: boolean;
  /** Share of v2's requests that fail once the fault is injected. */
  faultErrorRatio: number;
}

export interface StoryOutcome {
  refused: boolean;
  admittedSteps: number;
  rolledBack: boolean;
  /** Breach condition true in Prometheus → traffic back on v1, when both were seen. */
  breachToRecoveryMs: number | undefined;
  /** v2's request count once the mesh followed the rollback. */
  v2RequestsAtRollback: number;
}

const ROLLED_BACK_ALERT = 'BlueGreenGuardRolledBack';

export class DemoFailure extends Error {
  override name = 'DemoFailure';
}

export class Story {
  private readonly manifestDir: string;
  private readonly outcome: StoryOutcome = { refused: false, admittedSteps: 0, rolledBack: false, breachToRecoveryMs: undefined, v2RequestsAtRollback: 0 };
  private readonly timeline: TimelineEntry[] = [];
  private faultAtMs = 0;
  private alert: (AlertmanagerAlert & { updatedAt?: string }) | undefined;

  constructor(
    private readonly stage: Stage,
    private readonly scene: Scene,
    private readonly config: WatcherConfig,
    private readonly out: DemoConsole,
    private readonly options: StoryOptions,
  ) {
    this.manifestDir = join(stage.workDir, 'manifests');
    mkdirSync(this.manifestDir, { recursive: true });
  }

  get result(): StoryOutcome {
    return { ...this.outcome };
  }

  /** Step 1: traffic to blue before blue exists, with a share of 50 % straight away. */
  async refuseSkippedPreflight(): Promise<void> {
    const { out, scene } = this;
    out.heading('Step 1 · A cutover that skips the preflight is refused');
    out.line(`v2 is not deployed and the DestinationRule has no subset ${scene.candidateSubset} yet; someone sends it 50 % anyway:`);
    const result = await this.kubectlApply('vs-green-50-blue-50.yaml', scene.virtualService({ [scene.stableSubset]: 50, [scene.candidateSubset]: 50 }));
    out.quote(trimPatchDump(result.stderr || result.stdout));
    const weights = await scene.primaryWeights();
    if (result.code === 0) throw new DemoFailure(`the preflight-skipping VirtualService was admitted (kubectl exit 0); the webhook did not refuse it`);
    if (!result.stderr.includes(`admission webhook "${this.stage.chart.webhookName}" denied the request`)) {
      throw new DemoFailure(`kubectl failed (exit ${result.code}) but not because bluegreen-guard's webhook denied the change; see its output above`);
    }
    this.outcome.refused = true;
    out.ok('refused', `kubectl exit ${result.code}; the VirtualService is unchanged: ${describeWeights(weights)}`);
  }

  /** Step 2: the runbook's deployment procedure, each step admitted. */
  async admitRunbookSequence(): Promise<void> {
    const { out, scene, stage } = this;
    out.heading('Step 2 · The runbook, step by step, is admitted');
    const v2 = await scene.deployV2();
    out.ok('v2 Deployment', `${v2.name}: ${v2.pods.length}/${v2.pods.length} pods Ready, readiness and liveness probes`);
    const podNames = v2.pods.map((p) => p.metadata.name);
    await this.waitFor('Prometheus scraping v2', 30_000, async () => {
      const up = await stage.query(`up{namespace="${scene.namespace}", pod=~"${podNames.join('|')}"} == 1`);
      return up.length === podNames.length;
    });
    out.ok('Prometheus', `scrapes v2: up = 1 for ${podNames.join(', ')}`);

    const steps: [string, string, string][] = [
      ['DestinationRule', 'destinationrule-green-blue.yaml', scene.destinationRule()],
      ['VirtualService', 'vs-blue-0.yaml', scene.virtualService({ [scene.stableSubset]: 100, [scene.candidateSubset]: 0 })],
      ['VirtualService', 'vs-blue-100.yaml', scene.virtualService({ [scene.stableSubset]: 0, [scene.candidateSubset]: 100 })],
    ];
    for (const [label, file, manifest] of steps) {
      if (file === 'vs-blue-100.yaml') {
        // The cutover report's 0 % step: the watcher sees blue routed at 0 % before its first traffic (a dry run records nothing).
        if (!this.config.dryRun) {
          const zeroAt = await this.waitFor(`the watcher to record ${ZERO_PERCENT_AT}`, 30_000, async () => (await scene.readVirtualService()).metadata.annotations?.[ZERO_PERCENT_AT]);
          out.ok('watcher', `saw ${scene.candidateSubset} routed at 0 % at ${zeroAt}`);
        }
        // The webhook reads `up` in the background: wait until its dry-run verdict has seen the scrape.
        await scene.waitUntilScraped();
        out.ok('webhook', 'sees Prometheus scraping every v2 pod (metrics-scraped)');
      }
      const result = await this.kubectlApply(file, manifest);
      out.quote(trimPatchDump(`${result.stderr}${result.stdout}`));
      if (result.code !== 0) throw new DemoFailure(`the runbook step ${file} was refused (kubectl exit ${result.code}); see the message above`);
      this.outcome.admittedSteps++;
      out.ok(label, file === 'destinationrule-green-blue.yaml' ? `subsets ${scene.stableSubset} (v1) and ${scene.candidateSubset} (v2) admitted` : `${describeWeights(await scene.primaryWeights())} admitted`);
    }

    const mesh = this.mesh();
    await mesh.waitForShare('v2', 1, 15_000);
    out.ok('traffic', 'the mesh follows the VirtualService: 100 % of requests to v2');
    const healthy = await this.waitFor('v2 traffic in Prometheus', 30_000, () => this.v2Traffic());
    // Let the viewer see v2 healthy at full traffic before it breaks.
    const watchForMs = this.options.quick ? 0 : 6_000;
    if (watchForMs > 0) {
      const since = Date.now();
      let latest = healthy;
      const stopBeat = out.heartbeat(() => `v2 at full traffic: ${latest.requestsPerSecond.toFixed(0)} requests/s, 5xx ${formatPercent(latest.errorRatio)} (Prometheus)`, 2_000);
      try {
        await waitUntil(
          async () => {
            latest = (await this.v2Traffic()) ?? latest;
            return Date.now() - since >= watchForMs;
          },
          { timeoutMs: watchForMs + 10_000, intervalMs: 500, description: 'a healthy moment at full traffic' },
        );
      } finally {
        stopBeat();
      }
    }
    const now = (await this.v2Traffic()) ?? healthy;
    out.ok('v2 healthy', `in Prometheus: ${now.requestsPerSecond.toFixed(0)} requests/s, 5xx ${formatPercent(now.errorRatio)}`);
  }

  /** Step 3: the fault, and the watcher rolling back by itself. */
  async rollBackFailingCandidate(): Promise<void> {
    const { out, scene, stage, config } = this;
    out.heading('Step 3 · v2 starts failing; the watcher rolls traffic back by itself');
    const mesh = this.mesh();
    this.faultAtMs = Date.now();
    mesh.setBehaviour('v2', { errorRatio: this.options.faultErrorRatio, errorStatus: 503 });
    this.timeline.push({ atMs: this.faultAtMs, what: 'fault injected', detail: `v2 answers ${formatPercent(this.options.faultErrorRatio)} of requests with 503`, source: 'demo' });
    out.line(`fault injected: v2 answers ${formatPercent(this.options.faultErrorRatio)} of its requests with 503`);
    out.line(`the watcher rolls back once 5xx ≥ ${formatPercent(config.errorRate.ratio)} holds for ${config.errorRate.windowSeconds} s; nobody touches kubectl now`);

    let status = 'waiting for the first scrape';
    const stopBeat = out.heartbeat(() => `${formatOffset(Date.now() - this.faultAtMs).padStart(7)}  ${status}`);
    const deadlineMs = (config.errorRate.windowSeconds + config.errorRate.rateWindowSeconds + 60) * 1000;
    type Ending = { kind: 'rolled-back'; atMs: number; resourceVersion?: string } | { kind: 'dry-run'; summary: string };
    let ending: Ending | undefined;
    try {
      ending = await waitUntil<Ending>(
        async () => {
          const back = mesh.shareHistory().find((c) => c.atMs >= this.faultAtMs && (c.share.v1 ?? 0) >= 1 - 1e-9);
          if (back) return { kind: 'rolled-back', atMs: back.atMs, resourceVersion: back.resourceVersion };
          // A watcher in dry run decides the same, alerts, and patches nothing: no point waiting longer.
          const dryRun = (await stage.alerts()).find((a) => a.labels.namespace === scene.namespace && a.annotations.patch_result?.startsWith('dry run'));
          if (dryRun) return { kind: 'dry-run', summary: dryRun.annotations.summary ?? dryRun.labels.alertname ?? 'dry run' };
          const traffic = await this.v2Traffic();
          const share = mesh.trafficShare();
          status = `v2 5xx ${traffic ? formatPercent(traffic.errorRatio) : 'n/a'} in Prometheus · traffic to v2 ${formatPercent(share.v2 ?? 0)} · no rollback yet`;
          return undefined;
        },
        { timeoutMs: deadlineMs, intervalMs: 200, description: 'the watcher to roll the VirtualService back to green' },
      ).catch(() => undefined);
    } finally {
      stopBeat();
    }
    if (ending?.kind !== 'rolled-back') {
      out.fail('no rollback', `the VirtualService still sends traffic to v2 ${formatDuration(Date.now() - this.faultAtMs)} after the fault`);
      if (ending?.kind === 'dry-run') {
        out.line(`the watcher runs in dry run; it alerted instead: ${ending.summary}`);
      } else {
        out.line('last lines of the watcher log:');
        out.quote(stage.watchers[0]?.logTail(15) ?? '(no watcher runs)');
      }
      throw new DemoFailure('the watcher did not roll back: the demo shows no rollback');
    }
    const rollback = ending;
    this.outcome.rolledBack = true;
    // The mesh already follows the rollback: from here on v2 should get nothing.
    this.outcome.v2RequestsAtRollback = mesh.served().v2?.requests ?? 0;
    this.timeline.push({
      atMs: rollback.atMs,
      what: 'rollback patched',
      detail: `${describeWeights(await scene.primaryWeights())} (resourceVersion ${rollback.resourceVersion ?? '?'})`,
      source: 'watch',
    });
    out.ok('rolled back', `${formatOffset(rollback.atMs - this.faultAtMs)} after the fault: ${describeWeights(await scene.primaryWeights())}`);

    // The watcher posts its alert only after it read the object back with the stable subset at 100 %.
    this.alert = await this.waitFor('the rollback alert in Alertmanager', 30_000, async () =>
      (await stage.alerts()).find((a) => a.labels.alertname === ROLLED_BACK_ALERT && a.labels.namespace === scene.namespace),
    );
    const alertReceivedMs = Date.parse(this.alert.updatedAt ?? '');
    if (Number.isFinite(alertReceivedMs)) {
      this.timeline.push({ atMs: alertReceivedMs, what: 'verified, alert sent', detail: `read back ${scene.stableSubset} 100 %, then alerted`, source: 'Alertmanager' });
    }

    // The runbook's verify step, as a person would type it.
    const columns = [
      'SUBSETS:.spec.http[1].route[*].destination.subset',
      'WEIGHTS:.spec.http[1].route[*].weight',
      `ROLLED-BACK-AT:.metadata.annotations.${ROLLED_BACK_AT.replaceAll('.', '\\.')}`,
    ].join(',');
    out.line(`$ kubectl -n ${scene.namespace} get virtualservice ${scene.service} -o custom-columns=SUBSETS:…,WEIGHTS:…,ROLLED-BACK-AT:…`);
    const got = await stage.cp.kubectl(['-n', scene.namespace, 'get', 'virtualservice', scene.service, '-o', `custom-columns=${columns}`]);
    out.quote(`${got.stderr}${got.stdout}`);
    const annotations = (await scene.readVirtualService()).metadata.annotations ?? {};
    out.line(`why:     ${annotations[ROLLBACK_REASON] ?? '(no reason recorded)'}`, 9);
    out.line(`before:  ${describePreviousWeights(annotations[PREVIOUS_WEIGHTS])}`, 9);
    const decidedAtMs = Date.parse(annotations[ROLLED_BACK_AT] ?? '');
    if (Number.isFinite(decidedAtMs)) this.timeline.push({ atMs: decidedAtMs, what: 'watcher saw the breach', detail: 'its evaluation cycle began', source: 'rolled-back-at' });
    const event = (await scene.events()).reverse().find((e) => e.reason === 'RolledBack');
    if (event) out.line(`Event:   ${event.type} ${event.reason} on VirtualService ${scene.service}, from ${event.reportingComponent || event.source?.component || 'the watcher'}`);
  }

  /** Step 4: the timeline from Prometheus, the API server and the watcher; the alert; a summary. */
  async report(): Promise<void> {
    const { out, scene, stage } = this;
    out.heading('Step 4 · What happened');
    await this.collectPrometheusInstants();
    const alert = this.alert;
    if (!alert) throw new DemoFailure('no rollback alert was found in step 3');

    out.line('Timeline, relative to the fault injection:');
    const rows = [...this.timeline].sort((a, b) => a.atMs - b.atMs).map((e) => [formatOffset(e.atMs - this.faultAtMs).padStart(8), e.what, e.detail, `[${e.source}]`]);
    for (const l of table(rows)) out.line(`  ${l}`);

    out.line();
    out.line(`Alert in Alertmanager (${stage.alertmanager.url}/api/v2/alerts):`);
    out.line(`  ${alert.labels.alertname}   ${alert.status.state} since ${new Date(alert.startsAt).toISOString().slice(11, 19)} UTC`);
    out.verbatim(`  labels:  ${JSON.stringify(alert.labels)}`);
    if (alert.annotations.summary) out.line(`  summary: ${alert.annotations.summary}`);
    const others = (await stage.alerts()).filter((a) => a.labels.namespace === scene.namespace && a.labels.alertname !== ROLLED_BACK_ALERT);
    if (others.length > 0) out.line(`  also:    ${others.map((a) => `${a.labels.alertname} (${a.labels.reason ?? a.labels.severity ?? ''})`).join(', ')}`);

    const served = this.mesh().served();
    const v2 = served.v2 ?? { requests: 0, errors: 0 };
    const breach = this.timeline.find((e) => e.what === 'breach condition true');
    const verified = this.timeline.find((e) => e.what === 'verified, alert sent');
    const recovered = this.timeline.find((e) => e.what === 'traffic back on v1');
    this.outcome.breachToRecoveryMs = breach && recovered ? recovered.atMs - breach.atMs : undefined;
    const since = (to: TimelineEntry | undefined) => (breach && to ? formatDuration(to.atMs - breach.atMs) : 'n/a');
    out.line();
    out.line('Summary:');
    const summary: string[][] = [
      ['refused (step 1)', '1 cutover that skipped the preflight'],
      ['admitted (step 2)', `${this.outcome.admittedSteps} runbook changes: DestinationRule, blue 0 %, blue 100 %`],
      ['rolled back (step 3)', `by the watcher, no human: ${describeWeights(await scene.primaryWeights())}`],
      ['fault → traffic on v1', recovered ? formatDuration(recovered.atMs - this.faultAtMs) : 'not seen in Prometheus'],
      ['breach → verified', `${since(verified)} (target 5 s)`],
      ['breach → traffic on v1', `${since(recovered)} (the runbook allows 2 min by hand)`],
      ['v2 requests failed', `${v2.errors} of ${v2.requests}`],
      ['alert', `${alert.labels.alertname} (severity ${alert.labels.severity ?? '?'})`],
    ];
    for (const l of table(summary)) out.line(`  ${l}`);
    // The watcher's own record of the cutover, as `kubectl bluegreen status` shows it.
    const last = lastCutover((await scene.readVirtualService()).metadata.annotations ?? {});
    out.line();
    if (!last) return out.line("Cutover report: the watcher recorded none (no bluegreen-guard.io/last-cutover annotation)");
    out.line(`Cutover report (the watcher's record of the cutover to ${last.candidate ?? 'the candidate'}), against the seed's expected timeline:`);
    for (const l of renderReport(cutoverReport(last))) out.verbatim(`  ${l}`);
  }

  /** The instants only Prometheus knows: errors first visible, breach condition true, v2's last request. */
  private async collectPrometheusInstants(): Promise<void> {
    const { stage, scene, config } = this;
    const er = config.errorRate;
    const startSeconds = Math.floor(this.faultAtMs / 1000) - er.windowSeconds;
    const requestsQuery = `sum(istio_requests_total{reporter="destination", destination_service_namespace="${scene.namespace}", destination_service_name="${scene.service}", destination_version="v2"})`;
    const quietSeconds = 3;
    let stoppedAtSeconds: number | undefined;
    await this.waitFor('Prometheus to show v2 without traffic', 30_000, async () => {
      const range = await stage.queryRange(requestsQuery, startSeconds, Date.now() / 1000, 1);
      stoppedAtSeconds = counterStoppedAtSeconds(toSamples(range[0]?.values ?? []), quietSeconds);
      return stoppedAtSeconds !== undefined;
    });
    const ratioQuery = errorRatioQuery(scene, 'v2', er.rateWindowSeconds);
    const [ratios] = await stage.queryRange(ratioQuery, this.faultAtMs / 1000, Date.now() / 1000, 0.25);
    const samples = toSamples(ratios?.values ?? []);
    const firstSeen = firstAtOrAboveSeconds(samples, er.ratio);
    if (firstSeen !== undefined) {
      this.timeline.push({ atMs: firstSeen * 1000, what: '5xx above threshold', detail: `v2 5xx ${formatPercent(valueAt(samples, firstSeen))} ≥ ${formatPercent(er.ratio)}`, source: 'Prometheus' });
    }
    const onsetMs = await conditionTrueAt(stage, ratioQuery, er, this.faultAtMs, Date.now());
    if (onsetMs !== undefined) {
      this.timeline.push({ atMs: onsetMs, what: 'breach condition true', detail: `≥ ${formatPercent(er.ratio)} at every ${er.stepSeconds} s step of the last ${er.windowSeconds} s`, source: 'Prometheus' });
    }
    if (stoppedAtSeconds !== undefined) {
      this.timeline.push({ atMs: stoppedAtSeconds * 1000, what: 'traffic back on v1', detail: 'v2 served its last request', source: 'Prometheus' });
    }
  }

  /** v2's request rate and 5xx ratio now, from Prometheus; undefined until it has seen v2's traffic. */
  private async v2Traffic(): Promise<{ requestsPerSecond: number; errorRatio: number } | undefined> {
    const rateWindow = `${this.config.errorRate.rateWindowSeconds}s`;
    const selector = `reporter="destination", destination_service_namespace="${this.scene.namespace}", destination_service_name="${this.scene.service}", destination_version="v2"`;
    const [all] = await this.stage.query(`sum(rate(istio_requests_total{${selector}}[${rateWindow}]))`);
    const requestsPerSecond = all ? Number(all.value[1]) : 0;
    if (!(requestsPerSecond > 0)) return undefined;
    // No 5xx series yet means no 5xx at all.
    const [errors] = await this.stage.query(`sum(rate(istio_requests_total{${selector}, response_code=~"5.."}[${rateWindow}]))`);
    return { requestsPerSecond, errorRatio: (errors ? Number(errors.value[1]) : 0) / requestsPerSecond };
  }

  /** Writes the manifest beside the stage's files and runs `kubectl apply -f` on it, printing the command. */
  private async kubectlApply(file: string, manifest: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const path = join(this.manifestDir, file);
    writeFileSync(path, manifest);
    this.out.line(`$ kubectl apply -f ${basename(path)}`);
    return this.stage.cp.kubectl(['apply', '-f', path]);
  }

  private mesh() {
    if (!this.scene.mesh) throw new Error(`the scene in ${this.scene.namespace} runs no mesh simulator`);
    return this.scene.mesh;
  }

  /** Waits with a heartbeat; fails the demo with what it waited for. */
  private async waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
    const started = Date.now();
    const stopBeat = this.out.heartbeat(() => `waiting for ${what} (${formatDuration(Date.now() - started)})`);
    try {
      return await waitUntil(probe, { timeoutMs, intervalMs: 250, description: what });
    } catch (error) {
      throw new DemoFailure(error instanceof Error ? error.message : String(error));
    } finally {
      stopBeat();
    }
  }
}

export function describeWeights(weights: Weights): string {
  return Object.entries(weights)
    .map(([subset, weight]) => `${subset} ${weight}`)
    .join(', ');
}

/** The previous-weights annotation (`{"http/1 (primary)":{"green":0,"blue":100}}`) as `http/1 (primary): green 0, blue 100`. */
function describePreviousWeights(annotation: string | undefined): string {
  if (annotation === undefined) return '(not recorded)';
  try {
    const routes = JSON.parse(annotation) as Record<string, Weights>;
    return Object.entries(routes)
      .map(([route, weights]) => `${route}: ${describeWeights(weights)}`)
      .join('; ');
  } catch {
    return annotation;
  }
}

function toSamples(values: readonly [number, string][]): Sample[] {
  return values.map(([t, v]) => [t, Number(v)] as const).filter(([, v]) => Number.isFinite(v));
}

function valueAt(samples: readonly Sample[], atSeconds: number): number {
  return samples.find(([t]) => t === atSeconds)?.[1] ?? Number.NaN;
}
