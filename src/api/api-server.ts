import { readFileSync } from 'node:fs';
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ChannelService } from '../channels/channel-service.js';
import { describeIssues, isLoopbackHost } from '../config/service-config.js';
import { ErrorCode, LivepipeError, errorMessage, isLivepipeError } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { urlHost } from '../core/url-host.js';
import type { EventBus } from '../core/event-bus.js';
import { clientErrorAnswer, errorBody, httpStatusOf, rawErrorResponse } from './api-errors.js';
import { API_ROUTES, allowedMethods, createApiHandlers, publicView, type ApiHandler, type ApiReply, type ApiRouteSpec } from './api-routes.js';
import { MIN_TOKEN_LENGTH, authenticate, isBearerToken, tokenIdentity } from './bearer-auth.js';
import { CONSOLE_HEADERS, DEFAULT_CONSOLE_DIR, acceptsGzip, loadConsoleAssets, type ConsoleAsset } from './console-assets.js';
import { crossSiteReason } from './cross-site.js';
import { EventStreamHub, type EventStreamOptions } from './event-stream.js';
import { parseJsonBody } from './json-body.js';
import { buildOpenApiDocument } from './openapi-document.js';
import type { ReadinessCheck } from './readiness.js';

/**
 * The ops API: channels, health, readiness, metrics and the OpenAPI document, on its own port
 * (default 127.0.0.1:8081), served by fastify.
 *
 * Authentication: `Authorization: Bearer <token>` where the token comes from `LIVEPIPE_API_TOKEN`
 * (at least 16 characters). Without a token the API is open — allowed only on a loopback bind, with a
 * warning; `start()` refuses any other bind. `/healthz`, `/readyz`, `/metrics` and
 * `/api/v1/openapi.json` need no token (probes and scrapers, and they reveal no keys), nor do the web
 * console's static files at `/` (the page asks for the token and sends it as a bearer header).
 *
 * Cross-site requests: the API sets no cookies and grants no CORS, so a page elsewhere cannot send the
 * bearer header; a state-changing request a browser marks as coming from another site (`Origin`,
 * `Sec-Fetch-Site`) is refused with 403 as well, which matters in open mode (see `cross-site.ts`).
 *
 * Every mutating call — allowed or denied — writes one audit line (pino child `component: 'audit'`):
 * who (`token:<sha256 prefix>`, `loopback-open` or `unauthenticated`), the remote address, the
 * operation, the channel, the names of the body fields (never their values) and the status.
 */

/** Request bodies are tiny channel specs; 16 KiB leaves room and bounds memory per request. */
export const DEFAULT_BODY_LIMIT = 16 * 1024;
/** How long `close()` waits for in-flight API requests before cutting their connections. */
export const API_CLOSE_GRACE_MS = 5_000;
/**
 * Longest path parameter routed (fastify's default, written down): ids are at most 64 characters, so
 * anything longer is refused before routing, with 414.
 */
export const MAX_PARAM_LENGTH = 100;
/** Longest request path echoed in a 404/405 message: the answer stays small whatever was asked. */
const ECHOED_PATH_LENGTH = 100;

export interface ApiServerOptions {
  /** Bind address (default of the service config: 127.0.0.1). */
  host: string;
  /** Port (default 8081; 0 = any free port, see `port` after `start()`). */
  port: number;
  /** The API token (`LIVEPIPE_API_TOKEN`); undefined or empty = open mode, loopback binds only. */
  token?: string | undefined;
  /**
   * The channels behind `/api/v1/channels`. Without it the server answers only health, readiness,
   * metrics and the OpenAPI document (the standalone origin's ops port): nothing there needs a
   * token, so it may then bind any address without one.
   */
  channels?: ChannelService;
  metrics: { render(): Promise<{ contentType: string; body: string }> };
  /** Checks behind `/readyz` (storage, ffmpeg, listeners…). */
  readiness?: readonly ReadinessCheck[];
  logger: Logger;
  /** Maximum request body, bytes (default 16 KiB). */
  bodyLimit?: number;
  /** Version reported in the OpenAPI document (default: package.json's). */
  version?: string;
  /** The events of `GET /api/v1/events` (served with `channels`); without it only snapshots and stats flow. */
  bus?: EventBus;
  /** Tuning of the event stream (tests and benchmarks). */
  eventStream?: Pick<EventStreamOptions, 'statsIntervalMs' | 'maxBufferedBytes' | 'maxClients'>;
  /**
   * Serve the web console at `/` from this directory of built files (default `dist/console/` of the
   * package); absent = no console (the standalone origin's ops port).
   */
  console?: { dir?: string };
  /** Cluster mode: the cluster as this node sees it (`GET /api/v1/cluster`; 404 without). */
  cluster?: () => Promise<unknown>;
}

