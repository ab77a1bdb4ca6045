/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- tests edit raw API objects (untyped JSON) in place */
// jobs: a migration Job of the candidate's version must have succeeded before its
// share rises; a blocking Job of the service holds every cutover while it runs.
// Jobs as `kubectl get jobs -o yaml` prints them (test/fixtures/checklist/jobs.yaml).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { slimJob } from '../../../src/cluster/slim.js';
import { review } from '../../../src/webhook/review.js';
import { defaultRulesConfig, parseRulesConfig, type RulesConfig } from '../../../src/webhook/rules-config.js';
import { clone, currentAndEdited, fixture, FIXTURES, primaryTo, setWeights, shopObjects, stateOf, update, vs, type Json } from './world.js';

const STATUSES = parse(readFileSync(`${FIXTURES}checklist/job-statuses.yaml`, 'utf8')) as Record<string, Json>;
const CANARY = 'VirtualService shop/web routes traffic to subset blue of web.shop.svc.cluster.local (100% in http[0] "testers", 1% in http[2] "primary"), but ';

type JobStates = Partial<Record<'web-v2-migrate' | 'web-reindex' | 'payments-backfill', 'running' | 'succeeded' | 'failed' | 'suspended' | 'absent'>>;

/** The shop world plus the three Jobs, each in the status named (default: as in jobs.yaml, all running). */
function world(states: JobStates, edit: (jobs: Json[]) => void = () => {}): Json[] {
  const jobs = fixture('checklist/jobs.yaml').filter((j) => states[j.metadata.name as keyof JobStates] !== 'absent');
  for (const j of jobs) {
    const s = states[j.metadata.name as keyof JobStates];
    if (s !== undefined && s !== 'absent') j.status = clone(STATUSES[s]);
    if (s === 'suspended') j.spec.suspend = true;
  }
  edit(jobs);
  return [...shopObjects(), ...jobs];
}

function canary(objects: Json[], config: RulesConfig = defaultRulesConfig()) {
  const { old, next } = currentAndEdited(primaryTo(1));
  return review(update(old, next), stateOf(objects), config);
}

const jobsFindings = (objects: Json[], config?: RulesConfig) => canary(objects, config).findings.filter((f) => f.rule === 'jobs');

const MIGRATION_RUNNING =
  `${CANARY}migration Job shop/web-v2-migrate is still running (1 active pod) (labelled app=web, version=v2, annotated bluegreen-guard.io/before-cutover: "true": it must succeed before v2 gets traffic). ` +
  "Fix: wait for it with 'kubectl wait --for=condition=complete job/web-v2-migrate -n shop', then raise the weight.";
const REINDEX_RUNNING =
  `${CANARY}Job shop/web-reindex is still running (1 active pod) (labelled app=web, annotated bluegreen-guard.io/blocks-cutover: "true": no cutover of web while it runs). ` +
  "Fix: wait for it with 'kubectl wait --for=condition=complete job/web-reindex -n shop', then raise the weight.";

