// metrics-scraped: Prometheus scrapes the candidate's pods (`up == 1`) before
// it gets traffic (critical checklist line). Active only with a ScrapeStatus;
// without one the rule says it was skipped, and an unknown answer
// (Prometheus unreachable) is reported at the rule's mode, never passed.
import { nextStep, promotionNote, raisedCandidates, routingSentence, subsetName } from './change.js';
import type { VsRuleInput } from './context.js';
import type { Issue } from './issue.js';
import { podList } from './pods-text.js';

export function checkMetricsScraped({ vs, object, name, change, lookup, scrape }: VsRuleInput): Issue[] {
  const candidates = raisedCandidates(change);
  if (candidates.length === 0) return [];
  if (!scrape) {
    return [
      {
        rule: 'metrics-scraped',
        object,
        advisory: true,
        message:
          `metrics-scraped was skipped: no Prometheus is configured, so nothing shows that Prometheus scrapes ${candidates.map(subsetName).join(', ')} before it gets traffic. ` +
          `Fix: configure a Prometheus URL (preflight: --prometheus URL).`,
      },
    ];
  }
  const issues: Issue[] = [];
  for (const s of candidates) {
    const backend = lookup.backendFor(s, vs.metadata.namespace);
    if (backend.kind !== 'pods' || backend.pods.length === 0) continue;
    const down = backend.pods.filter((p) => scrape.podScraped(p.metadata.namespace, p.metadata.name) === false);
    const unknown = backend.pods.filter((p) => scrape.podScraped(p.metadata.namespace, p.metadata.name) === undefined);
    if (down.length > 0) {
      issues.push({
        rule: 'metrics-scraped',
        object,
        message:
          `${routingSentence(name, s)}, but Prometheus does not scrape pods ${podList(down)} (no target with up == 1). ` +
          `Fix: expose the metrics endpoint and make sure Prometheus scrapes version ${s.subset} (check its targets page), then ${nextStep(s)}.` +
          promotionNote(s),
      });
    }
    if (unknown.length > 0) {
      issues.push({
        rule: 'metrics-scraped',
        object,
        message:
          `${routingSentence(name, s)}, but whether Prometheus scrapes pods ${podList(unknown)} is unknown (Prometheus unreachable or not yet asked). ` +
          `Fix: make Prometheus reachable from bluegreen-guard and retry.` +
          promotionNote(s),
      });
    }
  }
  return issues;
}
