// Clearing a rollback latch: remove the watcher's record and write the reason
// beside it, in one patch that tests the resourceVersion. It is sent with the
// caller's own credentials, so the webhook judges who clears it (a member of
// the configured groups) and audits the clear.
import { ROLLBACK_LATCH, ROLLBACK_LATCH_ACK } from '../istio/annotations.js';
import { parseLatch, type LatchEntry } from '../istio/rollback-latch.js';
import { WriteConflict, type VirtualServiceStore } from './virtual-service-store.js';
import { annotationOps, testResourceVersion } from './json-patch.js';

export type ClearLatchResult =
  | { outcome: 'cleared'; entries: LatchEntry[] }
  | { outcome: 'not-latched' }
  /** The API server (the webhook, RBAC) refused the patch, or the object kept changing. */
  | { outcome: 'refused' | 'failed'; error: string };

export async function clearRollbackLatch(store: VirtualServiceStore, target: { namespace: string; name: string; reason: string }, maxAttempts = 3): Promise<ClearLatchResult> {
  const { namespace, name } = target;
  const reason = target.reason.trim();
  if (reason === '') return { outcome: 'refused', error: 'a reason is required (--reason "<why traffic may go back to the rolled-back revision>")' };
  try {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const vs = await store.get(namespace, name);
      const value = vs.metadata.annotations?.[ROLLBACK_LATCH];
      if (value === undefined) return { outcome: 'not-latched' };
      const parsed = parseLatch(value);
      const ops = [testResourceVersion(vs.metadata.resourceVersion ?? ''), ...annotationOps(vs.metadata.annotations, { [ROLLBACK_LATCH]: null, [ROLLBACK_LATCH_ACK]: reason })];
      try {
        await store.patch(namespace, name, ops);
        return { outcome: 'cleared', entries: parsed.ok ? parsed.entries : [] };
      } catch (err) {
        // 422 from a failed `test` means the object changed: read it again. Any other refusal is the answer.
        if (err instanceof WriteConflict && attempt < maxAttempts) {
          const fresh = await store.get(namespace, name);
          if (fresh.metadata.resourceVersion !== vs.metadata.resourceVersion) continue;
        }
        return { outcome: 'refused', error: err instanceof Error ? err.message : String(err) };
      }
    }
    return { outcome: 'failed', error: `VirtualService ${namespace}/${name} changed under every one of ${maxAttempts} attempts; try again` };
  } catch (err) {
    return { outcome: 'failed', error: err instanceof Error ? err.message : String(err) };
  }
}
