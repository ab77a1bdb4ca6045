// How the webhook reaches its API server: the server's URL and, per request,
// its TLS trust and credentials. Read from a kubeconfig file or the pod's
// ServiceAccount without @kubernetes/client-node, whose import alone costs the
// webhook process about 80 MiB resident and 25 MB of heap that every major
// collection marks (docs/benchmarks.md, part 1). What this reader does not
// cover (exec plugins, auth providers, proxies, a KUBECONFIG list of files to
// merge) is handed to client-node's KubeConfig, loaded only then.
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

export type KubeRequestOptions = RequestOptions & { headers: Record<string, string> };

export interface KubeAccess {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  /** Where the access was read from, for messages. */
  readonly source: string;
  /** Sets TLS trust and credentials on a request; token files are read each time, so rotated tokens are picked up. */
  apply(options: KubeRequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeAccessEnvironment {
  env: NodeJS.ProcessEnv;
  home: string;
  serviceAccountDir: string;
}

const processEnvironment = (): KubeAccessEnvironment => ({ env: process.env, home: homedir(), serviceAccountDir: SERVICE_ACCOUNT_DIR });

export class KubeAccessError extends Error {}

/**
 * Reads access the way kubectl and client-node's `loadFromDefault` look for it:
 * the `kubeconfig` given, else $KUBECONFIG, else ~/.kube/config, else the pod's
 * ServiceAccount. `context` overrides the file's current-context.
 */
export async function loadKubeAccess(kubeconfig: string | null | undefined, context: string | null | undefined, environment = processEnvironment()): Promise<KubeAccess> {
  const { env, home, serviceAccountDir } = environment;
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (!kubeconfig && fromEnv.length > 1) return clientNodeAccess(fromEnv, context, `$KUBECONFIG (${fromEnv.length} files to merge)`);
  const path = kubeconfig || fromEnv[0] || (existsSync(join(home, '.kube', 'config')) ? join(home, '.kube', 'config') : undefined);
  if (path) {
    const read = readKubeconfig(path, context);
    return read === 'needs-client-node' ? clientNodeAccess([path], context, `the kubeconfig ${path}`) : read;
  }
  if (env.KUBERNETES_SERVICE_HOST) return inClusterAccess(env, serviceAccountDir);
  throw new KubeAccessError('no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a pod (KUBERNETES_SERVICE_HOST unset); fix: pass --kubeconfig');
}

/** The pod's ServiceAccount: its token (re-read per request) and the cluster's CA. */
function inClusterAccess(env: NodeJS.ProcessEnv, dir: string): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const tokenFile = join(dir, 'token');
  const ca = readRequired(join(dir, 'ca.crt'), 'the ServiceAccount CA', 'mount the ServiceAccount token (automountServiceAccountToken: true)');
  return {
    server,
    source: `the pod's ServiceAccount (${dir})`,
    async apply(options) {
      options.ca = ca;
      options.headers.Authorization = `Bearer ${(await readToken(tokenFile)).trim()}`;
    },
  };
}

interface ClusterEntry {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}

/** One kubeconfig file: its current (or the given) context's cluster and user. */
export function readKubeconfig(path: string, context: string | null | undefined): KubeAccess | 'needs-client-node' {
  const where = `the kubeconfig ${path}`;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KubeAccessError(`cannot read ${where}: ${(e as Error).message}; fix: pass --kubeconfig with a readable kubeconfig file`, { cause: e });
  }
  if (!isRecord(doc)) throw new KubeAccessError(`${where} is not a kubeconfig (no mapping at the top); fix: pass --kubeconfig with a kubeconfig file`);
  const contextName = context || (typeof doc['current-context'] === 'string' ? doc['current-context'] : '');
  if (!contextName) throw new KubeAccessError(`${where} names no current-context; fix: set current-context or pass --context`);
  const ctx = entry<{ cluster?: string; user?: string }>(doc, 'contexts', 'context', contextName);
  if (!ctx) throw new KubeAccessError(`${where} has no context ${contextName}; fix: pass --context with one of its contexts`);
  const cluster = ctx.cluster ? entry<ClusterEntry>(doc, 'clusters', 'cluster', ctx.cluster) : undefined;
  if (!cluster?.server) {
    throw new KubeAccessError(`${where} names no current cluster with a server for context ${contextName}; fix: pass --kubeconfig and --context`);
  }
  const user = (ctx.user ? entry<UserEntry>(doc, 'users', 'user', ctx.user) : undefined) ?? {};
  if (user.exec !== undefined || user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined) return 'needs-client-node';

