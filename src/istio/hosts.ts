// Host names the way Istio reads them. A short name (no dot) is relative to
// the namespace of the object that names it; anything with a dot is taken as
// written (Istio's ResolveShortnameToFQDN), so `web.shop` is NOT
// `web.shop.svc.cluster.local`.

/** Fully qualified form of `host` as named by an object in `namespace`. */
export function resolveHost(host: string, namespace: string, clusterDomain: string): string {
  if (host === '' || host === '*' || host.includes('.') || isIpAddress(host)) return host;
  return `${host}.${namespace}.svc.${clusterDomain}`;
}

export interface ServiceRef {
  namespace: string;
  name: string;
}

/** The Kubernetes Service behind a fully qualified host, if it is one (`name.ns.svc.<domain>`). */
export function serviceOfHost(fqdn: string, clusterDomain: string): ServiceRef | undefined {
  const suffix = `.svc.${clusterDomain}`;
  if (!fqdn.endsWith(suffix)) return undefined;
  // Exactly `name.namespace` in front of the suffix, neither empty nor `*` (read with indexOf: every rule asks).
  const end = fqdn.length - suffix.length;
  const dot = fqdn.indexOf('.');
  if (dot <= 0 || dot >= end - 1 || fqdn.indexOf('.', dot + 1) !== end) return undefined;
  const name = fqdn.slice(0, dot);
  const namespace = fqdn.slice(dot + 1, end);
  if (name === '*' || namespace === '*') return undefined;
  return { namespace, name };
}

/**
 * The service a destination host names the way Istio's standard metrics label
 * it (`destination_service_name`, `destination_service_namespace`): the
 * Kubernetes Service for `name.ns.svc.<clusterDomain>` (short names resolved
 * first), otherwise (a ServiceEntry host) the host itself, in the namespace of
 * the object that names it.
 */
export function metricsServiceOf(host: string, namespace: string, clusterDomain: string): ServiceRef {
  const fqdn = resolveHost(host, namespace, clusterDomain);
  return serviceOfHost(fqdn, clusterDomain) ?? { namespace, name: fqdn };
}

/**
 * Whether a DestinationRule host (maybe a wildcard like `*.shop.svc.cluster.local`)
 * covers a concrete destination host. Both fully qualified.
 */
export function hostCovers(ruleHost: string, host: string): boolean {
  if (ruleHost === host) return true;
  if (ruleHost === '*') return true;
  if (ruleHost.startsWith('*.')) return host.endsWith(ruleHost.slice(1));
  return false;
}

/** How specific a rule host is: an exact host beats any wildcard, a longer wildcard beats a shorter one. */
export function hostSpecificity(ruleHost: string): number {
  return ruleHost.startsWith('*') ? ruleHost.length : Number.MAX_SAFE_INTEGER;
}

function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
