// The serving certificate, read from files and reloaded when they change
// (cert-manager, a Secret volume's symlink swap, a copy by hand) without a
// restart: new TLS handshakes get the new pair, open connections keep theirs.
// A pair that does not load or does not match is refused and the old one kept.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface ServingCertificate {
  cert: Buffer;
  key: Buffer;
  fingerprint256: string;
  subject: string;
  subjectAltName: string;
  validTo: string;
}

/** What the reloader says about itself; a pino logger fits. */
export interface TlsLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Reads and checks a certificate/key pair. Throws an error naming the file and the fix. */
export function loadServingCertificate(files: TlsFiles, now = new Date()): ServingCertificate {
  const cert = readPem(files.certFile, 'certificate');
  const key = readPem(files.keyFile, 'private key');
  return checkPair(files, cert, key, now);
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(e as Error).message}; check tls.${what === 'certificate' ? 'certFile' : 'keyFile'}`, { cause: e });
  }
}

function checkPair(files: TlsFiles, cert: Buffer, key: Buffer, now: Date): ServingCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`${files.certFile} is not a PEM certificate (${(e as Error).message})`, { cause: e });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new Error(`${files.keyFile} is not a PEM private key (${(e as Error).message})`, { cause: e });
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new Error(`the key ${files.keyFile} does not belong to the certificate ${files.certFile}: write both files of one pair`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new Error(`TLS refuses the pair ${files.certFile} / ${files.keyFile}: ${(e as Error).message}`, { cause: e });
  }
  if (new Date(x509.validTo) < now || new Date(x509.validFrom) > now) {
    throw new Error(`the certificate ${files.certFile} is valid only from ${x509.validFrom} to ${x509.validTo}: renew it`);
  }
  return {
    cert,
    key,
    fingerprint256: x509.fingerprint256,
    subject: x509.subject.replace(/\n/g, ', '),
    subjectAltName: x509.subjectAltName ?? '',
    validTo: x509.validTo,
  };
}

export interface CertificateReloaderOptions {
  /** Called with every new valid pair; wire it to `server.setSecureContext`. */
  onChange: (certificate: ServingCertificate) => void;
  log: TlsLog;
  /** Re-read the files this often even without a file-system event (some volumes send none). */
  pollIntervalMs?: number;
  /** Coalesce a burst of events (cert and key written one after the other). */
  debounceMs?: number;
}

export type ReloadResult = 'unchanged' | 'reloaded' | 'invalid';

export class CertificateReloader {
  private currentCert: ServingCertificate;
  private readonly watchers: FSWatcher[] = [];
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastRejected = '';

  constructor(
    private readonly files: TlsFiles,
    initial: ServingCertificate,
    private readonly options: CertificateReloaderOptions,
  ) {
    this.currentCert = initial;
  }

  get current(): ServingCertificate {
    return this.currentCert;
  }

  start(): void {
    const { pollIntervalMs = 10_000 } = this.options;
    for (const dir of new Set([dirname(this.files.certFile), dirname(this.files.keyFile)])) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', (e) => {
          this.options.log.warn({ dir, err: e.message }, 'watching the certificate directory failed; relying on polling');
          w.close();
        });
        this.watchers.push(w);
      } catch (e) {
        this.options.log.warn({ dir, err: (e as Error).message }, 'cannot watch the certificate directory; relying on polling');
      }
    }
    this.poller = setInterval(() => this.reload(), pollIntervalMs);
    this.poller.unref();
  }

  stop(): void {
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    clearInterval(this.poller);
    clearTimeout(this.debounce);
  }

  /** Read the files now; switch to them if they changed and are a valid pair. */
  reload(now = new Date()): ReloadResult {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(this.files.certFile);
      key = readFileSync(this.files.keyFile);
    } catch (e) {
      return this.refuse(`unreadable: ${(e as Error).message}`, (e as Error).message);
    }
    if (cert.equals(this.currentCert.cert) && key.equals(this.currentCert.key)) return 'unchanged';
    let next: ServingCertificate;
    try {
      next = checkPair(this.files, cert, key, now);
    } catch (e) {
      return this.refuse((e as Error).message, createHash('sha256').update(cert).update(key).digest('hex'));
    }
    this.currentCert = next;
    this.lastRejected = '';
    this.options.onChange(next);
    this.options.log.info(
      { certFile: this.files.certFile, subject: next.subject, subjectAltName: next.subjectAltName, validTo: next.validTo, fingerprint256: next.fingerprint256 },
      'serving a new TLS certificate',
    );
    return 'reloaded';
  }

  private refuse(reason: string, identity: string): ReloadResult {
    // Log each bad state once, not on every poll.
    if (identity !== this.lastRejected) {
      this.lastRejected = identity;
      this.options.log.error(
        { certFile: this.files.certFile, keyFile: this.files.keyFile, err: reason, fingerprint256: this.currentCert.fingerprint256 },
        'the certificate files changed but cannot be used; still serving the previous certificate',
      );
    }
    return 'invalid';
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), this.options.debounceMs ?? 100);
    this.debounce.unref();
  }
}
