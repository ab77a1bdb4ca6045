// AdmissionReview requests as the API server sends them, for transport tests.
import { randomUUID } from 'node:crypto';

type Json = Record<string, unknown>;

export function virtualService(namespace = 'shop', name = 'web', weights: Record<string, number> = { green: 100, blue: 0 }): Json {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace, uid: randomUUID(), resourceVersion: '42', annotations: { 'bluegreen-guard.io/stable-subset': 'green' } },
    spec: {
      hosts: ['web'],
      http: [
        {
          name: 'primary',
          route: Object.entries(weights).map(([subset, weight]) => ({ destination: { host: 'web', subset }, weight })),
        },
      ],
    },
  };
}

export function destinationRule(namespace = 'shop', name = 'web'): Json {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: { name, namespace },
    spec: {
      host: 'web',
      subsets: [
        { name: 'green', labels: { version: 'v1' } },
        { name: 'blue', labels: { version: 'v2' } },
      ],
    },
  };
}

export interface ReviewOptions {
  uid?: string;
  operation?: 'CREATE' | 'UPDATE' | 'DELETE';
  version?: string;
  dryRun?: boolean;
  username?: string;
  groups?: string[];
  oldObject?: Json | null;
}

/** An `admission.k8s.io/v1` AdmissionReview for `object` (a VirtualService or DestinationRule). */
export function admissionReview(object: Json, options: ReviewOptions = {}): Json {
  const meta = object.metadata as { name: string; namespace: string };
  const kind = object.kind as string;
  const version = options.version ?? (object.apiVersion as string).split('/')[1];
  const operation = options.operation ?? 'UPDATE';
  const resource = kind === 'VirtualService' ? 'virtualservices' : 'destinationrules';
  const gvk = { group: 'networking.istio.io', version, kind };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? randomUUID(),
      kind: gvk,
      resource: { group: 'networking.istio.io', version, resource },
      requestKind: gvk,
      requestResource: { group: 'networking.istio.io', version, resource },
      name: meta.name,
      namespace: meta.namespace,
      operation,
      userInfo: { username: options.username ?? 'jane@example.com', uid: 'u-1', groups: options.groups ?? ['system:authenticated', 'team-shop'] },
      object: operation === 'DELETE' ? null : object,
      oldObject: options.oldObject !== undefined ? options.oldObject : operation === 'CREATE' ? null : object,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: operation === 'CREATE' ? 'CreateOptions' : 'UpdateOptions', fieldManager: 'kubectl-client-side-apply' },
    },
  };
}
