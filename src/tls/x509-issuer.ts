// Issues the self-managed CA and serving certificate (ECDSA P-256, SHA-256)
// and reads back the facts the renewal plan needs. Node can read X.509 but not
// write it; @peculiar/x509 writes it over Node's WebCrypto.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import type { CertificateFacts, SecretCertificates } from './plan-certificates.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** Tolerates nodes whose clocks run a little behind the issuer's. */
const BACKDATE_MS = 5 * 60_000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

function serial(): string {
  // Positive 128-bit serial: clear the top bit.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').trim()}\n-----END PRIVATE KEY-----\n`;
}

export async function issueCa(now: Date, validityDays: number, commonName: string): Promise<PemPair> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=bluegreen-guard, CN=${commonName}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

export async function issueServing(now: Date, validityDays: number, dnsNames: readonly string[], ca: PemPair): Promise<PemPair> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' }), ALGORITHM, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `O=bluegreen-guard, CN=${(dnsNames[0] ?? 'webhook').slice(0, 64)}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

function facts(cert: X509Certificate): CertificateFacts {
  const dnsNames = (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo), dnsNames };
}

function tryCert(pem: string | undefined): X509Certificate | null {
  if (!pem) return null;
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

function keyMatches(cert: X509Certificate, pem: string | undefined): boolean {
  if (!pem) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(pem));
  } catch {
    return false;
  }
}

/** What the Secret's four PEMs amount to; anything unreadable counts as missing. */
export function readSecretCertificates(data: { caCrt?: string; caKey?: string; tlsCrt?: string; tlsKey?: string }): SecretCertificates {
  const ca = tryCert(data.caCrt);
  const caUsable = ca !== null && ca.ca && keyMatches(ca, data.caKey);
  const serving = tryCert(data.tlsCrt);
  const servingUsable = serving !== null && keyMatches(serving, data.tlsKey);
  return {
    ca: caUsable && ca ? facts(ca) : null,
    serving: servingUsable && serving ? facts(serving) : null,
    servingChainsToCa: caUsable && servingUsable && ca !== null && serving !== null && serving.checkIssued(ca) && serving.verify(ca.publicKey),
  };
}

export function certificateNotAfter(pem: string): Date | null {
  const cert = tryCert(pem);
  return cert ? new Date(cert.validTo) : null;
}
