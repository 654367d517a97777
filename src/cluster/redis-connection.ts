import { Redis, type RedisOptions } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * One ioredis client for the cluster's commands (leases, registry, heartbeats), and `subscriber()`
 * for a second one in subscriber mode (pub/sub needs its own connection).
 *
 * - Lazy: nothing connects until `connect()`, so building `serve` never waits on Redis.
 * - Bounded: a command that gets no reply within `commandTimeoutMs` fails (a frozen or partitioned
 *   Redis must not hold a lease renewal past the holder's deadline), and commands are not queued
 *   while disconnected (`enableOfflineQueue: false`): they fail at once, which is what a lease wants.
 * - Reconnecting: with backoff (100 ms doubling to 1 s, jittered), forever; `onState` reports each change.
 * - Configured in one place: `redisClientOptions` below, which the playlist notifications use too.
 * - Discreet: the URL's password never reaches a log line (`redactRedisUrl`).
 */

export type RedisConnectionState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  url: string;
  logger: Logger;
  /** A command without a reply for this long fails, ms (default 500). */
  commandTimeoutMs?: number;
  /** TCP connect timeout, ms (default 1000). */
  connectTimeoutMs?: number;
  /** Shown in Redis's CLIENT LIST (`livepipe:<nodeId>`). */
  connectionName?: string;
}

/** The URL with its password (and user name) replaced, for logs: a Redis URL may carry `user:password@`. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '' || parsed.username !== '') {
      parsed.username = parsed.username === '' ? '' : '[redacted]';
      parsed.password = '[redacted]';
    }
    return parsed.toString();
  } catch {
    return '[unparsable redis url]';
  }
}

/**
 * Reconnect pause after the n-th failed attempt: 100 ms doubling to 1 s (a lease wants Redis back
 * soon), jittered — half fixed, half random — so that a fleet of nodes and origins does not
 * reconnect in step after an outage. Pure but for `random`.
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(1000, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * The ioredis options of every livepipe connection — the cluster's command connection here, the
 * playlist notifications' publisher and subscriber (`playlist-notifications.ts`) — in one place:
 * connect on `connect()`/`start()` (not at construction), reconnect forever with `reconnectDelayMs`,
 * never queue commands while disconnected (a lease renewal or a notification that cannot go now is
 * worthless later: it fails at once), and bound every command (default 1 s), so that a frozen Redis
 * is noticed. `overrides` set what one connection needs differently (its name, its timeout).
 */
export function redisClientOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (attempt: number) => reconnectDelayMs(attempt),
    ...overrides,
  };
}

export class RedisConnection {
  readonly client: Redis;
  private readonly logger: Logger;
  private readonly listeners = new Set<(state: RedisConnectionState) => void>();
  private current: RedisConnectionState = 'connecting';
  private readonly subscribers: Redis[] = [];

  constructor(settings: RedisConnectionOptions) {
    this.logger = settings.logger.child({ component: 'redis', redis: redactRedisUrl(settings.url) });
    this.client = new Redis(
      settings.url,
      redisClientOptions({
        commandTimeout: settings.commandTimeoutMs ?? 500,
        ...(settings.connectTimeoutMs !== undefined ? { connectTimeout: settings.connectTimeoutMs } : {}),
        ...(settings.connectionName !== undefined ? { connectionName: settings.connectionName } : {}),
      }),
    );
    this.client.on('ready', () => this.setState('ready'));
    this.client.on('reconnecting', () => this.setState('reconnecting'));
    this.client.on('end', () => this.setState('closed'));
    // ioredis emits 'error' for every failed connect; without a listener Node would throw.
    let lastError = '';
    this.client.on('error', (err: unknown) => {
      const message = errorMessage(err);
      if (message !== lastError) this.logger.warn({ err: message }, 'redis connection error');
      lastError = message;
    });
    this.client.on('ready', () => (lastError = ''));
  }

  get state(): RedisConnectionState {
    return this.current;
  }

  /** Subscribes to state changes; returns the unsubscribe. */
  onState(listener: (state: RedisConnectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts connecting. Resolves once connected, or after `waitMs` either way: a node starts while
   * Redis is down (it keeps the last known state, if any, and retries in the background).
   */
  async connect(waitMs = 3000): Promise<boolean> {
    const ready = new Promise<boolean>((resolve) => {
      if (this.current === 'ready') return resolve(true);
      const off = this.onState((state) => {
        if (state === 'ready') {
          off();
          resolve(true);
        }
      });
      setTimeout(() => {
        off();
        resolve(this.current === 'ready');
      }, waitMs).unref();
    });
    this.client.connect().catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'redis not reachable yet: retrying in the background'));
    return ready;
  }

  /** A second connection for SUBSCRIBE (resubscribes by itself after reconnects). Closed with this one. */
  subscriber(): Redis {
    // Queued while disconnected: a SUBSCRIBE issued during an outage goes out on reconnect.
    const sub = this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
    sub.on('error', () => undefined);
    this.subscribers.push(sub);
    return sub;
  }

  async close(): Promise<void> {
    for (const sub of this.subscribers) sub.disconnect();
    this.subscribers.length = 0;
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
    this.setState('closed');
  }

  private setState(state: RedisConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.logger.info({ state }, 'redis connection');
    for (const listener of this.listeners) listener(state);
  }
}
