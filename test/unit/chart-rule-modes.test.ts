// The chart's values schema names every rule the webhook knows, and no other:
// with additionalProperties false, a rule missing from it could not be set
// through the chart at all (helm install refuses the value).
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULE_IDS } from '../../src/webhook/verdict.js';

const CHART = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'charts', 'bluegreen-guard');

interface ModesSchema {
  additionalProperties: boolean;
  properties: Record<string, { enum: string[] }>;
}

describe("the chart's values schema and the rule ids", () => {
  it('lists a mode for every rule id (deny, warn, off), and nothing else', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as {
      properties: { webhook: { properties: { rules: { properties: { modes: ModesSchema } } } } };
    };
    const modes = schema.properties.webhook.properties.rules.properties.modes;
    expect(modes.additionalProperties).toBe(false);
    expect(Object.keys(modes.properties).sort()).toEqual([...RULE_IDS].sort());
    for (const id of RULE_IDS) expect(modes.properties[id]?.enum).toEqual(['deny', 'warn', 'off']);
  });
});
