import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OriginMetrics } from '../observability/metrics.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { AcceptEncodingMemo } from './content-coding.js';
import { CorsPolicy } from './cors-policy.js';
import { ErrorResponder } from './error-responder.js';
import { HoldGate, type OriginLifecycle } from './hold-gate.js';
import { MediaCache } from './media-cache.js';
import { MediaResponder } from './media-responder.js';
import { MultivariantResponder } from './multivariant-responder.js';
import type { OriginSource, RenderPlaylist } from './origin-source.js';
import { PlaylistRenderCache } from './playlist-render-cache.js';
import { PlaylistResponder } from './playlist-responder.js';
import { RequestDispatcher } from './request-dispatcher.js';

export interface OriginServerOptions {
  source: OriginSource;
  storage: Pick<ObjectStorage, 'get'>;
  render: RenderPlaylist;
  logger: Logger;
  /** Where request, hold and cache counts go; default nowhere. */
  metrics?: OriginMetrics;
  /** Bind address; default `127.0.0.1` (put a CDN or proxy in front, or pass `0.0.0.0`). */
  host?: string;
  /** TCP port; default 8080, 0 for an ephemeral one. */
  port?: number;
  /**
   * A listening socket the service manager passed (`src/core/socket-activation.ts`): used instead of
   * `host`/`port`, so connections made while the process restarts wait rather than being refused.
   */
  listenFd?: number;
  /** `Access-Control-Allow-Origin`: `'*'` (default) or the exact origins allowed. */
  corsOrigins?: '*' | readonly string[];
  /**
   * Memory cache budget for media and the multivariant playlist, bytes; default 256 MiB. Renderings
   * of media playlists are not in it: they live as long as their playlist version is current.
   */
  cacheMaxBytes?: number;
  /** Largest object kept in the cache, bytes; default 16 MiB. */
  cacheMaxEntryBytes?: number;
  /** Cap on concurrently held requests; default 20 000. Beyond it: 503 + Retry-After. */
  maxHeldRequests?: number;
  /** Target duration assumed for responses about playlists the source does not know, s; default 2. */
  defaultTargetDuration?: number;
  /** max-age of the multivariant playlist, s; default 2. */
  multivariantMaxAge?: number;
  /** How long a read multivariant playlist is reused before storage is asked again, ms; default 1000. */
  multivariantRefreshMs?: number;
  /** `server.headersTimeout`, ms; default 10 000 (slow-header clients). */
  headersTimeoutMs?: number;
  /** `server.requestTimeout` (receiving the whole request), ms; default 30 000. */
  requestTimeoutMs?: number;
  /**
   * `server.keepAliveTimeout`, ms; default 65 000: longer than the idle timeout of common CDN/load
   * balancer pools (60 s), so the client side closes idle connections first and never reuses one the
   * origin is closing.
   */
  keepAliveTimeoutMs?: number;
  /** How long `close()` lets in-flight responses finish before cutting connections, ms; default 5000. */
  closeGraceMs?: number;
}

/**
 * The origin CDNs pull from: LL-HLS media playlists rendered from the source's models with blocking
 * reload, delta updates and preload-hint holds (draft-pantos-hls-rfc8216bis §6.2.5, App. B.1), and
 * parts/segments/init segments from storage through a byte-bounded LRU with coalesced reads.
 *
 * This class owns the `node:http` listener and the lifecycle, and builds the units that answer:
 * `RequestDispatcher` (method, path → responder), `PlaylistResponder` (+ `PlaylistRenderCache`),
 * `MediaResponder` and `MultivariantResponder` (+ `MediaCache`), `HoldGate` (held requests),
 * `ErrorResponder` and `CorsPolicy`.
 */
export class OriginServer implements OriginLifecycle {
  private readonly server: Server;
  private readonly cache: MediaCache;
  private readonly holds: HoldGate;
  private readonly cors: CorsPolicy;
  private readonly logger: Logger;
  private readonly defaultTd: number;
  private state: 'new' | 'started' | 'closing' | 'closed' = 'new';
  private closePromise: Promise<void> | undefined;
  /** Set by `drain()`: no new connections, every response ends its connection. */
  private draining = false;
  /**
   * Responses still unanswered when their request's handler returned — held ones (blocking reloads,
   * preload-hint parts) and ones awaiting storage or the source: `drain()` makes them end their
   * connection too. Every other response (memory cache hits, errors, preflights) has written its
   * headers before the handler returns, and bodies are never streamed (one `end(buffer)`), so
   * `drain()`, which runs in another task, could not change them anyway: they are not tracked,
   * which keeps a Set entry and a `close` listener off the hot path.
   */
  private readonly unanswered = new Set<ServerResponse>();
  /** The listener's `close` event: every connection has ended (from the first `server.close()`). */
  private serverClosed: Promise<void> | undefined;

