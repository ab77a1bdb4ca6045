// A VirtualServiceStore that behaves like the API server for JSON Patch: it
// applies the ops to the stored object, refuses a failed `test` with 422,
// bumps resourceVersion on every write, and can be told to refuse once (409),
// to let another writer in first, or to fail outright.
import type { VirtualService } from '../../../../src/istio/types.js';
import { WriteConflict, type VirtualServiceStore } from '../../../../src/watcher/virtual-service-store.js';
import type { JsonPatchOp } from '../../../../src/watcher/json-patch.js';
import { applyPatch, PatchTestFailed } from './rfc6902.js';

type Interference = { kind: 'conflict409' } | { kind: 'writer'; change: (vs: VirtualService) => void } | { kind: 'error'; error: Error };

export class FakeVirtualServiceStore implements VirtualServiceStore {
  private readonly objects = new Map<string, VirtualService>();
  private readonly beforeNextPatch: Interference[] = [];
  private afterPatch: ((vs: VirtualService) => void) | undefined;
  private version = 100;
  readonly patches: { namespace: string; name: string; ops: JsonPatchOp[] }[] = [];
  gets = 0;

  put(vs: VirtualService): VirtualService {
    const stored = structuredClone(vs);
    stored.metadata.resourceVersion = String(++this.version);
    this.objects.set(`${vs.metadata.namespace}/${vs.metadata.name}`, stored);
    return structuredClone(stored);
  }

  all(): VirtualService[] {
    return [...this.objects.values()].map((vs) => structuredClone(vs));
  }

  current(namespace: string, name: string): VirtualService {
    const vs = this.objects.get(`${namespace}/${name}`);
    if (!vs) throw new Error(`no VirtualService ${namespace}/${name}`);
    return structuredClone(vs);
  }

  /** The next patch meets this first (in order, one per patch). */
  interfere(i: Interference): void {
    this.beforeNextPatch.push(i);
  }

  /** Another writer that changes the object right after each successful patch. */
  afterEachPatch(change: (vs: VirtualService) => void): void {
    this.afterPatch = change;
  }

  /** Patches that changed something other than nothing (rollbacks and records alike). */
  weightPatches(): JsonPatchOp[][] {
    return this.patches.map((p) => p.ops).filter((ops) => ops.some((o) => o.path.endsWith('/weight')));
  }

  get(namespace: string, name: string): Promise<VirtualService> {
    this.gets++;
    return Promise.resolve(this.current(namespace, name));
  }

  patch(namespace: string, name: string, ops: readonly JsonPatchOp[]): Promise<VirtualService> {
    this.patches.push({ namespace, name, ops: [...ops] });
    const i = this.beforeNextPatch.shift();
    if (i?.kind === 'conflict409') return Promise.reject(new WriteConflict(409, 'the object has been modified; please apply your changes to the latest version and try again'));
    if (i?.kind === 'error') return Promise.reject(i.error);
    if (i?.kind === 'writer') {
      const vs = this.current(namespace, name);
      i.change(vs);
      this.put(vs);
    }
    let patched: VirtualService;
    try {
      patched = applyPatch(this.current(namespace, name), ops);
    } catch (err) {
      if (err instanceof PatchTestFailed) return Promise.reject(new WriteConflict(422, `the server rejected our request: ${err.message}`));
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const stored = this.put(patched);
    if (this.afterPatch) {
      const vs = this.current(namespace, name);
      this.afterPatch(vs);
      this.put(vs);
    }
    return Promise.resolve(stored);
  }
}
