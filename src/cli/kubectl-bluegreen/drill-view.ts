// What `kubectl bluegreen drill` prints: the drill's report, step by step,
// against the runbook's "rollback within 2 minutes".
import type { DrillReport } from '../../watcher/drill.js';

const seconds = (ms: number | null): string => (ms === null ? 'not seen' : `${(ms / 1000).toFixed(1)} s`);

export function renderDrill(r: DrillReport, maxRollbackSeconds: number): string {
  const lines = [`Drill:       ${r.id} (${r.trigger === 'request' ? 'on request' : 'scheduled'}): ${r.outcome.toUpperCase()}`, `Name:        ${r.namespace}/${r.name}`];
  if (r.reason) lines.push(`Why:         ${r.reason}`);
  if (r.times.raise !== null) {
    lines.push(
      `Raise:       ${r.raised}  (admitted by the webhook in ${seconds(r.times.raise)})`,
      `Traffic:     reached ${r.candidateSubset ?? '?'} after ${seconds(r.times.trafficToCandidate)} (Prometheus)`,
    );
  }
  if (r.times.rollback !== null) {
    lines.push(
      `Rollback:    to ${r.stableSubset}, patched and verified in ${seconds(r.times.rollback)}; traffic gone from ${r.candidateSubset ?? '?'} after ${seconds(r.times.trafficBack)}`,
      `             rollback ${r.rollbackSeconds === null ? 'not confirmed' : `${r.rollbackSeconds.toFixed(1)} s`} against the runbook's ${maxRollbackSeconds} s: ${r.rollbackSeconds !== null && r.rollbackSeconds <= maxRollbackSeconds ? 'within' : 'OVER'}`,
      `Alert:       ${r.alertDelivered === null ? 'not sent' : r.alertDelivered ? 'taken by Alertmanager' : 'NOT taken by Alertmanager'}`,
      `Restore:     weights and annotations as before in ${seconds(r.times.restore)}`,
    );
  }
  lines.push(`Total:       ${seconds(r.times.total)} (${r.startedAt} → ${r.finishedAt})`);
  return `${lines.join('\n')}\n`;
}
