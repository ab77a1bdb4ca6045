// Printing and saving: every part prints aligned tables to stdout and writes
// its raw figures as JSON under the results folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchContext {
  quick: boolean;
  /** bench/results/<timestamp>[-quick] */
  resultsDir: string;
  /** Set by --webhook-node-args: extra Node/V8 options for the webhook under test (to compare settings). */
  webhookNodeArgs?: string[];
  /** Set by --webhook-config: merged into the webhook's config file (e.g. `{"prometheus":{"url":null}}`). */
  webhookConfig?: Record<string, unknown>;
  /** Set by --webhook-main: run another build of the webhook (its dist/cli/main.js). */
  webhookMain?: string;
  /** Set by --profile: servers write V8 CPU profiles (--cpu-prof) here. */
  profileDir?: string;
  /** Progress lines (stderr), apart from the tables (stdout). */
  progress: (line: string) => void;
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function ms(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–';
}

export function mb(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : '–';
}

export function percent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : '–';
}

export function section(title: string): void {
  process.stdout.write(`\n== ${title} ==\n`);
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function saveJson(ctx: BenchContext, name: string, data: unknown): string {
  mkdirSync(ctx.resultsDir, { recursive: true });
  const file = join(ctx.resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return file;
}
