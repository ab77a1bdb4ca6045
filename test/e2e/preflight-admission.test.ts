// Acceptance 1: the runbook's pre-deployment checklist, enforced on a real
// `kubectl apply`. The webhook runs as its own process (bin/bluegreen-guard
// webhook) under the chart's ServiceAccount and RBAC; the API server calls it
// over TLS through the chart's ValidatingWebhookConfiguration (caBundle from
// certs/make-certs.sh, serving certificate with SAN IP:127.0.0.1). Every
// verdict is checked twice: `kubectl apply --dry-run=server` first, then the
// real apply, and both must agree.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { RuleId } from '../../src/webhook/verdict.js';
import type { Scene } from '../support/stage-scene.js';
import { startStage, type Stage } from '../support/stage.js';

// Generous: the machine may be loaded; every wait inside is on a condition.
jest.setTimeout(180_000);

let stage: Stage;

beforeAll(async () => {
  stage = await startStage({ watchers: 0 });
}, 600_000);

afterAll(async () => {
  await stage?.stop();
}, 120_000);

async function storedVersion(scene: Scene): Promise<string | undefined> {
  return (await scene.readVirtualService()).metadata.resourceVersion;
}

/** Dry-run, then the real apply: both refused by the webhook with the rule's message; nothing stored. */
async function expectRefused(scene: Scene, manifest: string, rule: RuleId, message: RegExp): Promise<void> {
  const before = await storedVersion(scene);
  const verdicts: string[] = [];
  for (const dryRun of [true, false]) {
    const result = await scene.apply(manifest, { dryRun });
    expect({ dryRun, code: result.code }).toEqual({ dryRun, code: 1 });
    verdicts.push(result.stderr.slice(result.stderr.indexOf('denied the request')));
    expect(result.stderr).toContain(`admission webhook "${stage.chart.webhookName}" denied the request`);
    expect(result.stderr).toContain(`[${rule}]`);
    expect(result.stderr).toMatch(message);
  }
  // The dry run's verdict is the real one, word for word.
  expect(verdicts[0]).toBe(verdicts[1]);
  expect(await storedVersion(scene)).toBe(before);
}

/** Lines kubectl prints for the webhook's warnings (rules in `warn` mode), which admit the change. */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('Warning: '));
}

/** Dry-run, then the real apply: both admitted, with the same warnings (returned). */
async function expectAdmitted(scene: Scene, manifest: string): Promise<string[]> {
  const dry = await scene.apply(manifest, { dryRun: true });
  expect({ code: dry.code, errors: dry.stderr.split('\n').filter((l) => l && !l.startsWith('Warning: ')) }).toEqual({ code: 0, errors: [] });
  expect(dry.stdout).toContain('(server dry run)');
  const real = await scene.apply(manifest);
  expect({ code: real.code, errors: real.stderr.split('\n').filter((l) => l && !l.startsWith('Warning: ')) }).toEqual({ code: 0, errors: [] });
  expect(warnings(real.stderr)).toEqual(warnings(dry.stderr));
  return warnings(real.stderr);
}

describe('Pre-Deployment Checklist: kubectl apply of a change that skips preflight is refused with the rule\'s message', () => {
  it('Traffic Management, "VirtualService configured with named subsets": a route to a subset the DestinationRule lacks is refused (subset-exists)', async () => {
    const scene = await stage.seed({ namespacePrefix: 'missing-subset' });
    await expectRefused(
      scene,
      scene.virtualService({ green: 100, blue: 0 }),
      'subset-exists',
      new RegExp(`no DestinationRule for that host defines subset blue .*Fix: add subset blue to DestinationRule ${scene.namespace}/reviews`),
    );
    expect(await scene.primaryWeights()).toEqual({ green: 100 });
  });

  it('Traffic Management, "initial traffic weight set to 0% for new version": a new subset straight at 50 % is refused (zero-start)', async () => {
    const scene = await stage.seed({ namespacePrefix: 'straight-to-50' });
    await expectAdmitted(scene, scene.destinationRule());
    await expectRefused(scene, scene.virtualService({ green: 50, blue: 50 }), 'zero-start', /adds subset blue of \S+ to http\[1\] "primary" at 50%; a new subset must enter a route at weight 0/);
    expect(await scene.primaryWeights()).toEqual({ green: 100 });
  });

  it('Critical, "v2 pods are running and ready": a cutover to pods that are not Ready is refused (pods-ready)', async () => {
    const scene = await stage.seed({ namespacePrefix: 'unready', v2: { ready: false } });
    await expectAdmitted(scene, scene.destinationRule());
    await expectAdmitted(scene, scene.virtualService({ green: 100, blue: 0 }));
    await expectRefused(scene, scene.virtualService({ green: 0, blue: 100 }), 'pods-ready', /pod reviews-v2-\S+ is not Ready: container reviews is running but not Ready \(its readinessProbe fails\).*Fix: check the readinessProbe .*then wait until/);
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
  });

  it('"Readiness and liveness probes configured and passing for v2": a cutover to probe-less pods is refused (probes)', async () => {
    const scene = await stage.seed({ namespacePrefix: 'no-probes', v2: { probes: false } });
    await expectAdmitted(scene, scene.destinationRule());
    await expectAdmitted(scene, scene.virtualService({ green: 100, blue: 0 }));
    await expectRefused(scene, scene.virtualService({ green: 0, blue: 100 }), 'probes', /reviews-v2 has containers without probes: reviews \(no readinessProbe, no livenessProbe\)/);
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
  });
});

describe('Deployment Procedure: the seed\'s correct sequence is admitted step by step', () => {
  it('Deploy v2 ready with probes → DestinationRule with blue and green → VirtualService blue=0 → blue=100', async () => {
    const scene = await stage.seed({ namespacePrefix: 'cutover', v2: false });
    // Steps 1 and 2: v2 deployed, its pods Ready (what `kubectl wait` waits for).
    await scene.deployV2({ ready: true, probes: true });
    await expectAdmitted(scene, scene.destinationRule());
    await expectAdmitted(scene, scene.virtualService({ green: 100, blue: 0 }));
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
    // Critical: "Prometheus metrics endpoints exposed and scraped for v2" (Prometheus scrapes every second here).
    await scene.waitUntilScraped();
    // Step 3: Apply Istio Traffic Shift (100% to Blue). Best Practices' "use canary first" is a warning by default.
    const warned = await expectAdmitted(scene, scene.virtualService({ green: 0, blue: 100 }));
    expect(warned.filter((w) => w.includes('[canary-first]'))).toEqual([expect.stringMatching(/raises subset blue of \S+ from 0% to 100% .* without a canary step/)]);
    expect(await scene.primaryWeights()).toEqual({ green: 0, blue: 100 });
  });
});

describe('Rollback Procedure: "Revert Traffic to Green (v1)" is never blocked', () => {
  it('admits the rollback to green while blue\'s pods are failing, and still refuses a new cutover to them', async () => {
    const scene = await stage.seed({ namespacePrefix: 'rollback' });
    await scene.cutOver();
    expect(await scene.primaryWeights()).toEqual({ green: 0, blue: 100 });
    await scene.setV2Ready(false);

    await expectAdmitted(scene, scene.virtualService({ green: 100, blue: 0 }));
    expect(await scene.primaryWeights()).toEqual({ green: 100, blue: 0 });
    // The webhook knew blue was failing when it admitted the rollback: the way back is refused.
    await expectRefused(scene, scene.virtualService({ green: 0, blue: 100 }), 'pods-ready', /is not Ready: container reviews is running but not Ready/);
  });
});
