// Tests wait on conditions, never on fixed sleeps: poll until the condition
// holds, and fail with what was awaited and the last thing seen.

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is awaited, for the error message: "VirtualService reviews back on green". */
  description: string;
}

/**
 * Calls `probe` until it returns a value other than undefined (or false) and
 * returns that value. A probe that throws is retried; its last error is quoted
 * if time runs out.
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions): Promise<T> {
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + options.timeoutMs;
  let last = 'the condition never held';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.description}; ${last}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
