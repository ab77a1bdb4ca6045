// Kubernetes Events on the VirtualService, so `kubectl describe virtualservice`
// tells the story next to the object: RolledBack, RollbackFailed,
// CutoverStable. core/v1 Events with first/lastTimestamp (metav1.Time) and no
// eventTime: that keeps the legacy validation, which needs no MicroTime.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { VirtualService } from '../istio/types.js';
import { apiFailure } from './api-error.js';

export type EventReason = 'RolledBack' | 'RollbackFailed' | 'RollbackBlocked' | 'CutoverStarted' | 'CutoverStable' | 'Promoted' | 'WouldRollBack' | 'RollbackLatchExpired' | 'Recovered' | 'RecoveryFailed' | 'DrillPassed' | 'DrillFailed' | 'DrillRefused' | 'DrillSkipped';

export interface GuardEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
  at: Date;
}

export interface EventRecorder {
  /** Rejects when the API server refuses the Event. */
  record(vs: VirtualService, event: GuardEvent): Promise<void>;
}

export const EVENT_COMPONENT = 'bluegreen-guard-watcher';
/** The API server caps an Event's message; longer text is cut with a marker. */
const MAX_MESSAGE_CHARS = 1024;

/** The Event object for `vs`. Exported for tests. */
export function eventFor(vs: VirtualService, event: GuardEvent, reportingInstance: string): CoreV1Event {
  const { namespace, name } = vs.metadata;
  const message = event.message.length > MAX_MESSAGE_CHARS ? `${event.message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : event.message;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${event.at.getTime().toString(16)}${randomBytes(2).toString('hex')}`, namespace },
    involvedObject: {
      apiVersion: vs.apiVersion ?? 'networking.istio.io/v1',
      kind: 'VirtualService',
      name,
      namespace,
      ...(vs.metadata.uid ? { uid: vs.metadata.uid } : {}),
      ...(vs.metadata.resourceVersion ? { resourceVersion: vs.metadata.resourceVersion } : {}),
    },
    type: event.type,
    reason: event.reason,
    message,
    firstTimestamp: event.at,
    lastTimestamp: event.at,
    count: 1,
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance,
  };
}

export class KubernetesEventRecorder implements EventRecorder {
  constructor(
    private readonly api: CoreV1Api,
    /** This replica (the pod name), for `reportingInstance`. */
    private readonly instance: string,
  ) {}

  async record(vs: VirtualService, event: GuardEvent): Promise<void> {
    try {
      await this.api.createNamespacedEvent({ namespace: vs.metadata.namespace, body: eventFor(vs, event, this.instance) });
    } catch (err) {
      const f = apiFailure(err);
      const hint = f.code === 403 ? '; fix: grant the watcher create on events in guarded namespaces (the chart\'s ClusterRole does)' : '';
      throw new Error(`creating Event ${event.reason} for VirtualService ${vs.metadata.namespace}/${vs.metadata.name} failed (HTTP ${f.code}): ${f.message}${hint}`, { cause: err });
    }
  }
}
