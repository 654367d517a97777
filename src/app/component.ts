/**
 * The lifecycle contract of everything the composition root builds (STYLE.md, principle 3): a
 * `name` for logs and errors, an `async start()` that validates and may fail loudly, and a `close()`
 * that waits for the component's children. `ComponentRunner` starts components in order and closes
 * them in reverse; it calls `close()` at most once per `start()` that succeeded, so a component
 * whose own `close()` is idempotent (most are) may be handed over as it is.
 */
export interface Component {
  /** Shown in logs and in the error of a failed start: `storage`, `origin`, `channels`, `api`… */
  readonly name: string;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What `component()` adapts: a `start` is optional (built ready, e.g. the event bus). */
export interface ComponentParts {
  start?(): unknown;
  close(): unknown;
}

/**
 * A `Component` from a name and the lifecycle methods of something that does not implement the
 * interface itself (a server, a queue, a supervisor). What `start`/`close` return is awaited, then dropped.
 */
export function component(name: string, parts: ComponentParts): Component {
  return {
    name,
    async start() {
      await parts.start?.();
    },
    async close() {
      await parts.close();
    },
  };
}
