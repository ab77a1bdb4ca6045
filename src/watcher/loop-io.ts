// What the loop lends the steps kept beside it (recovery, the pre-traffic
// smoke test): its dependencies and its own ways to write state, record
// Events and name alerts, so those steps follow the loop's rules (leadership,
// dry run) without reimplementing them.
import type { GuardEvent } from '../cluster/events.js';
import type { VirtualService } from '../istio/types.js';
import type { AnnotationChanges } from './cutover-state.js';
import type { AlertContext } from './guard-alerts.js';
import type { LoopDeps } from './loop.js';
import type { ServiceKey } from './verdict.js';

/** What the loop lends the helpers beside it. */
export interface LoopIO {
  deps: Pick<LoopDeps, 'objects' | 'mesh' | 'log' | 'recoveryProbe' | 'config' | 'smokeRunner' | 'revisions' | 'podTimes'>;
  record(vs: VirtualService, changes: Readonly<AnnotationChanges>): Promise<boolean>;
  event(vs: VirtualService, event: GuardEvent): Promise<void>;
  alertContext(vs: VirtualService, key: ServiceKey, now: Date): AlertContext;
}

export function logKeys(vs: VirtualService): Record<string, string> {
  return { namespace: vs.metadata.namespace, virtualService: vs.metadata.name, uid: vs.metadata.uid ?? '' };
}
