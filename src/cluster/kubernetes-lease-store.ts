// LeaseStore over @kubernetes/client-node 2.x. Lease times are MicroTime:
// the API server parses them with exactly six fractional digits and refuses
// JavaScript's three ("cannot parse .278Z as .000000", kubernetes-client/
// javascript#828), so we write V1MicroTime, whose toISOString pads to
// microseconds. On read, 2.x does not turn MicroTime back into a Date (the
// type is unknown to its deserializer), so the value arrives as a string.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { apiFailure } from './api-error.js';
import { LeaseConflict, type LeaseRecord, type LeaseStore } from './lease-elector.js';

export class KubernetesLeaseStore implements LeaseStore {
  constructor(
    private readonly api: CoordinationV1Api,
    private readonly namespace: string,
    private readonly name: string,
  ) {}

  async get(): Promise<LeaseRecord | undefined> {
    try {
      return fromLease(await this.api.readNamespacedLease({ namespace: this.namespace, name: this.name }));
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 404) return undefined;
      throw new Error(`GET Lease ${this.namespace}/${this.name} failed (HTTP ${f.code}): ${f.message}${rbacHint(f.code)}`, { cause: err });
    }
  }

  async create(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return fromLease(await this.api.createNamespacedLease({ namespace: this.namespace, body: toLease(this.namespace, this.name, record) }));
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 409) throw new LeaseConflict(`Lease ${this.namespace}/${this.name} was created by another replica first`, { cause: err });
      throw new Error(`creating Lease ${this.namespace}/${this.name} failed (HTTP ${f.code}): ${f.message}${rbacHint(f.code)}`, { cause: err });
    }
  }

  async replace(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return fromLease(await this.api.replaceNamespacedLease({ namespace: this.namespace, name: this.name, body: toLease(this.namespace, this.name, record) }));
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 409) throw new LeaseConflict(`Lease ${this.namespace}/${this.name} changed since it was read`, { cause: err });
      throw new Error(`updating Lease ${this.namespace}/${this.name} failed (HTTP ${f.code}): ${f.message}${rbacHint(f.code)}`, { cause: err });
    }
  }
}

/** The Lease body we send. Exported for the MicroTime test. */
export function toLease(namespace: string, name: string, r: LeaseRecord): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(r.resourceVersion !== undefined ? { resourceVersion: r.resourceVersion } : {}) },
    spec: {
      ...(r.holderIdentity ? { holderIdentity: r.holderIdentity } : {}),
      ...(r.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: r.leaseDurationSeconds } : {}),
      ...(r.acquireTime ? { acquireTime: new V1MicroTime(r.acquireTime.getTime()) } : {}),
      ...(r.renewTime ? { renewTime: new V1MicroTime(r.renewTime.getTime()) } : {}),
      leaseTransitions: r.leaseTransitions,
    },
  };
}

export function fromLease(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity || undefined,
    leaseDurationSeconds: spec.leaseDurationSeconds,
    acquireTime: microTime(spec.acquireTime),
    renewTime: microTime(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

function microTime(v: unknown): Date | undefined {
  if (v instanceof Date) return new Date(v.getTime());
  if (typeof v !== 'string' || v === '') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function rbacHint(code: number): string {
  return code === 403 ? '; fix: grant the watcher get, create and update on leases.coordination.k8s.io in its namespace (the chart\'s Role does)' : '';
}
