// One evaluation round for every candidate with traffic: one metrics
// collection (a fixed set of PromQL queries aggregated by service, namespace
// and version, split afterwards), one read of Alertmanager's firing alerts,
// the smoke tests of the services that have one, then the pure evaluation per
// service. The loop calls it once per cycle.
import type { FiringAlertSource } from '../alertmanager/firing-alert-source.js';
import type { WatcherConfig } from '../config/watcher-config.js';
import type { MetricsSource } from '../prometheus/metrics-source.js';
import { evaluateService, inEarlyWindow, type EvaluationContext } from './evaluate.js';
import type { CycleEvaluator, WatchTarget } from './loop.js';
import { collectMetrics } from './metrics-snapshot.js';
import { runSmokeTest, smokeTestUrl, type SmokeTestResult, type SmokeTestSpec } from './smoke-test.js';
import type { Evaluation } from './verdict.js';

export interface MetricsCycleEvaluatorDeps {
  source: MetricsSource;
  /** Absent: no Alertmanager configured, the `critical-alert` rule is not evaluated. */
  firingAlerts?: FiringAlertSource;
  /** Injected in tests; defaults to a real HTTP GET. */
  smokeTest?: (spec: SmokeTestSpec) => Promise<SmokeTestResult>;
  config: WatcherConfig;
}

export class MetricsCycleEvaluator implements CycleEvaluator {
  constructor(private readonly deps: MetricsCycleEvaluatorDeps) {}

  async evaluate(targets: readonly WatchTarget[], at: Date): Promise<Evaluation[]> {
    const { config } = this.deps;
    const atSeconds = Math.floor(at.getTime() / 1000);
    const startedSeconds = targets.map((t) => (t.cutoverStartedAt ? Math.floor(t.cutoverStartedAt.getTime() / 1000) : null));
    const early = startedSeconds.some((s) => inEarlyWindow(atSeconds, s, config));
    const smoke = this.deps.smokeTest ?? ((spec: SmokeTestSpec) => runSmokeTest(spec));
    const [snapshot, criticalAlerts, smokeTests] = await Promise.all([
      collectMetrics(this.deps.source, atSeconds, config, { earlyWindow: early }),
      this.deps.firingAlerts?.criticalAlerts(),
      Promise.all(
        targets.map((t) => {
          const url = smokeTestUrl(config.smokeTest.url, t.key, { ...(t.virtualService.metadata.annotations ?? {}) });
          return url ? smoke({ url, expectedStatus: config.smokeTest.expectedStatus, timeoutMs: config.smokeTest.timeoutMs }) : Promise.resolve(undefined);
        }),
      ),
    ]);
    return targets.map((t, i) => {
      const context: EvaluationContext = { cutoverStartedAtSeconds: startedSeconds[i] ?? null };
      if (criticalAlerts) context.criticalAlerts = criticalAlerts;
      const smokeTest = smokeTests[i];
      if (smokeTest) context.smokeTest = smokeTest;
      return evaluateService(snapshot, t.key, context, config);
    });
  }
}
