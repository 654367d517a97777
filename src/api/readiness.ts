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
  /**
   * A failure means the node does its job worse, not that it cannot: `/readyz` still answers 200,
   * with status `degraded` and the check named (e.g. storage down while `serve` keeps the live edge
   * in memory: taking the node out of service would stop its viewers and publishers for nothing).
   */
  degradesOnly?: boolean;
}

export interface ReadinessResult {
  name: string;
  ok: boolean;
  /** Why the check failed. */
  error?: string;
  /** The check failed, and it only degrades the node (see `ReadinessCheck.degradesOnly`). */
  degraded?: true;
}

/** `ready` when every check passed, `degraded` when only degrading ones failed, else `not-ready`. */
export function readinessStatus(results: readonly ReadinessResult[]): 'ready' | 'degraded' | 'not-ready' {
  if (results.some((r) => !r.ok && r.degraded !== true)) return 'not-ready';
  return results.some((r) => !r.ok) ? 'degraded' : 'ready';
}

/** A check that has not answered after this long counts as failed (default 2 s: probes time out soon after). */
export const DEFAULT_CHECK_TIMEOUT_MS = 2000;

/** Runs every check concurrently, each bounded by `timeoutMs`. */
export async function runReadinessChecks(checks: readonly ReadinessCheck[], timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<ReadinessResult[]> {
  return Promise.all(
    checks.map(async ({ name, check, degradesOnly }): Promise<ReadinessResult> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      });
      try {
        await Promise.race([Promise.resolve().then(check), timeout]);
        return { name, ok: true };
      } catch (err) {
        return { name, ok: false, error: errorMessage(err), ...(degradesOnly === true ? { degraded: true as const } : {}) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** Storage answers `ping()` (the `ObjectStorage` readiness call). `degradesOnly`: see `ReadinessCheck`. */
export function storageReadinessCheck(storage: { ping(): Promise<void> }, name = 'storage', degradesOnly = false): ReadinessCheck {
  return { name, check: () => storage.ping(), ...(degradesOnly ? { degradesOnly } : {}) };
}

/**
 * The ffmpeg binary runs (`ffmpeg -version` exits 0). The answer is cached once positive: a binary does
 * not disappear often, and probes come every few seconds. The first run starts when the check is made,
 * not at the first probe, and a run still going is shared by the probes that come meanwhile: on a busy
 * node `ffmpeg -version` can take longer than a probe's deadline, and starting it afresh on every probe
 * then kept a healthy node not ready.
 */
export function binaryReadinessCheck(binary: string, name = 'ffmpeg'): ReadinessCheck {
  let present = false;
  let running: Promise<void> | undefined;
  const run = (): Promise<void> => {
    running ??= new Promise<void>((resolve, reject) => {
      const child = spawn(binary, ['-version'], { stdio: 'ignore' });
      child.once('error', (err) => reject(new Error(`${binary}: ${err.message}`)));
      child.once('exit', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${binary} -version exited with ${signal ?? code}`));
      });
    }).then(
      () => {
        present = true;
      },
      (err: unknown) => {
        running = undefined; // the next probe tries again
        throw err;
      },
    );
    return running;
  };
  run().catch(() => undefined); // warm up; a failure is reported by the first probe's own run
  return {
    name,
    async check() {
      if (present) return;
      await run();
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
  // Failing uploads degrade a node (media waits in memory, the live edge goes on); they do not stop it.
  const failing = new Map<string, string>();
  const off = bus.on(LivepipeEvent.StorageHealth, ({ healthy, error, channel }) => {
    const key = channel ?? '(shared)';
    if (healthy) failing.delete(key);
    else failing.set(key, error ?? 'failing');
  });
  return {
    name,
    degradesOnly: true,
    check() {
      if (failing.size === 0) return;
      const [first] = failing.values();
      throw new Error(`uploads failing for ${[...failing.keys()].sort().join(', ')}: ${first}`);
    },
    close: off,
  };
}
