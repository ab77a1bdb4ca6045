// Rule modes for one review: the global config, overridden by the namespace's
// `bluegreen-guard.io/rules` annotation, overridden in turn by the object's.
// A malformed entry never disappears silently: it becomes an advisory issue
// and the mode it tried to set stays as inherited.
import { RULE_MODES as RULE_MODES_ANNOTATION } from '../../istio/annotations.js';
import type { Labels } from '../../istio/types.js';
import { isRuleId, isRuleMode, type RulesConfig } from '../rules-config.js';
import { RULE_IDS, type RuleId, type RuleMode } from '../verdict.js';
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

/**
 * Effective modes for a review. `sources` go from the least to the most
 * specific (namespace, then object); issues are reported on `object`.
 */
export function resolveModes(config: RulesConfig, sources: readonly ModeSource[], object: string): { modes: Modes; issues: Issue[] } {
  const modes: Record<RuleId, RuleMode> = { ...config.modes };
  const issues: Issue[] = [];
  for (const source of sources) {
    const value = source.annotations?.[RULE_MODES_ANNOTATION];
    if (value === undefined) continue;
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
    Object.assign(modes, parsed.modes);
  }
  return { modes, issues };
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
