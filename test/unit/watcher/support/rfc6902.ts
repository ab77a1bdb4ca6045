// A small, strict RFC 6902 applier: what the API server does with the watcher's
// JSON Patch, so tests see the object the cluster would store. It throws where
// the RFC says the whole patch fails (missing path, failed `test`).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

export class PatchTestFailed extends Error {}

export function applyPatch<T>(document: T, ops: readonly Operation[]): T {
  let doc = structuredClone(document) as Json;
  for (const op of ops) doc = applyOne(doc, op);
  return doc as T;
}

function parse(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`invalid JSON pointer '${path}'`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function get(doc: Json, tokens: string[]): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(t, cur.length, false);
      cur = cur[i] as Json;
    } else if (cur !== null && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, t)) {
      cur = cur[t] as Json;
    } else {
      throw new Error(`path segment '${t}' does not exist`);
    }
  }
  return cur;
}

function arrayIndex(token: string, length: number, forAdd: boolean): number {
  if (forAdd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`invalid array index '${token}'`);
  const i = Number(token);
  if (i > length || (!forAdd && i === length)) throw new Error(`array index ${i} out of bounds`);
  return i;
}

function applyOne(doc: Json, op: Operation): Json {
  const tokens = parse(op.path);
  const value = structuredClone(op.value) as Json;
  switch (op.op) {
    case 'test':
      if (JSON.stringify(sortKeys(get(doc, tokens))) !== JSON.stringify(sortKeys(value))) {
        throw new PatchTestFailed(`test failed at ${op.path}`);
      }
      return doc;
    case 'add':
      return put(doc, tokens, value, 'add');
    case 'replace':
      get(doc, tokens);
      return put(doc, tokens, value, 'replace');
    case 'remove':
      get(doc, tokens);
      return del(doc, tokens);
    case 'copy':
    case 'move': {
      const from = parse(op.from ?? '');
      const v = structuredClone(get(doc, from));
      const without = op.op === 'move' ? del(doc, from) : doc;
      return put(without, tokens, v, 'add');
    }
    default:
      throw new Error(`unknown op '${op.op}'`);
  }
}

function put(doc: Json, tokens: string[], value: Json, mode: 'add' | 'replace'): Json {
  if (tokens.length === 0) return value;
  const parent = get(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, mode === 'add');
    if (mode === 'add') parent.splice(i, 0, value);
    else parent[i] = value;
  } else if (parent !== null && typeof parent === 'object') {
    parent[last] = value;
  } else {
    throw new Error(`cannot add '${last}' to a scalar`);
  }
  return doc;
}

function del(doc: Json, tokens: string[]): Json {
  const parent = get(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1);
  else if (parent !== null && typeof parent === 'object') delete parent[last];
  return doc;
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k] as Json)]));
  }
  return v;
}
