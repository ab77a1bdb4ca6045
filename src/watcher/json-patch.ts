// RFC 6902 JSON Patch operations, the only write format the watcher uses on a
// VirtualService: the API server applies them to the object as it is at write
// time, so fields we never name (and fields added by newer Istio versions that
// our slim types do not know) cannot be lost.

export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** RFC 6901: `~` → `~0`, `/` → `~1`, so `bluegreen-guard.io/x` can be a path segment. */
export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => '/' + escapePointerSegment(String(s))).join('');
}

/** Precondition on the object's version: the API server refuses the patch if anyone wrote since we read. */
export function testResourceVersion(resourceVersion: string): JsonPatchOp {
  return { op: 'test', path: '/metadata/resourceVersion', value: resourceVersion };
}

/**
 * Ops that set (string) or delete (null) annotations, given the annotations the
 * object has now. `add` on an existing member replaces it (RFC 6902 §4.1), so only
 * a missing `metadata.annotations` needs its own op; removing an absent key is
 * skipped because `remove` of a missing path fails the whole patch.
 */
export function annotationOps(current: Readonly<Record<string, string>> | undefined, changes: Readonly<Record<string, string | null>>): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const sets = Object.entries(changes).filter((e): e is [string, string] => e[1] !== null);
  if (current === undefined) {
    if (sets.length > 0) ops.push({ op: 'add', path: '/metadata/annotations', value: Object.fromEntries(sets) });
    return ops;
  }
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) {
      if (key in current) ops.push({ op: 'remove', path: pointer('metadata', 'annotations', key) });
    } else if (current[key] !== value) {
      ops.push({ op: 'add', path: pointer('metadata', 'annotations', key), value });
    }
  }
  return ops;
}
