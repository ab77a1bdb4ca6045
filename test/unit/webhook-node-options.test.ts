// The webhook's Node options are set in one place, the chart's
// webhook.nodeOptions (the container's NODE_OPTIONS); bin/bluegreen-guard runs
// the webhook with the same, and Node must accept them in NODE_OPTIONS, where
// only some options are allowed, with the effect they are there for.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from '../support/built-cli.js';

const nodeOptions = (parse(readFileSync(join(REPO, 'charts', 'bluegreen-guard', 'values.yaml'), 'utf8')) as { webhook: { nodeOptions: string } }).webhook.nodeOptions;

describe("the webhook's Node options", () => {
  it('bin/bluegreen-guard runs the webhook with the options the chart gives its container', () => {
    const script = readFileSync(join(REPO, 'bin', 'bluegreen-guard'), 'utf8');
    const webhookLine = /if \[ "\$\{1:-\}" = webhook \]; then\n\s+exec "\$node" (.*) "\$here\/dist\/cli\/main\.js" "\$@"/.exec(script);
    expect(webhookLine?.[1]).toBe(nodeOptions);
  });

  it('Node accepts them in NODE_OPTIONS, and the young generation is as small as they say', () => {
    const semiSpaceMb = Number(/--max-semi-space-size=(\d+)/.exec(nodeOptions)?.[1]);
    expect(semiSpaceMb).toBeGreaterThan(0);
    // Allocate far more than the young generation holds, then read its size.
    const program = `const v8=require('node:v8');let keep=[];for(let r=0;r<40;r++){const a=[];for(let i=0;i<100000;i++)a.push({i,s:'y'+i});keep.push(a[r]);}console.log(v8.getHeapSpaceStatistics().find((s)=>s.space_name==='new_space').space_size)`;
    const run = (options: string): number => Number(execFileSync(process.execPath, ['-e', program], { env: { ...process.env, NODE_OPTIONS: options }, encoding: 'utf8' }).trim());
    const shipped = run(nodeOptions);
    const defaults = run('');
    expect(shipped).toBeLessThanOrEqual(2 * semiSpaceMb * 1024 * 1024);
    expect(defaults).toBeGreaterThan(shipped);
  });
});
