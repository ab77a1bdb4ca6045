/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) */
// `bluegreen-guard preflight` end to end: the built command, spawned through
// bin/bluegreen-guard as a user or a CI pipeline runs it, on fixture files.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PreflightReport } from '../../src/cli/preflight.js';
import { ensureCliBuilt, runCli, type CliResult } from '../support/built-cli.js';
import { review } from '../../src/webhook/review.js';
import { judgeAdmission, slimAdmittedWorkload } from '../../src/webhook/workload-review.js';
import { defaultRulesConfig } from '../../src/webhook/rules-config.js';
import { clone, find, FIXTURES, one, primaryTo, shopObjects, stateOf, update, vs } from './rules/world.js';

const SHOP = join(FIXTURES, 'shop');
const STATE = ['--state', join(SHOP, 'state.yaml'), '--state', join(SHOP, 'vs-current.yaml')];

/** bin/bluegreen-guard preflight, spawned as a user or a CI pipeline runs it. */
const preflight = (...args: string[]) => runCli(['preflight', ...args]);
const report = (r: CliResult) => JSON.parse(r.stdout) as PreflightReport;

let dir: string;
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'preflight-'));
  await ensureCliBuilt(); // `npm run build` when dist/ is missing or older than src/
}, 300_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('bluegreen-guard preflight', () => {
  it('allows the canary step (exit 0) and prints exactly {allowed, findings} as JSON', async () => {
    const r = await preflight('--file', join(SHOP, 'vs-canary.yaml'), '--old', join(SHOP, 'vs-current.yaml'), ...STATE, '--output', 'json');
    expect(r.code).toBe(0);
    const json = report(r);
    expect(Object.keys(json)).toEqual(['allowed', 'findings']);
    expect(json.allowed).toBe(true);
    expect(json.findings).toHaveLength(1);
    expect(Object.keys(json.findings[0] ?? {})).toEqual(['rule', 'severity', 'object', 'message']);
    expect(json.findings[0]).toMatchObject({ rule: 'metrics-scraped', severity: 'warn', object: 'VirtualService/shop/web' });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('denies a mirror typo (exit 1) with the rule, the object and the fix', async () => {
    const r = await preflight('--file', join(SHOP, 'vs-mirror-typo.yaml'), '--old', join(SHOP, 'vs-current.yaml'), ...STATE, '--output', 'json');
    expect(r.code).toBe(1);
    expect(report(r)).toEqual({
      allowed: false,
      findings: [
        {
          rule: 'subset-exists',
          severity: 'deny',
          object: 'VirtualService/shop/web',
          message:
            'VirtualService shop/web mirrors http[2] "primary" to subset bleu of web.shop.svc.cluster.local, but no DestinationRule for that host defines subset bleu (looked in shop, istio-system): ' +
            'DestinationRule shop/web, which Istio applies to that host, defines only green, blue. Fix: add subset bleu to DestinationRule shop/web, or route to an existing subset.',
        },
      ],
    });
  });

  it("reads Jobs from --state as 'kubectl get jobs -o yaml' prints them, and denies the canary step while v2's migration runs", async () => {
    const jobs = join(FIXTURES, 'checklist', 'jobs.yaml');
    const r = await preflight('--file', join(SHOP, 'vs-canary.yaml'), '--old', join(SHOP, 'vs-current.yaml'), ...STATE, '--state', jobs, '--output', 'json');
    expect(r.code).toBe(1);
    expect(report(r).findings.filter((f) => f.rule === 'jobs').map((f) => [f.severity, f.message.split(' (labelled')[0]?.split(', but ')[1]])).toEqual([
      ['deny', 'migration Job shop/web-v2-migrate is still running (1 active pod)'],
      ['deny', 'Job shop/web-reindex is still running (1 active pod)'],
    ]);
  });

  it('denies removing a subset a VirtualService from another --state file still names', async () => {
    const old = file('dr-web.yaml', find(shopObjects(), 'DestinationRule', 'shop', 'web'));
    const r = await preflight('--file', join(SHOP, 'dr-web-without-blue.yaml'), '--old', old, ...STATE, '--output', 'json');
    expect(r.code).toBe(1);
    expect(report(r).findings.map((f) => [f.rule, f.severity, f.object])).toEqual([['subset-in-use', 'deny', 'DestinationRule/shop/web']]);
  });

  it('prints findings and a summary as text by default', async () => {
    const next = one('shop/vs-current.yaml');
    primaryTo(50)(next);
    const r = await preflight('--file', file('vs-50.yaml', next), '--old', join(SHOP, 'vs-current.yaml'), ...STATE);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('WARN  canary-first  VirtualService/shop/web\n      VirtualService shop/web raises subset blue of web.shop.svc.cluster.local from 0% to 50%');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('allowed: 0 denials, 2 warnings');
  });

  it('reads --config and --root-namespace', async () => {
    const next = one('shop/vs-current.yaml');
    primaryTo(50)(next);
    const config = file('rules.yaml', 'modes:\n  canary-first: deny\n');
    const strict = await preflight('--file', file('vs-50.yaml', next), '--old', join(SHOP, 'vs-current.yaml'), ...STATE, '--config', config, '--output', 'json');
    expect(strict.code).toBe(1);
    expect(report(strict).findings.filter((f) => f.severity === 'deny').map((f) => f.rule)).toEqual(['canary-first']);
    // The webhook's config file works too: its rules: section is read.
    const webhookFile = file('webhook.yaml', 'logLevel: info\nrules:\n  modes:\n    canary-first: deny\n');
    const same = await preflight('--file', join(dir, 'vs-50.yaml'), '--old', join(SHOP, 'vs-current.yaml'), ...STATE, '--config', webhookFile, '--output', 'json');
    expect(report(same)).toEqual(report(strict));
    // With another root namespace, payments' DestinationRule (in istio-system) is no longer found.
    const elsewhere = await preflight('--file', join(SHOP, 'vs-canary.yaml'), '--old', join(SHOP, 'vs-current.yaml'), ...STATE, '--root-namespace', 'mesh-root', '--output', 'json');
    expect(elsewhere.code).toBe(1);
    expect(report(elsewhere).findings.map((f) => f.message)).toContainEqual(expect.stringContaining('(looked in shop, pay, mesh-root)'));
  });

  it('gives the same verdict as the rule core the webhook runs, for the same inputs', async () => {
    const objects = shopObjects();
    delete find(objects, 'Deployment', 'shop', 'web-v2').spec.template.spec.containers[0].livenessProbe;
    const next = one('shop/vs-current.yaml');
    primaryTo(100)(next);
    const r = await preflight('--file', file('vs-100.yaml', next), '--old', join(SHOP, 'vs-current.yaml'), '--state', file('state-probeless.yaml', { apiVersion: 'v1', kind: 'List', items: objects }), '--output', 'json');
    const inProcess = review(update(vs(one('shop/vs-current.yaml')), vs(clone(next)), { username: 'preflight', groups: [] }), stateOf(objects), defaultRulesConfig());
    expect(r.code).toBe(1);
    expect(report(r)).toEqual({ allowed: inProcess.allowed, findings: inProcess.findings });
    expect(inProcess.findings.map((f) => f.rule)).toContain('probes');
  });

  it('judges a Deployment as the webhook does: a version-label typo is denied (exit 1) with both workloads and the label to fix', async () => {
    const current = find(shopObjects(), 'Deployment', 'shop', 'web-v2');
    const typo = clone(current);
    typo.spec.template.metadata.labels = { app: 'web', version: 'v1' };
    typo.spec.selector.matchLabels = { app: 'web', version: 'v1' };
    const r = await preflight('--file', file('web-v2-typo.yaml', typo), '--old', file('web-v2.yaml', current), ...STATE, '--output', 'json');
    const asWebhook = judgeAdmission(
      { operation: 'UPDATE', object: slimAdmittedWorkload(clone(typo)), oldObject: slimAdmittedWorkload(clone(current)), dryRun: true, requester: { username: 'preflight', groups: [] } },
      stateOf(shopObjects()),
      defaultRulesConfig(),
    );
    expect(r.code).toBe(1);
    expect(report(r)).toEqual({ allowed: false, findings: asWebhook.findings });
    expect(asWebhook.findings).toEqual([expect.objectContaining({ rule: 'version-labels', severity: 'deny', object: 'Deployment/shop/web-v2' })]);
    expect(asWebhook.findings[0]?.message).toMatch(/beside Deployment shop\/web-v1's.*Fix: set version: v2 in the pod template of Deployment shop\/web-v2/);
  });

  it.each<[string, () => string[], string]>([
    ['a missing --file', () => ['--file', join(dir, 'nope.yaml')], 'nope.yaml: cannot read the file (ENOENT).'],
    ['YAML that does not parse', () => ['--file', file('bad.yaml', 'kind: VirtualService\nmetadata: {name: web\n')], 'bad.yaml: document 1 is not valid YAML'],
    ['an object of a kind it does not judge', () => ['--file', file('rs.yaml', find(shopObjects(), 'ReplicaSet', 'shop', 'web-v1-6b7f9c4d8'))], 'rs.yaml: --file is a ReplicaSet (apps/v1); preflight judges networking.istio.io VirtualServices and DestinationRules, apps/v1 Deployments and v1 Pods and Services.'],
    ['several objects in --file', () => ['--file', join(SHOP, 'state.yaml')], '--file must hold exactly one VirtualService, DestinationRule, Deployment, Pod or Service, found 25 objects.'],
    ['--old naming another object', () => ['--file', join(SHOP, 'vs-canary.yaml'), '--old', file('other.yaml', { ...one('shop/vs-current.yaml'), metadata: { name: 'other', namespace: 'shop' } })], '--old is VirtualService shop/other but --file is VirtualService shop/web'],
    ['a missing --state file', () => ['--file', join(SHOP, 'vs-canary.yaml'), '--state', join(dir, 'gone.yaml')], 'gone.yaml: cannot read the file (ENOENT).'],
    ['a state document that is not an object', () => ['--file', join(SHOP, 'vs-canary.yaml'), '--state', file('scalar.yaml', '--- 42\n')], 'scalar.yaml: document 1 is not a Kubernetes object'],
    ['an invalid rules config', () => ['--file', join(SHOP, 'vs-canary.yaml'), '--config', file('bad-rules.yaml', 'modes:\n  probes: warm\n')], "rules config: modes.probes is 'warm'. Fix: set it to one of deny, warn, off."],
    ['an unknown option', () => ['--file', join(SHOP, 'vs-canary.yaml'), '--olde', 'x'], "Unknown option '--olde'"],
    ['a bad --output', () => ['--file', join(SHOP, 'vs-canary.yaml'), '--output', 'yaml'], "--output must be json or text, not 'yaml'."],
    ['no --file', () => [], '--file is required'],
  ])('exits 2 on %s, with the reason on stderr and nothing on stdout', async (_what, args, reason) => {
    const r = await preflight('--output', 'json', ...args());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(reason);
  });
});
