import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseWatcherArgs } from '../../../src/cli/watcher.js';
import { WatcherConfigError } from '../../../src/config/watcher-config.js';

function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bgg-watcher-args-')), 'watcher.yaml');
  writeFileSync(path, text);
  return path;
}

describe('bluegreen-guard watcher flags', () => {
  it('reads the config file and lets flags override dry run, Prometheus and Alertmanager', async () => {
    const path = configFile('intervalSeconds: 30\nprometheusUrl: http://prom:9090\nlease: {namespace: guard, name: w}\n');
    const parsed = await parseWatcherArgs(['--config', path, '--dry-run', '--alertmanager', 'http://am:9093', '--metrics-port', '9191'], { POD_NAME: 'watcher-7f9-abc' });
    if (parsed === 'help') throw new Error('unexpected help');
    expect(parsed.config).toMatchObject({ intervalSeconds: 30, dryRun: true, prometheusUrl: 'http://prom:9090', alertmanagerUrl: 'http://am:9093', lease: { namespace: 'guard', name: 'w' } });
    expect(parsed.options).toMatchObject({ identity: 'watcher-7f9-abc', metricsPort: 9191, istioApiVersion: 'v1' });
    expect(parsed.config.mesh).toEqual({ defaultStableSubset: 'green', clusterDomain: 'cluster.local', rootNamespace: 'istio-system', guardLabel: 'bluegreen-guard.io/guard', versionLabel: 'version' });
    expect(parsed.config.warnings).toEqual([]);
  });

  it('reads the mesh section the chart writes, the same one the webhook reads', async () => {
    const path = configFile('mesh: {defaultStableSubset: blue, clusterDomain: mesh.example, rootNamespace: mesh-root, guardLabel: corp.example/guarded, versionLabel: app.kubernetes.io/version}\n');
    const parsed = await parseWatcherArgs(['--config', path], {});
    if (parsed === 'help') throw new Error('unexpected help');
    expect(parsed.config.mesh).toEqual({ defaultStableSubset: 'blue', clusterDomain: 'mesh.example', rootNamespace: 'mesh-root', guardLabel: 'corp.example/guarded', versionLabel: 'app.kubernetes.io/version' });
  });

  it('still takes --cluster-domain and --root-namespace, with a deprecation warning each', async () => {
    const parsed = await parseWatcherArgs(['--cluster-domain', 'corp.internal', '--root-namespace', 'mesh-root'], {});
    if (parsed === 'help') throw new Error('unexpected help');
    expect(parsed.config.mesh).toMatchObject({ clusterDomain: 'corp.internal', rootNamespace: 'mesh-root' });
    expect(parsed.config.warnings).toEqual([
      '--cluster-domain is deprecated: the webhook and the watcher now read it from mesh.clusterDomain; fix: move it there',
      '--root-namespace is deprecated: the webhook and the watcher now read it from mesh.rootNamespace; fix: move it there',
    ]);
  });

  it('refuses a --cluster-domain that disagrees with the file\'s mesh.clusterDomain, naming both and the fix', async () => {
    const path = configFile('mesh: {clusterDomain: mesh.example}\n');
    await expect(parseWatcherArgs(['--config', path, '--cluster-domain', 'cluster.local'], {})).rejects.toThrow(
      '--cluster-domain ("cluster.local") and mesh.clusterDomain ("mesh.example") disagree; the webhook and the watcher must read the same value; fix: remove --cluster-domain and keep mesh.clusterDomain',
    );
  });

  it.each([
    ['mesh: {clusterDomain: "Not A Domain"}', 'mesh.clusterDomain: "Not A Domain" is not a DNS domain'],
    ['mesh: {defaultStableSubset: ""}', 'mesh.defaultStableSubset: must be a non-empty string, got "" (default "green")'],
    ['mesh: {guardLabel: "a b"}', 'mesh.guardLabel: "a b" is not a valid Kubernetes label key'],
    ['mesh: {clusterdomain: x}', 'mesh.clusterdomain: unknown field'],
  ])('refuses %s with the field and the fix', async (text, message) => {
    await expect(parseWatcherArgs(['--config', configFile(`${text}\n`)], {})).rejects.toThrow(message);
  });

  it('reports every problem of the config file at once', async () => {
    const path = configFile('intervalSeconds: 0\nlease: {durationSeconds: 5, renewDeadlineSeconds: 9}\n');
    const parsing = parseWatcherArgs(['--config', path], {});
    await expect(parsing).rejects.toBeInstanceOf(WatcherConfigError);
    await expect(parsing).rejects.toThrow(/renewDeadlineSeconds \(9\) must be below[\s\S]*intervalSeconds: must be ≥ 1/);
  });

  it.each([
    [['--metrics-port', 'http'], /--metrics-port must be a port number/],
    [['--istio-api-version', 'v2'], /--istio-api-version must be v1, v1beta1 or v1alpha3/],
    [['--config', '/nonexistent/watcher.yaml'], /cannot read --config \/nonexistent\/watcher.yaml/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j', async (argv, message) => {
    await expect(parseWatcherArgs(argv, {})).rejects.toThrow(message);
  });

  it('answers --help', async () => {
    expect(await parseWatcherArgs(['--help'], {})).toBe('help');
  });
});
