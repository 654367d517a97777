import { ErrorCode, LivepipeError, errorMessage, isLivepipeError } from '../core/errors.js';
import type { Component } from './component.js';

/** What the runner logs (a pino logger fits). */
export interface ComponentRunnerLog {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface ComponentRunnerOptions {
  logger: ComponentRunnerLog;
  /**
   * How long one component's `close()` may take before it is reported as timed out and the next one
   * is closed, ms; default 30 000 (the CLI's whole-shutdown deadline: a channel finishing its
   * segment and draining its uploads fits well inside it).
   */
  closeTimeoutMs?: number;
}

/** A component whose `close()` failed or outlived its deadline. */
export interface CloseFailure {
  component: string;
  reason: 'failed' | 'timeout';
  message: string;
}

/**
 * A component's `start()` failed. Keeps the code of a coded cause (a refused config stays
 * `CONFIG_INVALID`); any other failure (a port in use, storage unreachable) is `UNAVAILABLE`.
 */
export class ComponentStartError extends LivepipeError {
  readonly component: string;

  constructor(component: string, cause: unknown) {
    super(isLivepipeError(cause) ? cause.code : ErrorCode.Unavailable, `${component} failed to start: ${errorMessage(cause)}`, {
      cause,
      details: { component },
    });
    this.name = 'ComponentStartError';
    this.component = component;
  }
}

const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

/**
 * Starts components in order and closes them in reverse (STYLE.md, principle 3).
 *
 * - `start(...components)` starts each in turn; it may be called again to start more (a command
 *   that prints something between two stages), but not while a start is in flight.
 * - A `start()` that throws: the components already started (by this call and earlier ones) are
 *   closed in reverse, then a `ComponentStartError` naming the component is thrown.
 * - `close()` closes every started component in reverse. A failure or a timeout (`closeTimeoutMs`
 *   per component) is logged with the component's name and does not stop the other closes; the
 *   failures are what the returned promise resolves to. Idempotent: every call returns the same
 *   promise. A `close()` during a start waits for the component being started, then closes it too;
 *   the rest of that start is skipped (`CLOSED`).
 */
export class ComponentRunner {
  private readonly started: Component[] = [];
  private readonly closeTimeoutMs: number;
  private inFlight: Promise<void> | undefined;
  private closing: Promise<readonly CloseFailure[]> | undefined;

  constructor(private readonly options: ComponentRunnerOptions) {
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  /** Names of the started components, in start order. */
  startedNames(): string[] {
    return this.started.map((c) => c.name);
  }

  async start(...components: Component[]): Promise<void> {
    if (this.closing !== undefined) throw new LivepipeError(ErrorCode.Closed, 'the components are closed');
    if (this.inFlight !== undefined) throw new LivepipeError(ErrorCode.Internal, 'start() called while another start is in flight');
    this.inFlight = this.startInOrder(components);
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }

  close(): Promise<readonly CloseFailure[]> {
    return (this.closing ??= (async () => {
      // A start in flight settles first (its component may be half-way through binding a port).
      await this.inFlight?.catch(() => undefined);
      return this.closeStarted();
    })());
  }

  private async startInOrder(components: readonly Component[]): Promise<void> {
    for (const component of components) {
      if (this.closing !== undefined) throw new LivepipeError(ErrorCode.Closed, `closed before ${component.name} started`);
      try {
        await component.start();
      } catch (err) {
        const error = new ComponentStartError(component.name, err);
        // Unless a close() is already waiting for this start to settle (it closes what started).
        if (this.closing === undefined) {
          this.closing = this.closeStarted();
          await this.closing;
        }
        throw error;
      }
      this.started.push(component);
    }
  }

  private async closeStarted(): Promise<readonly CloseFailure[]> {
    const failures: CloseFailure[] = [];
    for (let component = this.started.pop(); component !== undefined; component = this.started.pop()) {
      const failure = await this.closeWithinDeadline(component);
      if (failure !== undefined) failures.push(failure);
    }
    return failures;
  }

  private async closeWithinDeadline(component: Component): Promise<CloseFailure | undefined> {
    const { logger } = this.options;
    // A close that throws synchronously is a failed close like any other.
    const closed = Promise.resolve().then(() => component.close());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
    });
    try {
      const outcome = await Promise.race([closed.then(() => 'closed' as const), timedOut]);
      if (outcome === 'closed') return undefined;
      // Still closing: a late failure is logged, never left unhandled.
      closed.catch((err: unknown) => logger.error({ component: component.name, err: errorMessage(err) }, 'close failed after its deadline'));
      logger.error({ component: component.name, timeoutMs: this.closeTimeoutMs }, 'close timed out: closing the next component');
      return { component: component.name, reason: 'timeout', message: `did not close within ${this.closeTimeoutMs} ms` };
    } catch (err) {
      logger.error({ component: component.name, err: errorMessage(err) }, 'close failed');
      return { component: component.name, reason: 'failed', message: errorMessage(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}
