import type { Labels } from './types.js';

/** Equality-based selection, as a Service selector or a DestinationRule subset selects pods. */
export function selects(selector: Labels, labels: Labels | undefined): boolean {
  for (const key in selector) {
    if (labels?.[key] !== selector[key]) return false;
  }
  return true;
}

/** `app=web,version=v2`, the form `kubectl get pods -l` takes. */
export function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}
