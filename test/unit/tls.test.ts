import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateReloader, loadServingCertificate, type ServingCertificate } from '../../src/webhook/tls.js';
import { makeServingCertificate, type ServingCertificateFiles } from '../support/tls.js';

describe('serving certificate files', () => {
  let root: string;
  let a: ServingCertificateFiles;
  let b: ServingCertificateFiles;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'bluegreen-guard-tls-'));
    a = makeServingCertificate(join(root, 'a'));
    b = makeServingCertificate(join(root, 'b'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('loads a matching pair and describes it', () => {
    const c = loadServingCertificate(a);
    expect(c.fingerprint256).toBe(a.fingerprint256);
    expect(c.subjectAltName).toContain('IP Address:127.0.0.1');
  });

  it.each<[string, () => { certFile: string; keyFile: string }, RegExp]>([
    ['a key of another pair', () => ({ certFile: a.certFile, keyFile: b.keyFile }), /does not belong to the certificate .*write both files of one pair/],
    ['a missing file', () => ({ certFile: join(root, 'none.crt'), keyFile: a.keyFile }), /cannot read the TLS certificate .*none\.crt.*check tls\.certFile/],
    ['a key in the certificate file', () => ({ certFile: a.keyFile, keyFile: a.keyFile }), /is not a PEM certificate/],
  ])('refuses %s, naming the file', (_name, files, message) => {
    expect(() => loadServingCertificate(files())).toThrow(message);
  });

  it('refuses a certificate that has expired', () => {
    const inThreeDays = new Date(Date.now() + 3 * 86_400_000);
    expect(() => loadServingCertificate(a, inThreeDays)).toThrow(/is valid only from .* to .*: renew it/);
  });

  it('switches to a new valid pair, keeps the old one for a bad pair and says so once', () => {
    const dir = join(root, 'live');
    const live = makeServingCertificate(dir);
    const errors: object[] = [];
    const changes: ServingCertificate[] = [];
    const reloader = new CertificateReloader(live, loadServingCertificate(live), {
      onChange: (c) => changes.push(c),
      log: { info: () => undefined, warn: () => undefined, error: (f) => errors.push(f) },
    });
    expect(reloader.reload()).toBe('unchanged');

    copyFileSync(b.keyFile, live.keyFile); // the key of another pair
    expect(reloader.reload()).toBe('invalid');
    expect(reloader.reload()).toBe('invalid');
    expect(errors).toHaveLength(1);
    expect(reloader.current.fingerprint256).toBe(live.fingerprint256);

    writeFileSync(live.keyFile, 'garbage');
    expect(reloader.reload()).toBe('invalid');
    expect(errors).toHaveLength(2);

    const renewed = makeServingCertificate(dir);
    expect(reloader.reload()).toBe('reloaded');
    expect(changes.map((c) => c.fingerprint256)).toEqual([renewed.fingerprint256]);
    expect(reloader.current.fingerprint256).toBe(renewed.fingerprint256);
  });
});
