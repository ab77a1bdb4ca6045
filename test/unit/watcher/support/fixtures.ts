import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { VirtualService } from '../../../../src/istio/types.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/rollback');

/** A VirtualService fixture exactly as written (every field, not the slim model). */
export function loadVirtualService(name: string): VirtualService {
  return parse(readFileSync(join(fixtureDir, name), 'utf8')) as VirtualService;
}

/** Every leaf path where two JSON documents differ, as JSON pointers. */
export function differingPaths(a: unknown, b: unknown, path = ''): string[] {
  if (a === b) return [];
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object';
  if (!bothObjects || Array.isArray(a) !== Array.isArray(b)) return [path];
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  const out: string[] = [];
  for (const k of keys) {
    const seg = '/' + k.replace(/~/g, '~0').replace(/\//g, '~1');
    if (!(k in ao) || !(k in bo)) out.push(path + seg);
    else out.push(...differingPaths(ao[k], bo[k], path + seg));
  }
  return out;
}
