import type { Pod } from '../../istio/types.js';

/** `web-v2-a, web-v2-b and 3 more`: pod names for messages, bounded. */
export function podList(pods: readonly Pod[], max = 3): string {
  const names = pods.slice(0, max).map((p) => p.metadata.name);
  return pods.length > max ? `${names.join(', ')} and ${pods.length - max} more` : names.join(', ');
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