/** Reads `LIVEPIPE_API_TOKEN`; empty means unset. */
export function apiTokenFromEnv(env: Record<string, string | undefined> = process.env): string | undefined {
  const token = env.LIVEPIPE_API_TOKEN?.trim();
  return token === undefined || token === '' ? undefined : token;
}

interface AuditRecord {
  who: string;
  fields: Record<string, unknown>;
}

export class ApiServer {
  private readonly options: ApiServerOptions;
  private readonly token: string | undefined;
  private readonly logger: Logger;
  private readonly audit: Logger;
  private app: FastifyInstance | undefined;
  private closing: Promise<void> | undefined;
  /** Per-request audit context, filled by the auth hook and the handler, written on response. */
  private readonly auditRecords = new WeakMap<FastifyRequest, AuditRecord>();
  private readonly routes: Array<{ method: string; url: string }> = [];
  private events: EventStreamHub | undefined;

  constructor(options: ApiServerOptions) {
    this.options = options;
    this.token = options.token === undefined || options.token === '' ? undefined : options.token;
    this.logger = options.logger.child({ component: 'api' });
    this.audit = options.logger.child({ component: 'audit' });
  }

  /** Validates the auth setup, registers the routes and listens. Fails loudly (bad bind, port taken). */
  async start(): Promise<void> {
    if (this.closing !== undefined) throw new LivepipeError(ErrorCode.Closed, 'API server is closed');
    if (this.app !== undefined) return;
    const { host, port } = this.options;
    const routes = this.options.channels !== undefined ? API_ROUTES : API_ROUTES.filter((route) => route.tag !== 'channels');
    const guarded = routes.some((route) => route.auth);
    if (this.token === undefined) {
      if (guarded && !isLoopbackHost(host)) {
        throw new LivepipeError(
          ErrorCode.ConfigInvalid,
          `refusing to serve the ops API on ${host} without a token: set LIVEPIPE_API_TOKEN (at least ${MIN_TOKEN_LENGTH} characters) or bind to 127.0.0.1`,
        );
      }
    } else if (this.token.length < MIN_TOKEN_LENGTH) {
      throw new LivepipeError(ErrorCode.ConfigInvalid, `LIVEPIPE_API_TOKEN is too short: at least ${MIN_TOKEN_LENGTH} characters`);
    } else if (!isBearerToken(this.token)) {
      throw new LivepipeError(
        ErrorCode.ConfigInvalid,
        'LIVEPIPE_API_TOKEN has characters a bearer token cannot carry: use letters, digits and - . _ ~ + / (e.g. `openssl rand -hex 32`)',
      );
    }

    this.routes.length = 0;
    const app = Fastify({
      bodyLimit: this.options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      // A client gets 10 s to send a whole request: slow-drip connections cannot pile up.
      requestTimeout: 10_000,
      logger: false,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      // fastify's own answers (while closing, to a bad URL, a too-long parameter, a request node:http
      // refuses) have fastify's body shape; every answer of the ops API has the documented one instead.
      return503OnClosing: false,
      frameworkErrors: (err, _request, reply) => {
        const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
        void (reply as FastifyReply)
          .code(tooLong ? 414 : 400)
          .send(errorBody(ErrorCode.BadRequest, tooLong ? 'request URL is too long: ids have at most 64 characters' : 'request URL is not valid'));
      },
      clientErrorHandler: (err, socket) => this.onClientError(err, socket),
    });
    const version = this.options.version ?? packageVersion();
    const openApi = buildOpenApiDocument(version, routes);
    const handlers = createApiHandlers({
      ...(this.options.channels !== undefined ? { channels: this.options.channels } : {}),
      metrics: this.options.metrics,
      readiness: this.options.readiness ?? [],
      openApiDocument: () => openApi,
      ...(this.options.cluster !== undefined ? { cluster: this.options.cluster } : {}),
    });
    app.addHook('onRoute', (route) => {
      // The console's static files are not API operations (the OpenAPI document lists those).
      if ((route.config as { console?: boolean } | undefined)?.console === true) return;
      for (const method of [route.method].flat()) this.routes.push({ method, url: route.url });
    });
    // JSON only (text/plain would reach the schemas as a string), parsed with the reason kept.
    // PATCH bodies follow JSON merge-patch semantics (`null` removes), so that media type is welcome too.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    app.setErrorHandler((err: FastifyError, request, reply) => this.onError(err, request, reply));
    app.addHook('onRequest', async (_request, reply) => {
      // Requests still arriving on open connections while close() drains the in-flight ones.
      if (this.closing !== undefined) {
        return reply.code(503).header('connection', 'close').send(errorBody(ErrorCode.Closed, 'the ops API is shutting down'));
      }
      return undefined;
    });
    app.setNotFoundHandler((request, reply) => {
      const pathname = request.url.split('?')[0] ?? '';
      const allowed = allowedMethods(pathname, routes);
      if (allowed.length > 0) {
        void reply
          .code(405)
          .header('allow', allowed.join(', '))
          .send(errorBody(ErrorCode.BadRequest, `${request.method} is not allowed on ${echoed(pathname)} (allowed: ${allowed.join(', ')})`));
        return;
      }
      void reply.code(404).send(errorBody(ErrorCode.NotFound, `no route ${request.method} ${echoed(pathname)}`));
    });
    for (const route of routes) this.register(app, route, handlers[route.operationId]);
    if (this.options.console !== undefined) await this.registerConsole(app, this.options.console.dir ?? DEFAULT_CONSOLE_DIR);
    const channels = this.options.channels;
    if (channels !== undefined) {
      this.events = new EventStreamHub({
        ...this.options.eventStream,
        ...(this.options.bus !== undefined ? { bus: this.options.bus } : {}),
        channels: {
          list: () => channels.list().map(publicView),
          get: (id) => {
            const view = channels.get(id);
            return view === undefined ? undefined : publicView(view);
          },
        },
        logger: this.logger,
      });
    }

    try {
      await app.listen({ host, port });
    } catch (err) {
      await app.close().catch(() => undefined);
      throw new LivepipeError(ErrorCode.Unavailable, `ops API cannot listen on ${host}:${port}: ${errorMessage(err)}`, { cause: err });
    }
    this.app = app;
    if (this.token === undefined && guarded) {
      this.logger.warn({ host, port: this.port }, 'ops API is open: no LIVEPIPE_API_TOKEN set (allowed on loopback binds only)');
    }
    this.logger.info({ host, port: this.port, auth: this.token === undefined ? 'open' : tokenIdentity(this.token) }, 'ops API listening');
  }

