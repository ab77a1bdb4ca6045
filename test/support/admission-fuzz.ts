// A seeded generator of hostile AdmissionReviews: real fixtures (test/fixtures)
// wrapped as reviews, then mutated in structure, depth, types, sizes and
// unicode, or at the byte level. The same seed gives the same bodies, so a
// failure can be replayed with BGG_FUZZ_SEED.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO } from './built-cli.js';
import { admissionReview } from './admission-review.js';

type Json = Record<string, unknown>;

/** mulberry32: small, fast and good enough to spread mutations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every VirtualService and DestinationRule in test/fixtures, as parsed objects. */
export function fixtureCorpus(): Json[] {
  const out: Json[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(e.name)) {
        for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
          const v = doc.toJS() as unknown;
          const items = isObject(v) && Array.isArray(v.items) ? (v.items as unknown[]) : [v];
          for (const item of items) {
            if (isObject(item) && (item.kind === 'VirtualService' || item.kind === 'DestinationRule') && isObject(item.metadata) && isObject(item.spec)) out.push(item);
          }
        }
      }
    }
  };
  walk(join(REPO, 'test', 'fixtures'));
  return out;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export interface FuzzCase {
  /** What was done, for the failure message. */
  mutation: string;
  body: Buffer;
  /** The uid the body carries where a reader would find it (`request.uid`), if any. */
  uid: string | undefined;
}

const UNICODE = ['\u0000', '\ud800', '\udfff', '\u202e', '\ufeff', '😀', 'ǅ', '\u0085', '\u2028', 'a\u0301', '\\', '"', '\u001b[31m'];

export class ReviewFuzzer {
  private readonly random: () => number;
  private n = 0;

  constructor(
    readonly seed: number,
    private readonly corpus: readonly Json[],
    /** Where the objects are placed (a guarded namespace makes the rules run). */
    private readonly namespace: string,
  ) {
    this.random = prng(seed);
  }

