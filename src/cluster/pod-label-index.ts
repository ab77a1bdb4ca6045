import { selects } from '../istio/labels.js';
import type { Labels, Pod } from '../istio/types.js';

/**
 * Pods of one namespace indexed by `key=value`, so a selector is answered by
 * the smallest posting list it names instead of a scan of the namespace: a
 * subset lookup in a namespace of 20,000 pods touches only the pods that carry
 * its rarest label.
 */
export class PodLabelIndex {
  private readonly byName = new Map<string, Pod>();
  /** label key → label value → the pods carrying it; nested, so a lookup builds no `key=value` string. */
  private readonly byLabel = new Map<string, Map<string, Set<Pod>>>();

  get size(): number {
    return this.byName.size;
  }

  upsert(pod: Pod): void {
    this.remove(pod.metadata.name);
    this.byName.set(pod.metadata.name, pod);
    const labels = pod.metadata.labels ?? {};
    for (const key in labels) {
      const value = labels[key] as string;
      let values = this.byLabel.get(key);
      if (!values) this.byLabel.set(key, (values = new Map<string, Set<Pod>>()));
      let posting = values.get(value);
      if (!posting) values.set(value, (posting = new Set<Pod>()));
      posting.add(pod);
    }
  }

  remove(name: string): void {
    const old = this.byName.get(name);
    if (!old) return;
    this.byName.delete(name);
    const labels = old.metadata.labels ?? {};
    for (const key in labels) {
      const values = this.byLabel.get(key);
      const value = labels[key] as string;
      const posting = values?.get(value);
      posting?.delete(old);
      if (posting?.size === 0) values!.delete(value);
      if (values?.size === 0) this.byLabel.delete(key);
    }
  }

  all(): Pod[] {
    return [...this.byName.values()];
  }

  matching(selector: Labels): Pod[] {
    let smallest: Set<Pod> | undefined;
    for (const key in selector) {
      const posting = this.byLabel.get(key)?.get(selector[key] as string);
      if (!posting) return [];
      if (!smallest || posting.size < smallest.size) smallest = posting;
    }
    if (!smallest) return this.all();
    const found: Pod[] = [];
    for (const pod of smallest) if (selects(selector, pod.metadata.labels)) found.push(pod);
    return found;
  }
}
