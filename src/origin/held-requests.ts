import type { OriginSource, PlaylistSnapshot } from './origin-source.js';

/**
 * Requests held until a media playlist changes in their favour: blocking playlist reloads and
 * requests for hinted parts. Waiters on one playlist share one source subscription, and waiters with
 * the same condition (same `_HLS_msn`/`_HLS_part`, or the same hinted part) form one group whose
 * condition is tested once per change, so releasing 10 000 players waiting for the next part costs
 * one test. Every waiter has a timer; `abortAll()` (shutdown) wakes all of them.
 */
export interface HoldHandlers {
  /** The condition became true with this snapshot. */
  release(snapshot: PlaylistSnapshot | undefined): void;
  /** Held for `timeoutMs` without the condition becoming true. */
  timeout(): void;
  /** The origin is closing. */
  abort(): void;
}

export interface HoldRequest {
  channel: string;
  /** Channel-relative media playlist path, e.g. `v0/playlist.m3u8`. */
  path: string;
  /** Identifies the condition within the playlist (waiters with equal keys share one test). */
  conditionKey: string;
  /** Whether a snapshot (undefined: the playlist is gone) satisfies the condition. */
  test: (snapshot: PlaylistSnapshot | undefined) => boolean;
  /** Version of the snapshot the caller last tested, so a change in between is not missed. */
  testedVersion: number;
  timeoutMs: number;
  handlers: HoldHandlers;
}

/** Returned by `hold()`; `cancel()` forgets a waiter without calling it (client went away). */
export interface HoldTicket {
  cancel(): void;
}

interface Waiter {
  readonly handlers: HoldHandlers;
  readonly group: WaiterGroup;
  timer: NodeJS.Timeout | undefined;
}

interface WaiterGroup {
  readonly key: string;
  readonly test: (snapshot: PlaylistSnapshot | undefined) => boolean;
  readonly members: Set<Waiter>;
  readonly watch: PlaylistWatch;
}

interface PlaylistWatch {
  readonly id: string;
  readonly groups: Map<string, WaiterGroup>;
  latest: PlaylistSnapshot | undefined;
  latestKnown: boolean;
  unsubscribe: () => void;
}

export class HeldRequests {
  private readonly watches = new Map<string, PlaylistWatch>();
  private held = 0;

  constructor(
    private readonly source: Pick<OriginSource, 'subscribe' | 'get'>,
    /** Cap on concurrently held requests; beyond it `hold()` refuses (→ 503 + Retry-After). */
    readonly maxHeld: number,
    /**
     * Called when a handler throws. Handlers must not throw; if one does anyway, the other waiters
     * are still answered and the error does not reach the source that reported the change.
     */
    private readonly onHandlerError: (err: unknown) => void = () => {},
  ) {}

  get size(): number {
    return this.held;
  }

  /** Registers a waiter, or returns undefined when the cap is reached. */
  hold(request: HoldRequest): HoldTicket | undefined {
    if (this.held >= this.maxHeld) return undefined;
    const id = `${request.channel}/${request.path}`;
    let watch = this.watches.get(id);
    const isNew = watch === undefined;
    if (!watch) {
      const created: PlaylistWatch = { id, groups: new Map(), latest: undefined, latestKnown: false, unsubscribe: () => {} };
      created.unsubscribe = this.source.subscribe(request.channel, request.path, (snapshot) => this.onChange(created, snapshot));
      this.watches.set(id, created);
      watch = created;
    }
    let group = watch.groups.get(request.conditionKey);
    if (!group) {
      group = { key: request.conditionKey, test: request.test, members: new Set(), watch };
      watch.groups.set(request.conditionKey, group);
    }
    const waiter: Waiter = { handlers: request.handlers, group, timer: undefined };
    group.members.add(waiter);
    this.held++;
    waiter.timer = setTimeout(() => {
      if (this.remove(waiter)) waiter.handlers.timeout();
    }, request.timeoutMs);

    // A change may have happened between the caller's test and this registration.
    if (watch.latestKnown) {
      if ((watch.latest?.version ?? Infinity) > request.testedVersion) this.check(group, watch.latest);
    } else if (isNew) {
      const w = watch;
      void this.source.get(request.channel, request.path).then(
        (snapshot) => {
          if (!w.latestKnown && (snapshot?.version ?? Infinity) > request.testedVersion) this.onChange(w, snapshot);
        },
        () => {},
      );
    }
    return { cancel: () => void this.remove(waiter) };
  }

  /** Wakes every waiter with `abort()` (shutdown) and drops all subscriptions. */
  abortAll(): void {
    for (const watch of [...this.watches.values()]) {
      for (const group of [...watch.groups.values()]) {
        for (const waiter of [...group.members]) {
          if (this.remove(waiter)) waiter.handlers.abort();
        }
      }
    }
  }

  private onChange(watch: PlaylistWatch, snapshot: PlaylistSnapshot | undefined): void {
    watch.latest = snapshot;
    watch.latestKnown = true;
    for (const group of [...watch.groups.values()]) this.check(group, snapshot);
  }

  /**
   * Tests a group's condition once; when it holds, the whole group is detached at once and every
   * member is released in one synchronous pass (a wake-up of 1,000 waiters is one loop of writes).
   */
  private check(group: WaiterGroup, snapshot: PlaylistSnapshot | undefined): void {
    if (!group.test(snapshot)) return;
    const members = [...group.members];
    group.members.clear();
    this.held -= members.length;
    this.dropGroup(group);
    for (const waiter of members) {
      clearTimeout(waiter.timer);
      try {
        waiter.handlers.release(snapshot);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  /** Returns false if the waiter was already gone. */
  private remove(waiter: Waiter): boolean {
    const { group } = waiter;
    if (!group.members.delete(waiter)) return false;
    clearTimeout(waiter.timer);
    this.held--;
    if (group.members.size === 0) this.dropGroup(group);
    return true;
  }

  /** Forgets an empty group, and the playlist's subscription with its last group. */
  private dropGroup(group: WaiterGroup): void {
    const { watch } = group;
    if (watch.groups.get(group.key) !== group) return;
    watch.groups.delete(group.key);
    if (watch.groups.size === 0) {
      watch.unsubscribe();
      this.watches.delete(watch.id);
    }
  }
}
