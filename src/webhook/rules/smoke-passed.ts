// smoke-passed (checklist: "smoke test suite available and passes"): a
// cutover of a revision needs a passing pre-traffic smoke test of that very
// revision, which the watcher runs while the candidate is at 0 % and records
// on the VirtualService. A result for other pods (an older revision) does not count.
import { SMOKE_RESULT } from '../../istio/annotations.js';
import { revisionKey, revisionOfPod } from '../../istio/rollback-latch.js';
import { parseSmokeRecords } from '../../istio/smoke-result.js';
import { nextStep, raisedCandidates, routingSentence } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { isActive } from './subset-backend.js';

export function checkSmokePassed({ vs, object, name, change, lookup, config }: VsRuleInput): Issue[] {
  const records = parseSmokeRecords(vs.metadata.annotations?.[SMOKE_RESULT]);
  if (records.length === 0 && !config.requireSmokeTest) return [];
  const issues: Issue[] = [];
  for (const s of raisedCandidates(change)) {
    // Smoke results are recorded per subset; every version behind a Service (a destination without subset, a delete) has none.
    if (s.allVersions) continue;
    const backend = lookup.backend(s.host, s.subset, vs.metadata.namespace);
    const revisions = backend.kind === 'pods' ? [...new Set(backend.pods.filter(isActive).flatMap((p) => { const r = revisionOfPod(p); return r ? [revisionKey(r)] : []; }))] : [];
    const record = records.find((r) => r.subset === s.subset);
    const how = `The watcher runs the smoke test (smokeTest.url, or the VirtualService's bluegreen-guard.io/smoke-test-url) while ${s.subset} is at 0 %: keep it at 0 % until a passing result is recorded in ${SMOKE_RESULT}${record ? ` (or run it by hand: curl -fsS ${record.url})` : ''}, then ${nextStep(s)}.`;
    let problem: string | undefined;
    if (!record) problem = 'no pre-traffic smoke test result is recorded for it';
    else if (record.outcome !== 'passed') problem = `its pre-traffic smoke test ${record.outcome === 'failed' ? 'failed' : 'could not run'} at ${record.at}: ${record.message}`;
    else if (revisions.some((r) => !record.revisions.includes(r))) problem = `the smoke test passed at ${record.at} for ${record.revisions.join(', ') || 'other pods'}, but its pods now run ${revisions.join(', ')}`;
    if (problem) issues.push({ rule: 'smoke-passed', object, message: `${routingSentence(name, s)}, but ${problem}. ${how}` });
  }
  return issues;
}
