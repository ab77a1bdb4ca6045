// A process that has just listed a whole cluster has parsed its JSON once and
// kept a small slim copy: for 20,000 pods some 40 MB live out of 300 MB
// resident, because V8 keeps the heap it grew for that garbage until memory
// gets tight. One collection that reduces the footprint (V8's "last resort"
// flavour) gives it back. Node offers it only through the gc() extension,
// enabled here on first use; where that is unavailable nothing happens.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gc: Gc | undefined;

/** Collects garbage and returns the freed heap to the operating system; returns how long it took (ms), or undefined when gc() is unavailable. */
export function releaseHeap(): number | undefined {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    const found: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    if (typeof found !== 'function') return undefined;
    gc = found as Gc;
  }
  const started = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return Math.round(performance.now() - started);
}
