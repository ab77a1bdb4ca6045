// Serving certificates for tests that speak real TLS. Made by the project's own
// certs/make-certs.sh (openssl), so tests exercise the tool users run; a
// second call on the same directory reuses the CA and writes a new pair over
// the old one, which is what a rotation looks like on disk.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAKE_CERTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'certs', 'make-certs.sh');

export interface ServingCertificateFiles {
  dir: string;
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint as node reports it (`AA:BB:...`). */
  fingerprint256: string;
}

export interface CertificateOptions {
  dns?: string[];
  ips?: string[];
  days?: number;
}

/** Writes (or renews) `dir/tls.crt` and `dir/tls.key`, signed by `dir/ca.crt` (made on first use). */
export function makeServingCertificate(dir: string, options: CertificateOptions = {}): ServingCertificateFiles {
  const { dns = ['localhost'], ips = ['127.0.0.1'], days = 2 } = options;
  const args = [MAKE_CERTS, '--out', dir, '--days', String(days)];
  for (const name of dns) args.push('--dns', name);
  for (const ip of ips) args.push('--ip', ip);
  execFileSync('bash', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const certFile = join(dir, 'tls.crt');
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    certFile,
    keyFile: join(dir, 'tls.key'),
    fingerprint256: new X509Certificate(readFileSync(certFile)).fingerprint256,
  };
}
