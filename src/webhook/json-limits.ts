// Bounds on request bytes, checked before JSON.parse and before any code that
// walks the parsed value. V8's JSON.parse is iterative, but much that follows
// (JSON.stringify in a message, structural comparisons of routes) recurses, so
// nesting is refused here, by a loop over the raw bytes, long before the stack.
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from '../http/json-chars.js';

/**
 * Deepest nesting of arrays and objects accepted in an AdmissionReview. A
 * VirtualService's deepest path (review → request → object → spec → http[] →
 * match[] → headers → name → exact) is about 12 levels; Kubernetes' own JSON
 * decoder stops at 10,000. 100 leaves room for any real object and keeps every
 * recursion on request data shallow.
 */
export const MAX_JSON_DEPTH = 100;


/**
 * Whether JSON text nests arrays/objects deeper than `maxDepth`. Brackets
 * inside strings do not count; UTF-8 continuation bytes are ≥ 0x80, so they
 * never look like one of the bytes this looks for. Malformed text is left to
 * JSON.parse to describe.
 */
export function nestsDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/**
 * A short, non-recursive description of a request value for an error message:
 * strings quoted and cut, containers named by type, never serialised whole.
 */
export function describeValue(v: unknown, maxChars = 80): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') {
    const cut = v.length > maxChars ? `${v.slice(0, maxChars)}…` : v;
    return JSON.stringify(cut);
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return 'an object';
}
