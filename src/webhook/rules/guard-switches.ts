// The guard's own switches are protected like break-glass. In a guarded
// namespace, turning the guard off for an object (`bluegreen-guard.io/guard`
// set to anything but `enabled`) or creating a VirtualService that names its
// own stable subset (`bluegreen-guard.io/stable-subset` on CREATE, which would
// make the record it is judged by its own) is honoured only from the
// break-glass groups. Otherwise anyone who may edit a VirtualService could
// switch the guard off in the same apply as a bad cutover.
import { GUARD_ANNOTATION, STABLE_SUBSET } from '../../istio/annotations.js';
import type { RulesConfig } from '../rules-config.js';
import type { ReviewInput } from '../verdict.js';
import { breakGlassGroupOf } from './break-glass.js';

/** Audit annotation keys (the API server prefixes them with the webhook's name). */
export const AUDIT_GUARD_SWITCH = 'guard-switch';
export const AUDIT_GUARD_SWITCH_USER = 'guard-switch-user';

export type GuardSwitchVerdict =
  | { kind: 'none' }
  | { kind: 'honoured'; switches: string[]; group: string }
  | { kind: 'refused'; switches: string[]; message: string };

/** The switches this change sets, each as `annotation: value`. */
export function guardSwitches(input: ReviewInput): string[] {
  const object = input.object;
  if (!object || (object.kind !== 'VirtualService' && object.kind !== 'DestinationRule')) return [];
  const now = object.metadata.annotations ?? {};
  const before = input.oldObject?.metadata.annotations ?? {};
  const switches: string[] = [];
  const guard = now[GUARD_ANNOTATION];
  if (guard !== undefined && guard !== 'enabled' && guard !== before[GUARD_ANNOTATION]) switches.push(`${GUARD_ANNOTATION}: ${guard}`);
  const stable = now[STABLE_SUBSET];
  if (input.operation === 'CREATE' && object.kind === 'VirtualService' && stable !== undefined) switches.push(`${STABLE_SUBSET}: ${stable}`);
  return switches;
}

/** `namespaceGuarded`: the namespace's own opt-in, whatever the object's annotations say. */
export function judgeGuardSwitches(input: ReviewInput, namespaceGuarded: boolean, config: RulesConfig): GuardSwitchVerdict {
  if (!namespaceGuarded || config.watcherUsernames.includes(input.requester.username)) return { kind: 'none' };
  const switches = guardSwitches(input);
  if (switches.length === 0) return { kind: 'none' };
  const group = breakGlassGroupOf(input.requester, config);
  if (group !== undefined) return { kind: 'honoured', switches, group };
  const { namespace, name } = input.object!.metadata;
  const who =
    config.breakGlassGroups.length > 0
      ? `only members of the break-glass groups (${config.breakGlassGroups.join(', ')}) may set it, and ${input.requester.username || 'this user'} is in none`
      : 'nobody may set it here: no break-glass groups are configured (rules.breakGlassGroups)';
  return {
    kind: 'refused',
    switches,
    message:
      `${input.object!.kind} ${namespace}/${name} sets ${switches.join(' and ')}, a switch of the guard itself in a guarded namespace; ${who}. ` +
      `Fix: remove the annotation from the change, or ask a member of those groups to apply it (each use is audited).`,
  };
}
