// The port through which the watcher reads and writes VirtualServices, owned
// by the use cases that need it (the rollback, recording state, clearing a
// latch); src/cluster/kubernetes-virtual-service-store.ts is the adapter.
import type { VirtualService } from '../istio/types.js';
import type { JsonPatchOp } from './json-patch.js';

/** The watcher's only access to VirtualServices for writing. */
export interface VirtualServiceStore {
  /** Reads the object from the API server (not a cache). */
  get(namespace: string, name: string): Promise<VirtualService>;
  /**
   * Applies an RFC 6902 patch. Rejects with WriteConflict when the server
   * refuses it because the object changed (409, or 422 from a failed `test`).
   */
  patch(namespace: string, name: string, ops: readonly JsonPatchOp[]): Promise<VirtualService>;
}

export class WriteConflict extends Error {
  constructor(
    readonly status: 409 | 422,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WriteConflict';
  }
}