describe('jobs', () => {
  it.each<[string, JobStates, string[]]>([
    ['no Jobs at all', { 'web-v2-migrate': 'absent', 'web-reindex': 'absent', 'payments-backfill': 'absent' }, []],
    ['the migration succeeded and the reindex finished', { 'web-v2-migrate': 'succeeded', 'web-reindex': 'succeeded' }, []],
    ["only another service's backfill running", { 'web-v2-migrate': 'succeeded', 'web-reindex': 'absent' }, []],
    ['the migration still running', { 'web-reindex': 'absent' }, [MIGRATION_RUNNING]],
    ['the blocking reindex running', { 'web-v2-migrate': 'succeeded' }, [REINDEX_RUNNING]],
    ['both running', {}, [MIGRATION_RUNNING, REINDEX_RUNNING]],
    [
      'the migration failed',
      { 'web-v2-migrate': 'failed', 'web-reindex': 'absent' },
      [
        `${CANARY}migration Job shop/web-v2-migrate failed (BackoffLimitExceeded: Job has reached the specified backoff limit) (labelled app=web, version=v2, annotated bluegreen-guard.io/before-cutover: "true": it must succeed before v2 gets traffic). ` +
          "Fix: read 'kubectl logs job/web-v2-migrate -n shop', fix the migration and run it again (a new Job, or delete and re-create this one) until it succeeds, then raise the weight.",
      ],
    ],
    [
      'the blocking reindex suspended',
      { 'web-v2-migrate': 'succeeded', 'web-reindex': 'suspended' },
      [
        `${CANARY}Job shop/web-reindex is suspended (labelled app=web, annotated bluegreen-guard.io/blocks-cutover: "true": no cutover of web while it runs). ` +
          "Fix: wait for it with 'kubectl wait --for=condition=complete job/web-reindex -n shop', then raise the weight.",
      ],
    ],
  ])('with %s', (_what, states, messages) => {
    const findings = jobsFindings(world(states));
    expect(findings.map((f) => f.message)).toEqual(messages);
    expect(findings.every((f) => f.severity === 'deny' && f.object === 'VirtualService/shop/web')).toBe(true);
  });

  it("ignores a running migration of another version, and a Job that is not annotated as one", () => {
    const objects = world({ 'web-reindex': 'absent' }, (jobs) => {
      const migrate = jobs.find((j) => j.metadata.name === 'web-v2-migrate') as Json;
      const v1 = clone(migrate);
      v1.metadata.name = 'web-v1-migrate';
      v1.metadata.labels.version = 'v1';
      delete migrate.metadata.annotations;
      jobs.push(v1);
    });
    expect(jobsFindings(objects)).toEqual([]);
  });

  it('reads the label keys from the config, and finds the version on the pods when the selector lacks the key', () => {
    const config = parseRulesConfig({ jobLabels: { version: 'app.kubernetes.io/version' } });
    const objects = world({ 'web-reindex': 'absent' }, (jobs) => {
      const migrate = jobs.find((j) => j.metadata.name === 'web-v2-migrate') as Json;
      migrate.metadata.labels = { app: 'web', 'app.kubernetes.io/version': '2.0.0' };
    });
    for (const pod of objects.filter((o) => o.kind === 'Pod' && o.metadata.labels?.version === 'v2')) pod.metadata.labels['app.kubernetes.io/version'] = '2.0.0';
    expect(jobsFindings(objects, config).map((f) => f.message)).toEqual([
      `${CANARY}migration Job shop/web-v2-migrate is still running (1 active pod) (labelled app=web, app.kubernetes.io/version=2.0.0, annotated bluegreen-guard.io/before-cutover: "true": it must succeed before 2.0.0 gets traffic). ` +
        "Fix: wait for it with 'kubectl wait --for=condition=complete job/web-v2-migrate -n shop', then raise the weight.",
    ]);
    expect(jobsFindings(objects)).toEqual([]);
  });

  it('warns instead when the namespace sets jobs=warn', () => {
    const objects = world({ 'web-v2-migrate': 'succeeded' });
    const ns = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === 'shop') as Json;
    ns.metadata.annotations = { ...ns.metadata.annotations, 'bluegreen-guard.io/rules': 'jobs=warn' };
    const verdict = canary(objects);
    expect(verdict.findings.filter((f) => f.rule === 'jobs').map((f) => f.severity)).toEqual(['warn']);
  });

  it('never blocks a rollback to green, whatever runs', () => {
    const raw = clone(fixture('shop/vs-current.yaml')[0] as Json);
    const switched = setWeights(clone(raw), 'http', 'primary', { green: 50, blue: 50 });
    const back = setWeights(clone(switched), 'http', 'primary', { green: 100, blue: 0 });
    const verdict = review(update(vs(switched), vs(back)), stateOf(world({ 'web-v2-migrate': 'failed' })), defaultRulesConfig());
    expect(verdict.allowed).toBe(true);
    expect(verdict.findings.filter((f) => f.rule === 'jobs')).toEqual([]);
  });

  it("slims a Job to its labels (not the job controller's), its role and its outcome", () => {
    const [migrate] = fixture('checklist/jobs.yaml');
    expect(slimJob({ ...migrate, status: STATUSES.failed })).toEqual({
      kind: 'Job',
      metadata: { name: 'web-v2-migrate', namespace: 'shop', resourceVersion: '5101', labels: { app: 'web', version: 'v2' } },
      beforeCutover: true,
      blocksCutover: false,
      outcome: 'failed',
      active: 0,
      succeeded: 0,
      failed: 3,
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
  });
});
