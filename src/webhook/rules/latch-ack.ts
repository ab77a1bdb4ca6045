// Clearing the rollback latch: the same mechanism as break-glass. Only a
// member of the configured groups may remove or change the watcher's
// `rollback-latch` record, and only with a reason in `rollback-latch-ack`;
// every clear, and every refused attempt, becomes an audit annotation and a
// warning. So a GitOps re-apply cannot wipe the latch, and neither can a user
// who merely may edit the VirtualService.
import { ROLLBACK_LATCH, ROLLBACK_LATCH_ACK } from '../../istio/annotations.js';
import { parseLatch } from '../../istio/rollback-latch.js';
import type { VirtualService } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import type { Requester } from '../verdict.js';
import type { Issue } from './issue.js';

export const AUDIT_LATCH_CLEARED = 'rollback-latch-cleared';
export const AUDIT_LATCH_CLEARED_BY = 'rollback-latch-cleared-by';
export const AUDIT_LATCH_REFUSED = 'rollback-latch-clear-refused';

/** Who may clear a latch: latchAckGroups, or the break-glass groups when none are configured. */
export function latchAckGroups(config: Pick<RulesConfig, 'latchAckGroups' | 'breakGlassGroups'>): readonly string[] {
  return config.latchAckGroups.length > 0 ? config.latchAckGroups : config.breakGlassGroups;
}

export interface LatchEdit {
  issues: Issue[];
  audit: Record<string, string>;
}

/** Judges an UPDATE's edits of the latch and its acknowledgement. */
export function judgeLatchEdit(next: VirtualService, old: VirtualService, requester: Requester, config: RulesConfig, object: string): LatchEdit {
  const before = old.metadata.annotations ?? {};
  const after = next.metadata.annotations ?? {};
  const latchChanged = before[ROLLBACK_LATCH] !== after[ROLLBACK_LATCH];
  const ackChanged = before[ROLLBACK_LATCH_ACK] !== after[ROLLBACK_LATCH_ACK];
  if (!latchChanged && !ackChanged) return { issues: [], audit: {} };
  const name = `VirtualService ${next.metadata.namespace}/${next.metadata.name}`;
  const groups = latchAckGroups(config);
  const group = requester.groups.find((g) => groups.includes(g));
  const reason = (after[ROLLBACK_LATCH_ACK] ?? '').trim();
  const command = `bluegreen-guard ack ${next.metadata.name} -n ${next.metadata.namespace} --reason "<why it is safe>"`;
  const refuse = (why: string): LatchEdit => ({
    issues: [{ rule: 'rollback-latch', object, message: `${name}: ${why}. The watcher's latch keeps traffic off a revision it rolled back; only a member of ${groups.length > 0 ? groups.join(', ') : 'the latch-clearing groups (none are configured: set latchAckGroups or breakGlassGroups)'} may clear it, with a reason: ${command}.` }],
    audit: { [AUDIT_LATCH_REFUSED]: `${requester.username}: ${why}` },
  });
  if (group === undefined) {
    const edit = latchChanged ? (after[ROLLBACK_LATCH] === undefined ? `removes annotation ${ROLLBACK_LATCH}` : `changes annotation ${ROLLBACK_LATCH}`) : `sets annotation ${ROLLBACK_LATCH_ACK}`;
    return refuse(`this change ${edit}, and user ${requester.username} is in none of the groups that may clear a rollback latch`);
  }
  if (latchChanged && reason === '') return refuse(`this change clears the rollback latch without a reason; set annotation ${ROLLBACK_LATCH_ACK} to why it is safe`);
  const audit: Record<string, string> = {};
  const cleared = parseLatch(before[ROLLBACK_LATCH]);
  const what = cleared.ok ? cleared.entries.map((e) => `subset ${e.subset} of ${e.host} (rolled back ${e.at})`).join(', ') : 'a malformed record';
  if (latchChanged) {
    audit[AUDIT_LATCH_CLEARED] = reason;
    audit[AUDIT_LATCH_CLEARED_BY] = `${requester.username} (group ${group})`;
  }
  const issues: Issue[] = latchChanged
    ? [{ rule: 'rollback-latch', object, advisory: true, message: `${name}: rollback latch cleared by ${requester.username} (group ${group}): "${reason}". Traffic may go again to ${what === '' ? 'the revisions it named' : what}.` }]
    : [];
  return { issues, audit };
}
