// Rule modes for one review: the global config, overridden by the namespace's
// `bluegreen-guard.io/rules` annotation, overridden in turn by the object's.
// A malformed entry never disappears silently: it becomes an advisory issue
// and the mode it tried to set stays as inherited. The object's annotation
// may tighten a rule freely, but loosen it only with an override the object
// already carried, or in a change by a break-glass group member: otherwise
// any writer could switch a rule off in the very change it would deny.
import { RULE_MODES as RULE_MODES_ANNOTATION } from '../../istio/annotations.js';
import type { Labels } from '../../istio/types.js';
import { isRuleId, isRuleMode, type RulesConfig } from '../rules-config.js';
import { RULE_IDS, type Requester, type RuleId, type RuleMode } from '../verdict.js';
import { breakGlassGroupOf } from './break-glass.js';
import type { Issue } from './issue.js';

export type Modes = Readonly<Record<RuleId, RuleMode>>;

export interface ParsedModes {
  modes: Partial<Record<RuleId, RuleMode>>;
  /** One line per malformed entry: what is wrong with it. */
  problems: { rule: RuleId; problem: string }[];
}

/** Parse `canary-first=deny, probes=warn`. */
export function parseModesAnnotation(value: string): ParsedModes {
  const parsed: ParsedModes = { modes: {}, problems: [] };
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const id = (eq < 0 ? entry : entry.slice(0, eq)).trim();
    const mode = eq < 0 ? undefined : entry.slice(eq + 1).trim();
    if (!isRuleId(id)) {
      const near = nearestRuleId(id);
      parsed.problems.push({ rule: near, problem: `'${entry}' names no rule ('${id}'; did you mean ${near}?)` });
    } else if (mode === undefined) {
      parsed.problems.push({ rule: id, problem: `'${entry}' has no mode (write ${id}=deny, ${id}=warn or ${id}=off)` });
    } else if (!isRuleMode(mode)) {
      parsed.problems.push({ rule: id, problem: `'${entry}': '${mode}' is not a mode (use deny, warn or off)` });
    } else {
      parsed.modes[id] = mode;
    }
  }
  return parsed;
}

export interface ModeSource {
  /** How messages name the holder, e.g. `Namespace shop`, `VirtualService shop/web`. */
  name: string;
  annotations: Labels | undefined;
}

export interface ObjectModeSource extends ModeSource {
  /** The object's annotations before the change; undefined on a CREATE. */
  before: Labels | undefined;
}

export interface ResolvedModes {
  modes: Modes;
  /** Malformed entries, advisory. */
  issues: Issue[];
  /** Loosening entries of the object's annotation that are not honoured; reported at the rule's inherited mode. */
  refused: Issue[];
  /** The refused entries as written (`probes=off`), for the audit log. */
  ignored: string[];
}

const STRICTNESS: Readonly<Record<RuleMode, number>> = { off: 0, warn: 1, deny: 2 };

/** Effective modes for a review of `object` (reported on) requested by `requester`. */
export function resolveModes(config: RulesConfig, namespace: ModeSource, own: ObjectModeSource, object: string, requester: Requester): ResolvedModes {
  const modes: Record<RuleId, RuleMode> = { ...config.modes };
  const inheritedFrom: Partial<Record<RuleId, string>> = {};
  const issues: Issue[] = [];
  for (const [rule, mode] of modeEntries(parsedSource(namespace, object, issues))) {
    modes[rule] = mode;
    inheritedFrom[rule] = namespace.name;
  }
  const before = parseModesAnnotation(own.before?.[RULE_MODES_ANNOTATION] ?? '').modes;
  const mayLoosen = breakGlassGroupOf(requester, config) !== undefined;
  const refused: Issue[] = [];
  const ignored: string[] = [];
  for (const [rule, mode] of modeEntries(parsedSource(own, object, issues))) {
    const inherited = modes[rule];
    const prior = before[rule];
    const loosens = STRICTNESS[mode] < STRICTNESS[inherited];
    if (!loosens || mayLoosen || (prior !== undefined && STRICTNESS[prior] <= STRICTNESS[mode])) {
      modes[rule] = mode;
      continue;
    }
    ignored.push(`${rule}=${mode}`);
    const reason =
      own.before === undefined
        ? 'the object is new, so it carried no override before'
        : prior === undefined
          ? 'the object did not carry the override before this change'
          : `the object carried ${rule}=${prior} before this change`;
    const groups = config.breakGlassGroups.join(', ');
    const who = groups === '' ? 'break-glass is not enabled (no break-glass groups are configured)' : `user ${requester.username} is in none of the break-glass groups (${groups})`;
    refused.push({
      rule,
      object,
      message:
        `Annotation ${RULE_MODES_ANNOTATION} on ${own.name} sets ${rule}=${mode}, looser than the ${rule}=${inherited} it inherits from ${inheritedFrom[rule] ?? 'the rules config'}, ` +
        `so that entry is ignored and ${rule} stays at ${inherited}: ${reason}, and ${who}. ` +
        `Fix: ask whoever administers ${namespace.name} to set ${RULE_MODES_ANNOTATION}: ${rule}=${mode} on the Namespace` +
        (groups === '' ? '.' : `, or have a member of a break-glass group (${groups}) make this change.`),
    });
  }
  return { modes, issues, refused, ignored };
}

/** The well-formed entries of a source's annotation; its malformed ones become advisory issues. */
function parsedSource(source: ModeSource, object: string, issues: Issue[]): ParsedModes['modes'] {
  const value = source.annotations?.[RULE_MODES_ANNOTATION];
  if (value === undefined) return {};
  const parsed = parseModesAnnotation(value);
  for (const { rule, problem } of parsed.problems) {
    issues.push({
      rule,
      object,
      advisory: true,
      message:
        `Annotation ${RULE_MODES_ANNOTATION} on ${source.name} is malformed: ${problem}; that entry is ignored. ` +
        `Fix: write comma-separated id=mode entries, ids from ${RULE_IDS.join(', ')}, modes deny, warn or off.`,
    });
  }
  return parsed.modes;
}

function modeEntries(modes: ParsedModes['modes']): [RuleId, RuleMode][] {
  return Object.entries(modes) as [RuleId, RuleMode][];
}

function nearestRuleId(word: string): RuleId {
  let best: RuleId = RULE_IDS[0];
  let bestDistance = Infinity;
  for (const id of RULE_IDS) {
    const d = editDistance(word.toLowerCase(), id);
    if (d < bestDistance) [best, bestDistance] = [id, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
