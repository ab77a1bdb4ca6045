// When the webhook's self-managed CA and serving certificate must be renewed:
// a pure decision over what the Secret holds now. Renewal happens well before
// expiry (renewBeforeDays), and the CA is renewed early enough that every
// certificate it signs expires before it does.

export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** DNS subject alternative names. */
  dnsNames: readonly string[];
}

export interface SecretCertificates {
  /** null: missing or unreadable. */
  ca: CertificateFacts | null;
  serving: CertificateFacts | null;
  /** The serving certificate is signed by `ca` and its key matches it. */
  servingChainsToCa: boolean;
}

export interface RenewalPolicy {
  caValidityDays: number;
  certValidityDays: number;
  renewBeforeDays: number;
  dnsNames: readonly string[];
}

export type CertificatePlan =
  | { action: 'keep'; renewAt: Date }
  | { action: 'issue-serving'; reason: string }
  | { action: 'issue-ca'; reason: string };

const DAY_MS = 86_400_000;

export function planCertificates(now: Date, current: SecretCertificates, policy: RenewalPolicy): CertificatePlan {
  const { ca, serving } = current;
  if (!ca) return { action: 'issue-ca', reason: 'the Secret holds no readable CA' };
  if (ca.notBefore.getTime() > now.getTime()) return { action: 'issue-ca', reason: `the CA is not valid before ${ca.notBefore.toISOString()}` };
  // A new serving certificate lives certValidityDays; the CA must outlive it
  // plus the renewal margin, or renew first.
  const caRenewAt = ca.notAfter.getTime() - (policy.certValidityDays + policy.renewBeforeDays) * DAY_MS;
  if (now.getTime() >= caRenewAt) return { action: 'issue-ca', reason: `the CA expires at ${ca.notAfter.toISOString()}, too soon to sign a ${policy.certValidityDays}-day certificate` };

  if (!serving) return { action: 'issue-serving', reason: 'the Secret holds no readable serving certificate' };
  if (!current.servingChainsToCa) return { action: 'issue-serving', reason: 'the serving certificate is not signed by the CA in the Secret, or its key does not match' };
  const missing = policy.dnsNames.filter((n) => !serving.dnsNames.includes(n));
  if (missing.length > 0) return { action: 'issue-serving', reason: `the serving certificate does not name ${missing.join(', ')}` };
  if (serving.notBefore.getTime() > now.getTime()) return { action: 'issue-serving', reason: `the serving certificate is not valid before ${serving.notBefore.toISOString()}` };
  const servingRenewAt = serving.notAfter.getTime() - policy.renewBeforeDays * DAY_MS;
  if (now.getTime() >= servingRenewAt) {
    return { action: 'issue-serving', reason: `the serving certificate expires at ${serving.notAfter.toISOString()}, within ${policy.renewBeforeDays} days` };
  }
  return { action: 'keep', renewAt: new Date(Math.min(servingRenewAt, caRenewAt)) };
}

/**
 * The caBundle: the current CA, plus the previous one while it is still
 * valid, so that pods still serving a certificate from the old CA are trusted
 * during a CA rollover.
 */
export function caBundle(now: Date, currentCaPem: string, previous: { pem: string; notAfter: Date } | null): string {
  const pems = [currentCaPem.trim()];
  if (previous && previous.notAfter.getTime() > now.getTime() && previous.pem.trim() !== currentCaPem.trim()) pems.push(previous.pem.trim());
  return `${pems.join('\n')}\n`;
}
