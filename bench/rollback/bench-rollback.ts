import type { BenchContext } from '../lib/report.js';
export function benchRollback(_ctx: BenchContext): Promise<unknown> {
  return Promise.reject(new Error('not written yet'));
}
