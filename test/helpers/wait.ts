/**
 * The one polling wait of the tests: calls `probe` until its value is ready, then returns it. For
 * test synchronisation, not for timing assertions. A probe that throws ends the wait with its error.
 */
export interface WaitOptions<T> {
  /** Gives up with an error after this long; default 30 000 ms. */
  timeoutMs?: number;
  /** Pause between two probes; default 100 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout error; default the probe's source text. */
  message?: string;
  /** When the value is ready; default: any value other than `undefined` and `false`. */
  until?: (value: T) => boolean;
}

/** Not `undefined` or `false`: what a probe without `until` returns once it is ready. */
export type Ready<T> = Exclude<T, undefined | false>;

export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T> & { until: (value: T) => boolean }): Promise<T>;
export async function waitFor<T>(probe: () => T | Promise<T>, options?: WaitOptions<T>): Promise<Ready<T>>;
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T> = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 100 } = options;
  const ready = options.until ?? ((value: T) => value !== undefined && value !== false);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ready(value)) return value;
    if (Date.now() > deadline) {
      const what = options.message ?? probe.toString().replace(/\s+/g, ' ').slice(0, 200);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function describe(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 500);
  } catch {
    return String(value).slice(0, 500);
  }
}