  /** The bound port (after `start()`). */
  get port(): number {
    const address = this.app?.server.address() as AddressInfo | null | undefined;
    if (address === null || address === undefined) throw new LivepipeError(ErrorCode.Closed, 'API server is not listening');
    return address.port;
  }

  /** Base URL, e.g. `http://127.0.0.1:8081` (after `start()`). */
  get url(): string {
    return `http://${urlHost(this.options.host)}:${this.port}`;
  }

  /** Every route fastify registered (including the HEAD twins of GET routes), as `{ method, url }`. */
  registeredRoutes(): Array<{ method: string; url: string }> {
    return this.routes.map((route) => ({ ...route }));
  }

  isListening(): boolean {
    return this.app?.server.listening ?? false;
  }

  /**
   * Stops accepting and waits for in-flight requests, for at most {@link API_CLOSE_GRACE_MS}: then the
   * remaining connections are cut. Fastify closes idle keep-alive connections at once, but a client
   * that stops reading a large response (metrics, the OpenAPI document) keeps its connection busy
   * with our unsent bytes, and shutdown must not wait on it. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const app = this.app;
      this.app = undefined;
      // Event streams never end by themselves: ended first, so that the server's close waits on none.
      this.events?.close();
      if (app === undefined) return;
      const force = setTimeout(() => app.server.closeAllConnections(), API_CLOSE_GRACE_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    })();
    return this.closing;
  }

  private register(app: FastifyInstance, route: ApiRouteSpec, handler: ApiHandler): void {
    app.route({
      method: route.method,
      url: route.path.replace(/\{(\w+)\}/g, ':$1'),
      onRequest: async (request, reply) => {
        const outcome = authenticate(request.headers.authorization, route.auth ? this.token : undefined);
        if (route.audit) {
          // The channel is recorded even for denied calls: who tried to touch what is the point of an audit.
          const id = route.channelParam ? (request.params as { id?: string }).id : undefined;
          const fields = id !== undefined && isValidId(id) ? { channel: id } : {};
          this.auditRecords.set(request, { who: outcome.ok ? outcome.who : 'unauthenticated', fields });
        }
        if (!outcome.ok) {
          return reply.code(outcome.status).header('www-authenticate', outcome.challenge).send(errorBody(outcome.code, outcome.message));
        }
        if (route.method !== 'GET') {
          const crossSite = crossSiteReason({ origin: request.headers.origin, host: request.headers.host, 'sec-fetch-site': request.headers['sec-fetch-site'] });
          if (crossSite !== undefined) return reply.code(403).send(errorBody(ErrorCode.Forbidden, crossSite));
        }
        return undefined;
      },
      onResponse: async (request, reply) => {
        const record = this.auditRecords.get(request);
        if (record !== undefined) {
          this.audit.info(
            {
              who: record.who,
              remoteAddress: request.ip,
              operation: route.operationId,
              method: route.method,
              url: request.url.split('?')[0],
              ...record.fields,
              status: reply.statusCode,
              outcome: reply.statusCode === 401 || reply.statusCode === 403 ? 'denied' : reply.statusCode < 400 ? 'ok' : 'failed',
            },
            `${route.operationId} ${reply.statusCode}`,
          );
        } else {
          this.logger.debug({ method: request.method, url: request.url, status: reply.statusCode }, 'request');
        }
      },
      handler: async (request, reply) => {
        const record = this.auditRecords.get(request);
        const note = (fields: Record<string, unknown>): void => {
          if (record !== undefined) Object.assign(record.fields, fields);
        };
        let id = '';
        if (route.channelParam) {
          id = (request.params as { id: string }).id;
          if (!isValidId(id)) throw new LivepipeError(ErrorCode.BadRequest, `invalid channel id ${JSON.stringify(id)}: letters, digits, _ and - only, at most 64`);
        }
        let body: unknown;
        if (route.body !== undefined) {
          // Field names only: bodies carry keys and passphrases.
          if (isPlainObject(request.body)) note({ fields: Object.keys(request.body).sort() });
          body = parseBody(route.body, request.body);
        }
        return this.send(reply, await handler({ id, body, note }));
      },
    });
  }

  private send(reply: FastifyReply, result: ApiReply): FastifyReply {
    if (result.eventStream === true) return this.openEventStream(reply);
    reply.code(result.status);
    for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
    if (result.text !== undefined) return reply.type(result.text.contentType).send(result.text.body);
    if (result.json === undefined) return reply.send();
    return reply.type('application/json; charset=utf-8').send(result.json);
  }

  private openEventStream(reply: FastifyReply): FastifyReply {
    const events = this.events;
    if (events === undefined || !events.hasRoom()) {
      return reply.code(503).header('retry-after', '5').send(errorBody(ErrorCode.Unavailable, 'too many event streams are open; try again later'));
    }
    // The stream outlives the handler: fastify hands the raw response over and no longer touches it.
    reply.hijack();
    events.attach(reply.raw);
    return reply;
  }

  /** `GET /` and `/assets/*`: the console's files, from memory, gzip when accepted, revalidated by ETag. */
  private async registerConsole(app: FastifyInstance, dir: string): Promise<void> {
    const assets = await loadConsoleAssets(dir);
    if (assets === undefined) this.logger.warn({ dir }, 'web console not found (run `npm run build`): / answers 404');
    const serve = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const asset: ConsoleAsset | undefined = assets?.get(request.url.split('?')[0] ?? '');
      if (asset === undefined) {
        const message = assets === undefined ? 'the web console is not built (npm run build)' : `no console file ${echoed(request.url)}`;
        return reply.code(404).send(errorBody(ErrorCode.NotFound, message));
      }
      reply.headers(CONSOLE_HEADERS).header('etag', asset.etag).header('vary', 'accept-encoding');
      reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      reply.type(asset.contentType);
      if (asset.gzip !== undefined && acceptsGzip(request.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(asset.gzip);
      return reply.send(asset.body);
    };
    app.get('/', { config: { console: true } }, serve);
    app.get('/assets/*', { config: { console: true } }, serve);
  }

  private onError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (isLivepipeError(err)) {
      const status = httpStatusOf(err.code);
      if (status >= 500) this.logger.error({ err: err.message, code: err.code, url: request.url }, 'API call failed');
      return reply.code(status).send(errorBody(err.code, err.message, err.details));
    }
    // fastify's own request errors (body parsing, limits, content type) are the caller's fault.
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      this.logger.debug({ err: err.message, code: err.code, url: request.url }, 'request refused');
      return reply.code(status).send(errorBody(status === 404 ? ErrorCode.NotFound : ErrorCode.BadRequest, describeRequestError(err, status, this.options.bodyLimit ?? DEFAULT_BODY_LIMIT)));
    }
    this.logger.error({ err: errorMessage(err), stack: err.stack, url: request.url }, 'API internal error');
    return reply.code(500).send(errorBody(ErrorCode.Internal, 'internal error (logged)'));
  }

  /**
   * A request node:http refuses before fastify sees it (headers over `maxHeaderSize`, a request line
   * that long, a timeout, unparsable HTTP): fastify's default answer has its own body shape.
   */
  private onClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
    // A reset connection has no one to answer (node's and fastify's handlers return here too).
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = clientErrorAnswer(err.code, Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined, maxHeaderSize);
    this.logger.debug({ err: err.message, code: err.code, status: answer.status }, 'malformed request refused');
    // The parser is past recovery for this connection: answer, then close it once the answer is out.
    if (socket.writable) socket.end(rawErrorResponse(answer.status, answer.body), () => socket.destroy());
    else socket.destroy();
  }
}

/** A request path cut to {@link ECHOED_PATH_LENGTH} characters for messages. */
function echoed(pathname: string): string {
  return pathname.length > ECHOED_PATH_LENGTH ? `${pathname.slice(0, ECHOED_PATH_LENGTH)}…` : pathname;
}

/** A message for one of fastify's request errors; never fastify's own text, which names its internals. */
function describeRequestError(err: FastifyError, status: number, bodyLimit: number): string {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than ${bodyLimit} bytes`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported content type: send application/json`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'body is empty but content-type is application/json';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return `body is not valid JSON${err.cause instanceof SyntaxError ? `: ${err.cause.message}` : ''}`;
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'request body length does not match its content-length';
    default:
      return err instanceof SyntaxError ? `body is not valid JSON: ${err.message}` : `request refused: ${STATUS_CODES[status] ?? status}`;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a JSON body with its zod schema; a failure names every offending path. */
function parseBody(schema: z.ZodType, body: unknown): unknown {
  if (body === undefined) throw new LivepipeError(ErrorCode.BadRequest, 'body: a JSON object is required (content-type: application/json)');
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new LivepipeError(ErrorCode.BadRequest, describeIssues('body', parsed.error).replace(/\n/g, '; '));
  return parsed.data;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