  constructor(private readonly options: OriginServerOptions) {
    this.logger = options.logger.child({ component: 'origin' });
    const metrics = options.metrics;
    this.defaultTd = options.defaultTargetDuration ?? 2;
    const multivariantMaxAge = options.multivariantMaxAge ?? 2;
    this.cors = new CorsPolicy(options.corsOrigins ?? '*');
    const errors = new ErrorResponder(this.cors, metrics, this.logger, multivariantMaxAge);
    this.holds = new HoldGate(options.source, options.maxHeldRequests ?? 20_000, this, errors, metrics, this.logger);
    this.cache = new MediaCache({
      storage: options.storage,
      metrics,
      maxBytes: options.cacheMaxBytes ?? 256 * 1024 * 1024,
      maxEntryBytes: options.cacheMaxEntryBytes ?? 16 * 1024 * 1024,
      multivariantMaxAge,
      multivariantRefreshMs: options.multivariantRefreshMs ?? 1000,
    });
    const codings = new AcceptEncodingMemo();
    const shared = { errors, cors: this.cors, metrics, defaultTargetDuration: this.defaultTd };
    const dispatcher = new RequestDispatcher({
      ...shared,
      lifecycle: this,
      cache: this.cache,
      playlists: new PlaylistResponder({ ...shared, source: options.source, renders: new PlaylistRenderCache(options.render), codings, holds: this.holds }),
      media: new MediaResponder({ ...shared, cache: this.cache, source: options.source, holds: this.holds }),
      multivariant: new MultivariantResponder({ ...shared, cache: this.cache, codings }),
    });
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    this.server = createServer(
      {
        maxHeaderSize: 16 * 1024,
        headersTimeout,
        requestTimeout,
        // How often Node enforces the two timeouts above (its default, 30 s, would let a slow
        // client hold a socket three times longer than headersTimeout).
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
      },
      (req, res) => {
        // Draining: the client's next request goes to a new connection (the next process, a peer).
        if (this.draining) res.setHeader('connection', 'close');
        dispatcher.dispatch(req, res);
        // `headersSent` only ever turns true, so a response drain() could still mark is one that is
        // unanswered now.
        if (!res.headersSent && !this.draining) this.trackUnanswered(res);
      },
    );
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
    this.server.maxHeadersCount = 100;
  }

  /** Whether requests are taken: from `start()` until `close()`. */
  get accepting(): boolean {
    return this.state === 'started';
  }

  /** Number of requests currently held (blocking reloads and preload-hint holds). */
  get heldCount(): number {
    return this.holds.size;
  }

  /** Bytes held by the memory cache. */
  get cacheBytes(): number {
    return this.cache.bytes;
  }

  /** Storage reads issued for media and multivariant playlists (observability and tests). */
  get storageReads(): number {
    return this.cache.storageReads;
  }

  isListening(): boolean {
    return this.server.listening;
  }

  /** The bound address (after `start()`). */
  address(): AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new LivepipeError(ErrorCode.Closed, 'origin is not listening');
    return address;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new LivepipeError(ErrorCode.Closed, 'origin server can only be started once');
    const td = this.defaultTd;
    if (!(td > 0) || !((this.options.maxHeldRequests ?? 1) > 0)) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, 'origin: defaultTargetDuration and maxHeldRequests must be positive');
    }
    this.cors.validate();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new LivepipeError(ErrorCode.ConfigInvalid, `origin cannot listen: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      const listening = () => {
        this.server.off('error', onError);
        resolve();
      };
      if (this.options.listenFd !== undefined) this.server.listen({ fd: this.options.listenFd }, listening);
      else this.server.listen(this.options.port ?? 8080, this.options.host ?? '127.0.0.1', listening);
    });
    this.server.on('error', (err) => this.logger.error({ err: errorMessage(err) }, 'origin server error'));
    this.state = 'started';
    const { address, port } = this.address();
    this.logger.info({ address, port, ...(this.options.listenFd !== undefined ? { inheritedFd: this.options.listenFd } : {}) }, 'origin listening');
  }

  /**
   * The first step of a graceful stop, taken while the packagers still make parts: stops accepting
   * connections (under a socket unit new ones wait in the socket's queue for the next process),
   * closes idle keep-alive connections, ends every further response's connection, and waits until
   * no request is held — at most `maxMs`. The blocking reloads and preload-hint requests players
   * hold here are thus answered with new parts rather than with `close()`'s 503s, and their next
   * requests reach the next process: hls.js gives a playlist only two retries. Idempotent.
   */
  async drain(maxMs = 1000): Promise<void> {
    if (this.state !== 'started' || this.draining) return;
    this.draining = true;
    for (const res of this.unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
    this.unanswered.clear();
    this.stopListening();
    this.server.closeIdleConnections();
    const deadline = performance.now() + maxMs;
    while (this.holds.size > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.logger.info({ stillHeld: this.holds.size }, 'origin drained: no new connections');
  }

  private trackUnanswered(res: ServerResponse): void {
    this.unanswered.add(res);
    res.once('close', () => this.unanswered.delete(res));
  }

  private stopListening(): void {
    this.serverClosed ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Stops accepting connections, answers every held request with 503 (Retry-After), lets in-flight
   * responses finish for up to `closeGraceMs`, then cuts what is left. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closePromise) this.closePromise = this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    const wasListening = this.state === 'started';
    this.state = 'closing';
    this.holds.abortAll();
    if (wasListening) {
      this.stopListening();
      const closed = this.serverClosed!;
      this.server.closeIdleConnections();
      const grace = setTimeout(() => this.server.closeAllConnections(), this.options.closeGraceMs ?? 5000);
      await closed;
      clearTimeout(grace);
    }
    this.cache.clear();
    this.state = 'closed';
  }
}
