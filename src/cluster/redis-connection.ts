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
 * - Reconnecting: with backoff (100 ms doubling to 1 s), forever; `onState` reports each change.
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

/** The URL with its password (and user) replaced, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://(unparsable URL)';
  }
}

/** Reconnect delay after `attempt` failures: 100 ms doubling, capped at 1 s. Pure. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(1000, 100 * 2 ** Math.max(0, attempt - 1));
}

export class RedisConnection {
  readonly client: Redis;
  private readonly logger: Logger;
  private readonly listeners = new Set<(state: RedisConnectionState) => void>();
  private current: RedisConnectionState = 'connecting';
  private readonly subscribers: Redis[] = [];

  constructor(settings: RedisConnectionOptions) {
    this.logger = settings.logger.child({ component: 'redis', redis: redactRedisUrl(settings.url) });
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: settings.commandTimeoutMs ?? 500,
      connectTimeout: settings.connectTimeoutMs ?? 1000,
      retryStrategy: (attempt) => reconnectDelayMs(attempt),
      ...(settings.connectionName !== undefined ? { connectionName: settings.connectionName } : {}),
    };
    this.client = new Redis(settings.url, options);
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
