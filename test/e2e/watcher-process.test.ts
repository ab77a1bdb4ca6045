// The watcher process as its composition root builds it (startWatcher), two
// replicas against a real kube-apiserver, a real Prometheus holding Istio
// metrics in which the candidate answers 20 % 5xx, and a real Alertmanager:
// only the Lease holder acts, the VirtualService goes back to green 100 %
// exactly once, with its Event and its alert, and when the leader stops the
// standby takes over without rolling back again (seed: "Rollback Procedure").
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startWatcher, type RunningWatcher } from '../../src/cli/watcher.js';
import { parseWatcherConfig } from '../../src/config/watcher-config.js';
import { CUTOVER_STARTED_AT, ROLLED_BACK_AT } from '../../src/istio/annotations.js';
import type { VirtualService } from '../../src/istio/types.js';
import { routesOf, subsetShare } from '../../src/istio/routes.js';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { istioHistory } from '../support/istio-history.js';
import type { KubeObject } from '../support/kube-api.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { waitUntil } from '../support/wait-until.js';

const VS_API = 'networking.istio.io/v1';

let cp: ControlPlane;
let prometheus: RunningPrometheus | undefined;
let alertmanager: RunningAlertmanager | undefined;
const watchers: RunningWatcher[] = [];
let ns: string;

beforeAll(async () => {
  cp = await startControlPlane();
  ns = await cp.newNamespace('watcher', { guard: true });
  const now = Math.floor(Date.now() / 1000 / 15) * 15;
  // Green healthy, blue failing 20 % of its requests, from 15 minutes ago to
  // well past the test's end, so "now" always sits inside the history.
  const traffic = (errors: number) => () => ({ requests: 150, errors, latency: [[100, 150]] as Array<[number, number]> });
  prometheus = await startPrometheus({
    backfill: istioHistory({
      startSeconds: now - 15 * 60,
      endSeconds: now + 20 * 60,
      services: [
        { key: { namespace: ns, service: 'reviews', version: 'v1' }, traffic: traffic(0) },
        { key: { namespace: ns, service: 'reviews', version: 'v2' }, traffic: traffic(30) },
      ],
    }),
  });
  alertmanager = await startAlertmanager();
}, 180_000);

afterAll(async () => {
  for (const w of watchers) await w.stop();
  await alertmanager?.stop();
  await prometheus?.stop();
  await cp?.stop();
}, 60_000);

function startReplica(identity: string): Promise<RunningWatcher> {
  const config = parseWatcherConfig({
    intervalSeconds: 1,
    prometheusUrl: prometheus?.url,
    alertmanagerUrl: alertmanager?.url,
    lease: { name: 'bluegreen-guard-watcher', namespace: ns, durationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.25 },
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.kubeconfigPath);
  return startWatcher(
    config,
    { identity, metricsPort: 0, metricsHost: '127.0.0.1', istioApiVersion: 'v1' },
    { log: pino({ level: 'silent' }), kubeConfig },
  ).then((w) => {
    watchers.push(w);
    return w;
  });
}

async function metric(w: RunningWatcher, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${w.metricsAddress.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('two watcher replicas on a real cluster', () => {
  it('the Lease holder rolls the failing candidate back to green exactly once; the standby takes over without doing it again', async () => {
    await cp.api.create({
      apiVersion: VS_API,
      kind: 'DestinationRule',
      metadata: { name: 'reviews', namespace: ns },
      spec: { host: 'reviews', subsets: [{ name: 'green', labels: { version: 'v1' } }, { name: 'blue', labels: { version: 'v2' } }] },
    });
    await cp.api.create({
      apiVersion: VS_API,
      kind: 'VirtualService',
      metadata: { name: 'reviews', namespace: ns, annotations: { [CUTOVER_STARTED_AT]: new Date(Date.now() - 10 * 60_000).toISOString() } },
      spec: {
        hosts: ['reviews'],
        http: [{ route: [{ destination: { host: 'reviews', subset: 'green' }, weight: 0 }, { destination: { host: 'reviews', subset: 'blue' }, weight: 100 }], timeout: '5s', retries: { attempts: 2 } }],
      },
    });
    const a = await startReplica('watcher-a');
    const b = await startReplica('watcher-b');

    const rolledBack = await waitUntil(
      async () => {
        const vs = await cp.api.read<KubeObject & VirtualService>(VS_API, 'VirtualService', ns, 'reviews');
        return subsetShare(routesOf(vs, 'cluster.local')[0]!, 'green') === 100 ? vs : undefined;
      },
      { timeoutMs: 30_000, description: 'VirtualService reviews back on green 100 %' },
    );
    expect(rolledBack.metadata.annotations?.[ROLLED_BACK_AT]).toBeTruthy();
    expect(rolledBack.spec.http?.[0]).toMatchObject({ timeout: '5s', retries: { attempts: 2 } });

    const leader = a.elector.isLeader() ? a : b;
    const standby = leader === a ? b : a;
    expect(standby.elector.isLeader()).toBe(false);
    expect(await metric(leader, 'bluegreen_guard_watcher_rollbacks_total', '{outcome="rolled-back"}')).toBe(1);
    expect(await metric(standby, 'bluegreen_guard_watcher_rollbacks_total', '{outcome="rolled-back"}')).toBe(0);
    expect(await metric(leader, 'bluegreen_guard_watcher_leader')).toBe(1);
    expect(await metric(standby, 'bluegreen_guard_watcher_leader')).toBe(0);

    const alerts = await waitUntil(
      async () => {
        const listed = (await (await fetch(`${alertmanager?.url}/api/v2/alerts?filter=alertname%3D%22BlueGreenGuardRolledBack%22`)).json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
        return listed.length > 0 ? listed : undefined;
      },
      { timeoutMs: 10_000, description: 'the rollback alert listed by Alertmanager' },
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.labels).toMatchObject({ alertname: 'BlueGreenGuardRolledBack', namespace: ns, service: 'reviews', severity: 'warning', reason: 'error-rate', version: 'v2', virtualservice: 'reviews' });
    expect(alerts[0]?.annotations.patch_result).toMatch(/^patched and verified/);
    expect(Number(alerts[0]?.annotations.value)).toBeCloseTo(0.2, 5);

    // Hand over: the leader stops (releasing the Lease), the standby leads within the lease duration.
    const stoppedAt = Date.now();
    await leader.stop();
    await waitUntil(() => standby.elector.isLeader(), { timeoutMs: 3_000, description: 'the standby holding the Lease' });
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    const cyclesBefore = await metric(standby, 'bluegreen_guard_watcher_cycle_duration_seconds_count');
    await waitUntil(async () => (await metric(standby, 'bluegreen_guard_watcher_cycle_duration_seconds_count')) >= cyclesBefore + 3, {
      timeoutMs: 10_000,
      description: 'three cycles by the new leader',
    });
    expect(await metric(standby, 'bluegreen_guard_watcher_rollbacks_total', '{outcome="rolled-back"}')).toBe(0);
    const events = await cp.kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=reviews,reason=RolledBack', '-o', 'jsonpath={.items[*].reason}']);
    expect(events.stdout).toBe('RolledBack');
  }, 90_000);
});
