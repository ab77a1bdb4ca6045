// The `mesh` section both processes read (webhook.yaml and watcher.yaml, both
// written by the chart from one `mesh:` value): the facts about the mesh the
// webhook and the watcher must agree on. The keys it replaces (the webhook's
// `rules.rootNamespace`, `rules.clusterDomain`, `rules.defaultStableSubset`,
// the watcher's `--root-namespace` and `--cluster-domain` flags) still work,
// each with a deprecation warning; set together with a different `mesh`
// value they are an error, since the processes would disagree.
import { DEFAULT_MESH, type Mesh } from '../istio/mesh.js';

export const MESH_FIELDS = ['defaultStableSubset', 'clusterDomain', 'rootNamespace', 'guardLabel', 'versionLabel'] as const;
export type MeshField = (typeof MESH_FIELDS)[number];

/** A value given under its old name, and where (`rules.clusterDomain`, `--cluster-domain`). */
export interface LegacyMeshValue {
  value: unknown;
  where: string;
}

export interface ParsedMesh {
  mesh: Mesh;
  /** Each names the field and the fix. */
  problems: string[];
  /** Deprecated keys that were used; the process logs them at start. */
  warnings: string[];
}

const CHECKS: Record<MeshField, (s: string) => string | undefined> = {
  defaultStableSubset: (s) => (/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(s) ? undefined : 'is not a valid subset name; fix: letters, digits, "-", "_" and "."'),
  clusterDomain: (s) =>
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/.test(s) && s.length <= 253
      ? undefined
      : 'is not a DNS domain; fix: the cluster domain the kubelet uses (--cluster-domain), e.g. cluster.local',
  rootNamespace: (s) => (/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s) ? undefined : "is not a valid namespace name; fix: lower-case letters, digits and '-' (Istio's meshConfig.rootNamespace)"),
  guardLabel: labelKey,
  versionLabel: labelKey,
};

/**
 * Validates `mesh` over the defaults. `legacy` holds values given under the
 * old names: each is used when `mesh` leaves the field out, with a warning.
 */
export function parseMeshConfig(raw: unknown, legacy: Partial<Record<MeshField, LegacyMeshValue>> = {}, path = 'mesh'): ParsedMesh {
  const mesh: Mesh = { ...DEFAULT_MESH };
  const problems: string[] = [];
  const warnings: string[] = [];
  let section: Record<string, unknown> = {};
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push(`${path}: must be a mapping with fields ${MESH_FIELDS.join(', ')}, got ${describe(raw)}; fix: write it as key: value pairs`);
    } else {
      section = raw as Record<string, unknown>;
      for (const key of Object.keys(section)) {
        if (!(MESH_FIELDS as readonly string[]).includes(key)) {
          problems.push(`${path}.${key}: unknown field; fix: remove it or correct the spelling (known here: ${MESH_FIELDS.join(', ')})`);
        }
      }
    }
  }
  for (const field of MESH_FIELDS) {
    const given = section[field];
    const old = legacy[field];
    let value = given;
    let where = `${path}.${field}`;
    if (old !== undefined && old.value !== undefined) {
      if (given === undefined) {
        value = old.value;
        where = old.where;
        warnings.push(`${old.where} is deprecated: the webhook and the watcher now read it from ${path}.${field}; fix: move it there`);
      } else if (given !== old.value) {
        problems.push(
          `${old.where} (${describe(old.value)}) and ${path}.${field} (${describe(given)}) disagree; the webhook and the watcher must read the same value; fix: remove ${old.where} and keep ${path}.${field}`,
        );
        continue;
      } else {
        warnings.push(`${old.where} is deprecated and repeats ${path}.${field}; fix: remove it`);
      }
    }
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '') {
      problems.push(`${where}: must be a non-empty string, got ${describe(value)} (default ${JSON.stringify(DEFAULT_MESH[field])})`);
      continue;
    }
    const problem = CHECKS[field](value);
    if (problem) {
      problems.push(`${where}: ${JSON.stringify(value)} ${problem}`);
      continue;
    }
    mesh[field] = value;
  }
  return { mesh, problems, warnings };
}

/** A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
function labelKey(s: string): string | undefined {
  const slash = s.lastIndexOf('/');
  const prefix = slash >= 0 ? s.slice(0, slash) : undefined;
  const name = slash >= 0 ? s.slice(slash + 1) : s;
  const nameOk = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name);
  const prefixOk = prefix === undefined || (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix) && prefix.length <= 253);
  return nameOk && prefixOk ? undefined : 'is not a valid Kubernetes label key; fix: e.g. version or bluegreen-guard.io/guard';
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${JSON.stringify(v) ?? typeof v}`;
}
