import { spawn } from 'node:child_process';
import { errorMessage } from '../core/errors.js';
import { LivepipeEvent, type EventBus } from '../core/event-bus.js';

/**
 * Readiness checks behind `GET /readyz`. Each check is injected by the composition root: it resolves
 * when healthy and throws (or rejects) with a reason otherwise. `/healthz` only says the process
 * answers; `/readyz` says it can do its job.
 */
export interface ReadinessCheck {
  /** Short stable name reported in the response, e.g. `storage`, `ffmpeg`, `listeners`. */
  name: string;
  check(): Promise<void> | void;
}

export interface ReadinessResult {
  name: string;
  ok: boolean;
  /** Why the check failed. */
  error?: string;
}

/** A check that has not answered after this long counts as failed (default 2 s: probes time out soon after). */
export const DEFAULT_CHECK_TIMEOUT_MS = 2000;

/** Runs every check concurrently, each bounded by `timeoutMs`. */
export async function runReadinessChecks(checks: readonly ReadinessCheck[], timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<ReadinessResult[]> {
  return Promise.all(
    checks.map(async ({ name, check }): Promise<ReadinessResult> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      });
      try {
        await Promise.race([Promise.resolve().then(check), timeout]);
        return { name, ok: true };
      } catch (err) {
        return { name, ok: false, error: errorMessage(err) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** Storage answers `ping()` (the `ObjectStorage` readiness call). */
export function storageReadinessCheck(storage: { ping(): Promise<void> }, name = 'storage'): ReadinessCheck {
  return { name, check: () => storage.ping() };
}

/**
 * The ffmpeg binary runs (`ffmpeg -version` exits 0). The answer is cached once positive: a binary does
 * not disappear often, and probes come every few seconds.
 */
export function binaryReadinessCheck(binary: string, name = 'ffmpeg'): ReadinessCheck {
  let present = false;
  return {
    name,
    async check() {
      if (present) return;
      await new Promise<void>((resolve, reject) => {
        const child = spawn(binary, ['-version'], { stdio: 'ignore' });
        child.once('error', (err) => reject(new Error(`${binary}: ${err.message}`)));
        child.once('exit', (code, signal) => {
          if (code === 0) resolve();
          else reject(new Error(`${binary} -version exited with ${signal ?? code}`));
        });
      });
      present = true;
    },
  };
}

/** Every named listener is bound (e.g. origin, RTMP); names the ones that are not. */
export function listenersReadinessCheck(listeners: ReadonlyArray<{ name: string; isListening(): boolean }>, name = 'listeners'): ReadinessCheck {
  return {
    name,
    check() {
      const down = listeners.filter((listener) => !listener.isListening()).map((listener) => listener.name);
      if (down.length > 0) throw new Error(`not listening: ${down.join(', ')}`);
    },
  };
}

/**
 * Uploads are succeeding: follows `LivepipeEvent.StorageHealth`, which each channel's upload queue
 * emits when its writes start failing (after a few consecutive failures) and when they recover.
 * A ping can succeed while writes fail (a full disk, a read-only bucket policy, a throttled prefix);
 * this check says so while it lasts. `close()` unsubscribes.
 */
export function uploadHealthReadinessCheck(bus: Pick<EventBus, 'on'>, name = 'uploads'): ReadinessCheck & { close(): void } {
  const failing = new Map<string, string>();
  const off = bus.on(LivepipeEvent.StorageHealth, ({ healthy, error, channel }) => {
    const key = channel ?? '(shared)';
    if (healthy) failing.delete(key);
    else failing.set(key, error ?? 'failing');
  });
  return {
    name,
    check() {
      if (failing.size === 0) return;
      const [first] = failing.values();
      throw new Error(`uploads failing for ${[...failing.keys()].sort().join(', ')}: ${first}`);
    },
    close: off,
  };
}
