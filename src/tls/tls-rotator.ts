// One check of the self-managed TLS state, run by every webhook pod on a
// timer: renew what the plan says into the Secret (optimistic concurrency, so
// of several pods one writes and the others adopt its result), keep the
// webhook configuration's caBundle current, and write the serving pair the
// webhook reloads into the shared directory.
import { caBundle, planCertificates, type RenewalPolicy } from './plan-certificates.js';
import { certificateNotAfter, issueCa, issueServing, readSecretCertificates } from './x509-issuer.js';

/** The Secret's keys, PEM text. */
export interface TlsSecretData {
  'ca.crt'?: string;
  'ca.key'?: string;
  'tls.crt'?: string;
  'tls.key'?: string;
  /** The CA before the last rollover, kept in the caBundle until it expires. */
  'previous-ca.crt'?: string;
}

export interface TlsSecretStore {
  read(): Promise<{ data: TlsSecretData; resourceVersion: string }>;
  /** false: someone else wrote first (HTTP 409); read again. */
  write(data: TlsSecretData, resourceVersion: string): Promise<boolean>;
}

export interface CaBundleTarget {
  /** The caBundle of every webhook in the configuration, PEM. */
  read(): Promise<string[]>;
  write(bundlePem: string): Promise<void>;
}

export interface ServingPairSink {
  /** Writes atomically; returns true when the files changed. */
  write(certPem: string, keyPem: string): boolean;
}

export interface RotationResult {
  action: 'keep' | 'issue-serving' | 'issue-ca' | 'lost-race';
  reason?: string;
  caBundleUpdated: boolean;
  filesUpdated: boolean;
  renewAt?: Date;
}

export async function rotateOnce(
  now: Date,
  policy: RenewalPolicy,
  ports: { secret: TlsSecretStore; caBundle: CaBundleTarget; files: ServingPairSink },
): Promise<RotationResult> {
  const { data, resourceVersion } = await ports.secret.read();
  const current = readSecretCertificates({ caCrt: data['ca.crt'], caKey: data['ca.key'], tlsCrt: data['tls.crt'], tlsKey: data['tls.key'] });
  const plan = planCertificates(now, current, policy);
  let next = data;
  if (plan.action !== 'keep') {
    next = { ...data };
    if (plan.action === 'issue-ca') {
      const ca = await issueCa(now, policy.caValidityDays, 'bluegreen-guard webhook CA');
      if (current.ca && data['ca.crt']) next['previous-ca.crt'] = data['ca.crt'];
      next['ca.crt'] = ca.certPem;
      next['ca.key'] = ca.keyPem;
    }
    const serving = await issueServing(now, policy.certValidityDays, policy.dnsNames, { certPem: next['ca.crt'] ?? '', keyPem: next['ca.key'] ?? '' });
    next['tls.crt'] = serving.certPem;
    next['tls.key'] = serving.keyPem;
    if (!(await ports.secret.write(next, resourceVersion))) {
      return { action: 'lost-race', reason: 'another webhook pod updated the Secret first', caBundleUpdated: false, filesUpdated: false };
    }
  }
  const caPem = next['ca.crt'] ?? '';
  const previousPem = next['previous-ca.crt'];
  const previousNotAfter = previousPem ? certificateNotAfter(previousPem) : null;
  const bundle = caBundle(now, caPem, previousPem && previousNotAfter ? { pem: previousPem, notAfter: previousNotAfter } : null);
  const bundles = await ports.caBundle.read();
  const caBundleUpdated = bundles.some((b) => b !== bundle);
  if (caBundleUpdated) await ports.caBundle.write(bundle);
  const filesUpdated = ports.files.write(next['tls.crt'] ?? '', next['tls.key'] ?? '');
  return plan.action === 'keep'
    ? { action: 'keep', caBundleUpdated, filesUpdated, renewAt: plan.renewAt }
    : { action: plan.action, reason: plan.reason, caBundleUpdated, filesUpdated };
}
