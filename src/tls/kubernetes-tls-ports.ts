// The rotator's ports over @kubernetes/client-node: the TLS Secret (get,
// update with resourceVersion) and the caBundle of the webhook configuration
// (get, update with resourceVersion) - exactly the verbs the chart grants.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdmissionregistrationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { CaBundleTarget, ServingPairSink, TlsSecretData, TlsSecretStore } from './tls-rotator.js';

const KEYS = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'previous-ca.crt'] as const;

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export class KubernetesTlsSecretStore implements TlsSecretStore {
  constructor(private readonly api: CoreV1Api, private readonly namespace: string, private readonly name: string) {}

  async read(): Promise<{ data: TlsSecretData; resourceVersion: string }> {
    try {
      const secret = await this.api.readNamespacedSecret({ namespace: this.namespace, name: this.name });
      const data: TlsSecretData = {};
      for (const k of KEYS) {
        const v = secret.data?.[k];
        if (v) data[k] = Buffer.from(v, 'base64').toString('utf8');
      }
      return { data, resourceVersion: secret.metadata?.resourceVersion ?? '' };
    } catch (err) {
      throw new Error(`reading Secret ${this.namespace}/${this.name} failed (HTTP ${httpCode(err) ?? '?'}): ${(err as Error).message}; fix: the chart creates it empty and grants get/update on it to the webhook's ServiceAccount`, { cause: err });
    }
  }

  async write(data: TlsSecretData, resourceVersion: string): Promise<boolean> {
    const encoded: Record<string, string> = {};
    for (const k of KEYS) if (data[k]) encoded[k] = Buffer.from(data[k], 'utf8').toString('base64');
    try {
      const current = await this.api.readNamespacedSecret({ namespace: this.namespace, name: this.name });
      await this.api.replaceNamespacedSecret({
        namespace: this.namespace,
        name: this.name,
        body: { ...current, metadata: { ...current.metadata, resourceVersion }, data: encoded },
      });
      return true;
    } catch (err) {
      if (httpCode(err) === 409) return false;
      throw new Error(`updating Secret ${this.namespace}/${this.name} failed (HTTP ${httpCode(err) ?? '?'}): ${(err as Error).message}`, { cause: err });
    }
  }
}

export class KubernetesCaBundleTarget implements CaBundleTarget {
  constructor(private readonly api: AdmissionregistrationV1Api, private readonly name: string) {}

  async read(): Promise<string[]> {
    const vwc = await this.get();
    return (vwc.webhooks ?? []).map((w) => (w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : ''));
  }

  async write(bundlePem: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const vwc = await this.get();
      for (const w of vwc.webhooks ?? []) w.clientConfig.caBundle = Buffer.from(bundlePem, 'utf8').toString('base64');
      try {
        await this.api.replaceValidatingWebhookConfiguration({ name: this.name, body: vwc });
        return;
      } catch (err) {
        if (httpCode(err) !== 409 || attempt >= 5) {
          throw new Error(`updating the caBundle of ValidatingWebhookConfiguration ${this.name} failed (HTTP ${httpCode(err) ?? '?'}): ${(err as Error).message}`, { cause: err });
        }
      }
    }
  }

  private async get() {
    try {
      return await this.api.readValidatingWebhookConfiguration({ name: this.name });
    } catch (err) {
      throw new Error(`reading ValidatingWebhookConfiguration ${this.name} failed (HTTP ${httpCode(err) ?? '?'}): ${(err as Error).message}; fix: the chart grants get and update on it by name`, { cause: err });
    }
  }
}

/** tls.crt and tls.key in a directory the webhook watches; each replaced by rename, never half-written. */
export class DirectoryServingPairSink implements ServingPairSink {
  constructor(private readonly dir: string) {}

  write(certPem: string, keyPem: string): boolean {
    const certPath = join(this.dir, 'tls.crt');
    const keyPath = join(this.dir, 'tls.key');
    const same = existsSync(certPath) && existsSync(keyPath) && readFileSync(certPath, 'utf8') === certPem && readFileSync(keyPath, 'utf8') === keyPem;
    if (same) return false;
    // Key first: a reader that sees the new certificate also finds its key.
    for (const [path, text, mode] of [[keyPath, keyPem, 0o600], [certPath, certPem, 0o644]] as const) {
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, text, { mode });
      chmodSync(tmp, mode);
      renameSync(tmp, path);
    }
    return true;
  }
}
