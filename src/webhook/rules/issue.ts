import type { RuleId } from '../verdict.js';

/**
 * What a rule reports before its mode is applied. The review turns issues into
 * findings: severity from the rule's mode, `off` drops them.
 */
export interface Issue {
  rule: RuleId;
  /** `Kind/namespace/name` of the object the issue is about. */
  object: string;
  message: string;
  /** The rule could not decide (missing data): at most a warning, whatever the mode. */
  advisory?: boolean;
}
