// A trend in one line of terminal: ▁▂▃▄▅▆▇█ scaled between the series' own
// lowest and highest value, `·` where Prometheus had no sample. A flat series
// draws at the bottom, so a spike stands out rather than a column of numbers.
const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

export function sparkline(values: readonly (number | null)[]): string {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (known.length === 0) return values.map(() => '·').join('') || '(no data)';
  const low = Math.min(...known);
  const span = Math.max(...known) - low;
  return values
    .map((v) => {
      if (v === null) return '·';
      if (!Number.isFinite(v)) return BARS[BARS.length - 1];
      const index = span === 0 ? 0 : Math.round(((v - low) / span) * (BARS.length - 1));
      return BARS[index];
    })
    .join('');
}
