import { ErrorCode, LivepipeError } from '../core/errors.js';

/**
 * Counts a driver's in-flight operations so `close()` can refuse new ones and wait for the running
 * ones (the "close waits for its children" rule).
 */
export class OperationTracker {
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly name: string) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs `operation` unless closed; a closed tracker rejects with `ErrorCode.Closed`. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new LivepipeError(ErrorCode.Closed, `${this.name} is closed`));
    const promise = operation();
    this.running.add(promise);
    const forget = (): void => {
      this.running.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  /** Refuses new operations and resolves once the running ones have settled. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
