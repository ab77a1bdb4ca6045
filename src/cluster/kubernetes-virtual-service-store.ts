// VirtualServiceStore over @kubernetes/client-node 2.x. The generated
// CustomObjectsApi picks a patch content type on its own; we set
// `application/json-patch+json` explicitly through per-call middleware
// (setHeaderOptions), which 2.x merges into the request (1.0 release
// candidates ignored per-call middleware on patch calls).
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';
import type { VirtualService } from '../istio/types.js';
import type { JsonPatchOp } from '../watcher/json-patch.js';
import { apiFailure } from './api-error.js';
import { slimIstio } from './slim.js';
import { WriteConflict, type VirtualServiceStore } from '../watcher/virtual-service-store.js';

export const FIELD_MANAGER = 'bluegreen-guard';

export class KubernetesVirtualServiceStore implements VirtualServiceStore {
  constructor(
    private readonly api: CustomObjectsApi,
    /** networking.istio.io version to use: `v1` from Istio 1.22, `v1beta1` before. */
    private readonly istioVersion = 'v1',
  ) {}

  async get(namespace: string, name: string): Promise<VirtualService> {
    try {
      const raw = (await this.api.getNamespacedCustomObject({ ...this.ref(namespace), name })) as Record<string, unknown>;
      return slimIstio<VirtualService>({ ...raw, kind: 'VirtualService' });
    } catch (err) {
      const f = apiFailure(err);
      throw new Error(`GET VirtualService ${namespace}/${name} failed (HTTP ${f.code} ${f.reason ?? ''}): ${f.message}`, { cause: err });
    }
  }

  async patch(namespace: string, name: string, ops: readonly JsonPatchOp[]): Promise<VirtualService> {
    try {
      const raw = (await this.api.patchNamespacedCustomObject(
        { ...this.ref(namespace), name, body: ops, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      )) as Record<string, unknown>;
      return slimIstio<VirtualService>({ ...raw, kind: 'VirtualService' });
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 409 || f.code === 422) throw new WriteConflict(f.code, `PATCH VirtualService ${namespace}/${name} refused (HTTP ${f.code}): ${f.message}`, { cause: err });
      // A 403 is RBAC unless an admission webhook denied the write: then its message is the fix.
      const hint = f.code === 403 && !/denied the request/i.test(f.message) ? '; fix: grant the watcher patch on virtualservices.networking.istio.io (the chart\'s ClusterRole does)' : '';
      throw new Error(`PATCH VirtualService ${namespace}/${name} failed (HTTP ${f.code} ${f.reason ?? ''}): ${f.message}${hint}`, { cause: err });
    }
  }

  private ref(namespace: string) {
    return { group: 'networking.istio.io', version: this.istioVersion, namespace, plural: 'virtualservices' };
  }
}
