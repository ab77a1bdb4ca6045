// The chart's recording rules (`watcher.recordingRules.enabled`) as a rule file
// promtool reads, and their history: `promtool tsdb create-blocks-from rules`
// evaluates them over a running Prometheus's data, on the group's own grid, and
// writes TSDB blocks a Prometheus started with `blocks:` then serves.
// Used by test/integration/evaluate-recorded.test.ts and the watcher benchmark.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { Helm } from './helm.js';
import { systemBinary } from './system-binary.js';

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: { record?: string; alert?: string; expr: string }[];
}

/** The groups of the chart's `…-recorded` PrometheusRule, rendered by helm with `values` merged over the switch. */
export async function chartRecordingRules(values: Record<string, unknown> = {}): Promise<RuleGroup[]> {
  const helm = await Helm.build();
  try {
    const watcher = { ...((values.watcher as Record<string, unknown> | undefined) ?? {}), recordingRules: { enabled: true } };
    const r = await helm.template({ releaseName: 'bgg', namespace: 'guard-system', values: { ...values, watcher } });
    if (r.code !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
    const rule = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { groups: RuleGroup[] } } | null)
      .find((o) => o?.kind === 'PrometheusRule' && o.metadata?.name?.endsWith('-recorded'));
    if (!rule?.spec) throw new Error('the chart rendered no PrometheusRule …-recorded with watcher.recordingRules.enabled=true');
    return rule.spec.groups;
  } finally {
    helm.dispose();
  }
}

export function promtool(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(systemBinary('promtool', 'PROMTOOL_BIN', 'prometheus'), args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`promtool ${args.slice(0, 3).join(' ')} failed: ${error.message}\n${stderr || stdout}`));
      else resolve(stdout);
    });
  });
}

/** Writes `groups` to `dir/rules.yaml`, checks it with promtool, and backfills it from `prometheusUrl` into `dir/recorded`, whose path it returns. */
export async function backfillRules(groups: RuleGroup[], prometheusUrl: string, range: { startSeconds: number; endSeconds: number }, dir: string): Promise<string> {
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, stringify({ groups }));
  await promtool(['check', 'rules', rulesFile]);
  const out = join(dir, 'recorded');
  await promtool(['tsdb', 'create-blocks-from', 'rules', '--quiet', `--url=${prometheusUrl}`, `--start=${range.startSeconds}`, `--end=${range.endSeconds}`, `--output-dir=${out}`, rulesFile]);
  return out;
}
