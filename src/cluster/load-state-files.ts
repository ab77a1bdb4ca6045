// Cluster state from files, for `preflight`: what `kubectl get
// dr,vs,svc,deploy,rs,pods -o yaml` prints (a `kind: List`), multi-document
// YAML, or JSON (which is YAML too). Objects are slimmed exactly as the
// webhook's watch caches slim them, so both judge the same data.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { MemoryClusterState } from './memory-cluster-state.js';
import { slim } from './slim.js';

type Json = Record<string, unknown>;

/** A file that cannot be used: missing, not YAML, or not Kubernetes objects. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

const CLUSTER_SCOPED = new Set(['Namespace']);

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Every object in a YAML/JSON text, with `List`s (`kind: List`,
 * `VirtualServiceList`...) flattened. Empty documents are skipped.
 */
export function parseManifests(text: string, source: string): Json[] {
  const objects: Json[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const error = doc.errors[0];
    if (error) throw new ManifestError(`${source}: document ${i + 1} is not valid YAML: ${error.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (value === null || value === undefined) return;
    flatten(value, `${source}: document ${i + 1}`, undefined, objects);
  });
  return objects;
}

function flatten(value: unknown, where: string, itemKind: string | undefined, out: Json[]): void {
  if (!isObject(value)) throw new ManifestError(`${where} is not a Kubernetes object (a mapping with kind and metadata).`);
  const kind = typeof value.kind === 'string' ? value.kind : itemKind;
  if (kind === undefined) throw new ManifestError(`${where} has no kind. Fix: write objects as 'kubectl get -o yaml' prints them.`);
  if (kind.endsWith('List') && Array.isArray(value.items)) {
    const inner = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    value.items.forEach((item, j) => flatten(item, `${where}, item ${j + 1}`, inner, out));
    return;
  }
  if (!isObject(value.metadata) || typeof value.metadata.name !== 'string') {
    throw new ManifestError(`${where} (${kind}) has no metadata.name.`);
  }
  out.push(value.kind === kind ? value : { ...value, kind });
}

/** Give a namespaced object without one the default namespace, as kubectl would. */
export function withNamespace(obj: Json, defaultNamespace: string): Json {
  const meta = obj.metadata as Json;
  if (CLUSTER_SCOPED.has(String(obj.kind)) || (typeof meta.namespace === 'string' && meta.namespace !== '')) return obj;
  return { ...obj, metadata: { ...meta, namespace: defaultNamespace } };
}

export async function readManifests(path: string): Promise<Json[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(`${path}: cannot read the file (${code ?? (err as Error).message}).`);
  }
  return parseManifests(text, path);
}

export interface LoadedState {
  state: MemoryClusterState;
  /** Kinds found in the files that the rules never read (ignored), with counts. */
  ignored: Map<string, number>;
}

export function stateFromObjects(objects: readonly Json[], defaultNamespace: string, into = new MemoryClusterState()): LoadedState {
  const ignored = new Map<string, number>();
  for (const raw of objects) {
    const obj = slim(withNamespace(raw, defaultNamespace));
    if (obj) into.upsert(obj);
    else ignored.set(String(raw.kind), (ignored.get(String(raw.kind)) ?? 0) + 1);
  }
  return { state: into, ignored };
}

/** Read state files (repeatable `--state`) into one MemoryClusterState; later files win on the same object. */
export async function loadStateFiles(paths: readonly string[], defaultNamespace = 'default'): Promise<LoadedState> {
  const state = new MemoryClusterState();
  const ignored = new Map<string, number>();
  for (const path of paths) {
    const loaded = stateFromObjects(await readManifests(path), defaultNamespace, state);
    for (const [k, n] of loaded.ignored) ignored.set(k, (ignored.get(k) ?? 0) + n);
  }
  return { state, ignored };
}
