// Break-glass: a `bluegreen-guard.io/break-glass: <reason>` annotation on the
// object lets members of the configured groups override denials. Every use,
// and every refused attempt, is returned as an audit annotation.
import { BREAK_GLASS } from '../../istio/annotations.js';
import type { Labels } from '../../istio/types.js';
import type { RulesConfig } from '../rules-config.js';
import type { Requester } from '../verdict.js';

/** Audit annotation keys (the API server prefixes them with the webhook's name). */
export const AUDIT_BREAK_GLASS_REASON = 'break-glass-reason';
export const AUDIT_BREAK_GLASS_USER = 'break-glass-user';
export const AUDIT_BREAK_GLASS_OVERRIDDEN = 'break-glass-overridden';
export const AUDIT_BREAK_GLASS_REFUSED = 'break-glass-refused';

export type BreakGlass =
  | { kind: 'absent' }
  | { kind: 'honoured'; reason: string; group: string }
  | { kind: 'refused'; reason: string; why: string };

export function breakGlass(annotations: Labels | undefined, requester: Requester, config: RulesConfig): BreakGlass {
  const value = annotations?.[BREAK_GLASS];
  if (value === undefined) return { kind: 'absent' };
  const reason = value.trim();
  if (reason === '') return { kind: 'refused', reason, why: `annotation ${BREAK_GLASS} has an empty reason; write why the override is needed` };
  if (config.breakGlassGroups.length === 0) return { kind: 'refused', reason, why: 'break-glass is not enabled (no break-glass groups are configured)' };
  const group = breakGlassGroupOf(requester, config);
  if (group === undefined) {
    return { kind: 'refused', reason, why: `user ${requester.username} is in none of the break-glass groups (${config.breakGlassGroups.join(', ')})` };
  }
  return { kind: 'honoured', reason, group };
}

/** The configured break-glass group the requester is in, if any. */
export function breakGlassGroupOf(requester: Requester, config: RulesConfig): string | undefined {
  return requester.groups.find((g) => config.breakGlassGroups.includes(g));
}