  private int(max: number): number {
    return Math.floor(this.random() * max);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  private unicode(length: number): string {
    let s = '';
    while (s.length < length) s += this.random() < 0.5 ? this.pick(UNICODE) : String.fromCharCode(this.int(0xffff));
    return s;
  }

  private value(): unknown {
    switch (this.int(9)) {
      case 0: return null;
      case 1: return this.random() < 0.5;
      case 2: return this.pick([0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -0, 1e308]);
      case 3: return this.unicode(1 + this.int(40));
      case 4: return [];
      case 5: return {};
      case 6: return [this.unicode(3), 7, null];
      case 7: return { [this.unicode(4)]: this.unicode(4) };
      default: return 'x'.repeat(this.int(200_000));
    }
  }

  /** A review of a corpus object: CREATE, UPDATE or DELETE, in the fuzz namespace. */
  private base(): { review: Json; uid: string } {
    const object = structuredClone(this.pick(this.corpus));
    (object.metadata as Json).namespace = this.namespace;
    if (object.apiVersion === undefined) object.apiVersion = 'networking.istio.io/v1';
    const uid = `fuzz-${this.seed}-${this.n}`;
    const operation = this.pick(['CREATE', 'UPDATE', 'DELETE'] as const);
    return { review: admissionReview(object, { uid, operation }), uid };
  }

  /** Containers in the review, each with the path that reaches it (iterative: the review is shallow). */
  private containers(root: Json): { path: string; node: Json | unknown[] }[] {
    const out: { path: string; node: Json | unknown[] }[] = [];
    const stack: { path: string; node: unknown }[] = [{ path: '', node: root }];
    while (stack.length > 0) {
      const { path, node } = stack.pop()!;
      if (node === null || typeof node !== 'object') continue;
      out.push({ path, node: node as Json | unknown[] });
      for (const [k, v] of Object.entries(node)) stack.push({ path: `${path}/${k}`, node: v });
    }
    return out;
  }

  next(): FuzzCase {
    this.n++;
    const { review, uid } = this.base();
    const request = review.request as Json;
    const spots = this.containers(review);
    const spot = this.pick(spots);
    const keys = Array.isArray(spot.node) ? spot.node.map((_, i) => String(i)) : Object.keys(spot.node);
    const key = keys.length > 0 ? this.pick(keys) : '0';
    const set = (v: unknown): void => {
      (spot.node as Json)[key] = v;
    };
    let mutation: string;
    let bytes: Buffer | undefined;
    switch (this.int(9)) {
      case 0: {
        // Nested in the text, not in objects: serialising 20,000 levels would overflow this process's stack.
        const depth = this.pick([50, 99, 101, 1_000, 10_000, 20_000]);
        const field = this.pick(['kind', 'apiVersion', 'request.operation', 'request.object.kind', 'request.kind', 'here']);
        const asArray = this.random() < 0.7;
        const inner = JSON.stringify(field === 'here' ? ((spot.node as Json)[key] ?? 'x') : 'x');
        const placeholder = `@@nest-${this.n}@@`;
        if (field === 'kind') review.kind = placeholder;
        else if (field === 'apiVersion') review.apiVersion = placeholder;
        else if (field === 'request.operation') request.operation = placeholder;
        else if (field === 'request.kind') request.kind = placeholder;
        else if (field === 'request.object.kind' && isObject(request.object)) request.object.kind = placeholder;
        else set(placeholder);
        const nested = asArray ? `${'['.repeat(depth)}${inner}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
        bytes = Buffer.from(JSON.stringify(review).replace(JSON.stringify(placeholder), () => nested));
        mutation = `nest ${field === 'here' ? `${spot.path}/${key}` : field} ${depth} deep in ${asArray ? 'arrays' : 'objects'}`;
        break;
      }
      case 1:
        set(this.value());
        mutation = `replace ${spot.path}/${key} with another type`;
        break;
      case 2:
        if (Array.isArray(spot.node)) spot.node.splice(Number(key), 1);
        else delete (spot.node)[key];
        mutation = `delete ${spot.path}/${key}`;
        break;
      case 3: {
        const count = this.pick([10, 1_000, 1_001, 5_000, 20_000]);
        const item = (spot.node as Json)[key];
        set(Array.from({ length: count }, () => item));
        mutation = `repeat ${spot.path}/${key} ${count} times`;
        break;
      }
      case 4:
        set(this.unicode(1 + this.int(2_000)));
        mutation = `unicode at ${spot.path}/${key}`;
        break;
      case 5: {
        const spec = isObject(request.object) && isObject(request.object.spec) ? request.object.spec : undefined;
        const routes = spec && Array.isArray(spec.http) ? spec.http : [];
        const weight = this.pick([-1, 2 ** 31, 2 ** 31 - 1, 1e300, 0.5, '100', null]);
        for (const r of routes) for (const d of isObject(r) && Array.isArray(r.route) ? r.route : []) if (isObject(d)) d.weight = weight;
        mutation = `every http weight ${String(weight)}`;
        break;
      }
      case 6: {
        const text = Buffer.from(JSON.stringify(review));
        bytes = text.subarray(0, this.int(text.length));
        mutation = `truncate at byte ${bytes.length}`;
        break;
      }
      case 7: {
        const text = Buffer.from(JSON.stringify(review));
        for (let i = 0; i < 1 + this.int(8); i++) text[this.int(text.length)] = this.int(256);
        bytes = text;
        mutation = 'flip bytes';
        break;
      }
      default:
        set(this.value());
        request.uid = this.pick([uid, '', 7, null, [uid], this.unicode(10)]);
        mutation = `request.uid ${typeof request.uid} and ${spot.path}/${key} replaced`;
    }
    const body = bytes ?? Buffer.from(JSON.stringify(review));
    return { mutation, body, uid: uidIn(body) };
  }
}

/** `request.uid` as a reader of the body finds it, if it parses. */
function uidIn(body: Buffer): string | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    const request = isObject(v) ? v.request : undefined;
    const uid = isObject(request) ? request.uid : undefined;
    return typeof uid === 'string' && uid !== '' ? uid : undefined;
  } catch {
    return undefined;
  }
}

/** The crash input of issue 10: a top-level `kind` array nested 10,000 deep, about 20 KB. */
export function crashInput(namespace: string, object: Json): FuzzCase {
  const review = admissionReview({ ...object, metadata: { ...(object.metadata as Json), namespace } }, { uid: 'crash-kind-10000' });
  const text = JSON.stringify(review).replace('"kind":"AdmissionReview"', `"kind":${'['.repeat(10_000)}"AdmissionReview"${']'.repeat(10_000)}`);
  return { mutation: 'top-level kind nested 10,000 deep', body: Buffer.from(text), uid: 'crash-kind-10000' };
}
