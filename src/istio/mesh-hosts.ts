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

interface Claim extends ScopedHost {
  vs: VirtualService;
}

/** Every mesh claim of a set of VirtualServices, by host; wildcard hosts apart, as they can cover any name. */
interface HostIndex {
  exact: Map<string, Claim[]>;
  wildcard: Claim[];
  all: Claim[];
}

const isWildcard = (host: string) => host.startsWith('*');

// The cluster state hands out the same list until a VirtualService changes, so the index is built
// once per change, not once per review.
const indexMemo = new WeakMap<readonly VirtualService[], { clusterDomain: string; index: HostIndex }>();

function hostIndex(list: readonly VirtualService[], clusterDomain: string): HostIndex {
  const hit = indexMemo.get(list);
  if (hit?.clusterDomain === clusterDomain) return hit.index;
  const index: HostIndex = { exact: new Map(), wildcard: [], all: [] };
  for (const vs of list) {
    for (const claim of meshHostClaims(vs, clusterDomain)) {
      const c = { ...claim, vs };
      index.all.push(c);
      if (isWildcard(c.host)) index.wildcard.push(c);
      else {
        let claims = index.exact.get(c.host);
        if (!claims) index.exact.set(c.host, (claims = []));
        claims.push(c);
      }
    }
  }
  indexMemo.set(list, { clusterDomain, index });
  return index;
}

/**
 * The VirtualServices of `others` whose mesh claims conflict with `vs`'s, each with the hosts of
 * `vs` involved. `vs` itself (same namespace and name) is never among them.
 */
export function meshHostConflicts(vs: VirtualService, others: readonly VirtualService[], clusterDomain: string): Map<VirtualService, string[]> {
  const found = new Map<VirtualService, Set<string>>();
  const mine = meshHostClaims(vs, clusterDomain);
  if (mine.length === 0) return new Map();
  const index = hostIndex(others, clusterDomain);
  const same = (o: VirtualService) => o.metadata.namespace === vs.metadata.namespace && o.metadata.name === vs.metadata.name;
  for (const claim of mine) {
    const candidates = isWildcard(claim.host) ? index.all : [...(index.exact.get(claim.host) ?? []), ...index.wildcard];
    for (const c of candidates) {
      if (same(c.vs) || !claimsConflict(claim, c)) continue;
      let hosts = found.get(c.vs);
      if (!hosts) found.set(c.vs, (hosts = new Set()));
      hosts.add(claim.host);
    }
  }
  return new Map([...found].map(([o, hosts]) => [o, [...hosts]]));
}
