// Test worlds built from the fixtures in test/fixtures/shop: the state as
// kubectl prints it, edited per case, then slimmed exactly as the webhook and
// preflight slim it.
/* eslint-disable @typescript-eslint/no-unsafe-member-access -- tests edit raw API objects (untyped JSON) in place */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseManifests, stateFromObjects } from '../../../src/cluster/load-state-files.js';
import { slimIstio } from '../../../src/cluster/slim.js';
import type { MemoryClusterState } from '../../../src/cluster/memory-cluster-state.js';
import type { DestinationRule, IstioObject, VirtualService } from '../../../src/istio/types.js';
import type { ReviewInput, Requester } from '../../../src/webhook/verdict.js';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- raw API objects

export const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

export function fixture(path: string): Json[] {
  return parseManifests(readFileSync(FIXTURES + path, 'utf8'), path);
}

export function one(path: string): Json {
  const [obj] = fixture(path);
  if (!obj) throw new Error(`${path} holds no object`);
  return obj;
}

/** The shop state objects (raw, editable) plus the current VirtualService. */
export function shopObjects(): Json[] {
  return [...fixture('shop/state.yaml'), one('shop/vs-current.yaml')];
}

export function find(objects: Json[], kind: string, namespace: string, name: string): Json {
  const o = objects.find((x) => x.kind === kind && (x.metadata.namespace ?? '') === namespace && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${namespace}/${name} in the world`);
  return o;
}

export function remove(objects: Json[], pred: (o: Json) => boolean): Json[] {
  return objects.filter((o) => !pred(o));
}

export function podsOf(objects: Json[], namespace: string, labels: Record<string, string>): Json[] {
  return objects.filter((o) => o.kind === 'Pod' && o.metadata.namespace === namespace && Object.entries(labels).every(([k, v]) => o.metadata.labels?.[k] === v));
}

export function stateOf(objects: Json[]): MemoryClusterState {
  return stateFromObjects(objects, 'default').state;
}

export function vs(raw: Json): VirtualService {
  return slimIstio<VirtualService>(raw);
}

export function dr(raw: Json): DestinationRule {
  return slimIstio<DestinationRule>(raw);
}

export const ALICE: Requester = { username: 'alice@example.com', groups: ['system:authenticated', 'shop-devs'] };

export function update(oldObject: IstioObject, object: IstioObject, requester: Requester = ALICE): ReviewInput {
  return { operation: 'UPDATE', object, oldObject, dryRun: false, requester };
}

export function create(object: IstioObject, requester: Requester = ALICE): ReviewInput {
  return { operation: 'CREATE', object, oldObject: undefined, dryRun: false, requester };
}

export function del(oldObject: IstioObject, requester: Requester = ALICE): ReviewInput {
  return { operation: 'DELETE', object: undefined, oldObject, dryRun: false, requester };
}

export function clone<T>(o: T): T {
  return structuredClone(o);
}

/** The route of a VirtualService by kind and name (http) or index. */
export function route(rawVs: Json, kind: 'http' | 'tcp' | 'tls', which: string | number): Json {
  const list = rawVs.spec[kind] as Json[];
  const r = typeof which === 'number' ? list[which] : list.find((x) => x.name === which);
  if (!r) throw new Error(`no ${kind} route ${which}`);
  return r;
}

/** Set the weights of the subsets in a route: `{ green: 99, blue: 1 }`. */
export function setWeights(rawVs: Json, kind: 'http' | 'tcp' | 'tls', which: string | number, weights: Record<string, number>): Json {
  for (const d of route(rawVs, kind, which).route as Json[]) {
    const w = weights[d.destination.subset as string];
    if (w !== undefined) d.weight = w;
  }
  return rawVs;
}

/** The shop/web VirtualService as it is now, and an edited copy. */
export function currentAndEdited(edit: (rawVs: Json) => void): { old: VirtualService; next: VirtualService } {
  const raw = one('shop/vs-current.yaml');
  const edited = clone(raw);
  edit(edited);
  return { old: vs(raw), next: vs(edited) };
}

/** A cutover of the primary route to `blue` at `share`%. */
export function primaryTo(share: number): (rawVs: Json) => void {
  return (v) => setWeights(v, 'http', 'primary', { green: 100 - share, blue: share });
}
