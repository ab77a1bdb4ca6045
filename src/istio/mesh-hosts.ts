// Which hosts a VirtualService claims for sidecars (the `mesh` gateway), and
// for which namespaces: Istio's ConflictingMeshGatewayHostsAnalyzer (IST0109,
// pkg/config/analysis/analyzers/virtualservice/conflictingmeshgatewayhosts.go).
// Two VirtualServices that claim the same host for the same namespaces leave
// it undefined which one a sidecar applies.
import { resolveHost } from './hosts.js';
import type { VirtualService } from './types.js';

/** `*`: exported to every namespace; otherwise a namespace name. */
export interface ScopedHost {
  scope: string;
  /** Fully qualified. */
  host: string;
}

const ALL = '*';

export function isOnMeshGateway(vs: VirtualService): boolean {
  const gateways = Array.isArray(vs.spec.gateways) ? vs.spec.gateways : [];
  return gateways.length === 0 || gateways.includes('mesh');
}

// Cached objects are replaced, never edited, on a change: a review compares one
// VirtualService with every other, so their claims are computed once each.
const memo = new WeakMap<VirtualService, { clusterDomain: string; claims: ScopedHost[] }>();

/** The (scope, host) pairs a VirtualService claims on the mesh gateway; none when it is not attached to it. */
export function meshHostClaims(vs: VirtualService, clusterDomain: string): readonly ScopedHost[] {
  const hit = memo.get(vs);
  if (hit?.clusterDomain === clusterDomain) return hit.claims;
  const claims = computeClaims(vs, clusterDomain);
  memo.set(vs, { clusterDomain, claims });
  return claims;
}

function computeClaims(vs: VirtualService, clusterDomain: string): ScopedHost[] {
  if (!isOnMeshGateway(vs)) return [];
  const ns = vs.metadata.namespace;
  const exportTo = Array.isArray(vs.spec.exportTo) ? vs.spec.exportTo : [];
  const scopes = exportTo.length === 0 || exportTo.includes(ALL) ? [ALL] : [...new Set(exportTo.map((e) => (e === '.' ? ns : e)))];
  const hosts = (Array.isArray(vs.spec.hosts) ? vs.spec.hosts : []).filter((h): h is string => typeof h === 'string' && h !== '');
  return scopes.flatMap((scope) => hosts.map((h) => ({ scope, host: resolveHost(h, ns, clusterDomain) })));
}

/**
 * Whether two claims conflict, as the analyzer decides: the same host in the
 * same scope, or a host in one namespace's scope that overlaps (wildcards
 * included) a host exported everywhere.
 */
export function claimsConflict(a: ScopedHost, b: ScopedHost): boolean {
  if (a.scope === b.scope) return a.host === b.host;
  if (a.scope !== ALL && b.scope !== ALL) return false;
  return hostsOverlap(a.host, b.host);
}

/** Istio's host.Name.Matches: identical, or a wildcard that covers the other name. */
export function hostsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const covers = (wild: string, other: string) => wild === ALL || (wild.startsWith('*.') && other.endsWith(wild.slice(1)));
  return covers(a, b) || covers(b, a);
}

/** The hosts `vs` claims that `other` also claims for the same namespaces, as `vs` writes them resolved. */
export function conflictingHosts(vs: VirtualService, other: VirtualService, clusterDomain: string): string[] {
  const mineAll = meshHostClaims(vs, clusterDomain);
  if (mineAll.length === 0) return [];
  const theirs = meshHostClaims(other, clusterDomain);
  const hosts = new Set<string>();
  for (const mine of mineAll) if (theirs.some((t) => claimsConflict(mine, t))) hosts.add(mine.host);
  return [...hosts];
}