  const base = dirname(resolve(path));
  const file = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const bytes = (data: string | undefined, filePath: string | undefined, what: string): Buffer | undefined => {
    if (data) return Buffer.from(data, 'base64');
    if (filePath) return readRequired(file(filePath), `${what} named by ${where}`, 'fix the path in the kubeconfig');
    return undefined;
  };
  const ca = bytes(cluster['certificate-authority-data'], cluster['certificate-authority'], 'the cluster CA');
  const cert = bytes(user['client-certificate-data'], user['client-certificate'], 'the client certificate');
  const key = bytes(user['client-key-data'], user['client-key'], 'the client key');
  const tokenFile = user.tokenFile ? file(user.tokenFile) : undefined;
  const basic = user.username !== undefined ? `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    source: `${where} (context ${contextName})`,
    async apply(options) {
      if (ca) options.ca = ca;
      if (cert) options.cert = cert;
      if (key) options.key = key;
      if (cluster['insecure-skip-tls-verify'] === true) options.rejectUnauthorized = false;
      if (cluster['tls-server-name']) options.servername = cluster['tls-server-name'];
      if (user.token) options.headers.Authorization = `Bearer ${user.token}`;
      else if (tokenFile) options.headers.Authorization = `Bearer ${(await readToken(tokenFile)).trim()}`;
      else if (basic) options.headers.Authorization = basic;
    },
  };
}

/**
 * Access through client-node's KubeConfig, for what the reader above does not
 * cover. Several files are merged as client-node's loadFromDefault merges $KUBECONFIG.
 */
async function clientNodeAccess(paths: string[], context: string | null | undefined, source: string): Promise<KubeAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    for (const [i, path] of paths.entries()) {
      if (i === 0) {
        kc.loadFromFile(path);
        continue;
      }
      const next = new KubeConfig();
      next.loadFromFile(path);
      kc.mergeConfig(next);
    }
  } catch (e) {
    throw new KubeAccessError(`cannot load ${source}: ${(e as Error).message}; fix: pass --kubeconfig with a readable kubeconfig file`, { cause: e });
  }
  if (context) kc.setCurrentContext(context);
  return kubeConfigAccess(kc, source);
}

/** Wraps a loaded KubeConfig (the watcher and the CLIs hold one already). */
export function kubeConfigAccess(kc: KubeConfig, source = 'the kubeconfig'): KubeAccess {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeAccessError(`${source} names no current cluster; fix: pass --kubeconfig and --context`);
  return {
    server: cluster.server.replace(/\/+$/, ''),
    source,
    apply: (options) => kc.applyToHTTPSOptions(options),
  };
}

function entry<T>(doc: Record<string, unknown>, list: string, field: string, name: string): T | undefined {
  const items = Array.isArray(doc[list]) ? (doc[list] as unknown[]) : [];
  const found = items.find((item): item is Record<string, unknown> => isRecord(item) && item.name === name);
  const value = found?.[field];
  return isRecord(value) ? (value as T) : undefined;
}

function readRequired(path: string, what: string, fix: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new KubeAccessError(`cannot read ${what} at ${path}: ${(e as Error).message}; ${fix}`, { cause: e });
  }
}

async function readToken(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new KubeAccessError(`cannot read the token file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
