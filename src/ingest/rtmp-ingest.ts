import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { urlHost } from '../core/url-host.js';
import { FlvFanout } from './flv-fanout.js';
import { FLV_MAX_TAG_BODY, FlvTagType, classifyFlvTag, type FlvTagType as FlvTagTypeValue } from './flv-tags.js';
import { FlvTimestampRebaser, type TimestampJump } from './flv-timestamp-rebaser.js';
import { LiveFeedBase, RateMeter, type IngestCue, type IngestFeedRegistry, type PublishEndReason, type PublisherInfo } from './ingest-feed.js';
import { AdmissionStage, ConnectionAdmission, DEFAULT_ADMISSION_LIMITS, addressKey, admissionLimitProblems, type AdmissionLimits, type ShedReason } from './connection-admission.js';
import { rtmpCueOf } from './rtmp-cue-message.js';
import { createNmsRtmp, decodeAmf0Data, decodeAmf0Values, routeNmsLogs, type NmsAvPacket, type NmsInvokeMessage, type NmsRtmp } from './nms-rtmp-protocol.js';
import { refusalMessage, type PublishAuthorizer } from './publish-auth.js';
import { parseRtmpPublishTarget, type PublishRole } from './rtmp-stream-name.js';
import { ShedReporter, type IngestShedMetrics } from './shed-reporter.js';
import { flvDeclaredStreams, flvNoVideoReason, flvVideoDeadlineMs, type FlvDeclaredStreams } from './video-presence.js';

export interface RtmpIngestOptions {
  /** Bind address; default `127.0.0.1`. Anything but loopback requires keys on every channel. */
  host?: string;
  /** TCP port; default 1935. 0 picks a free port (tests), see `port` after `start()`. */
  port?: number;
  /**
   * A connection must be publishing, key checked, within this many ms of connecting (handshake,
   * `connect`, `publish`); default 5 000. Until then it is pending: see the caps below.
   */
  publishTimeoutMs?: number;
  /** A publisher that sends nothing for this many ms is dropped; default 30 000. */
  idleTimeoutMs?: number;
  /**
   * An RTMP publisher silent for this many ms no longer counts as live: a new authenticated publisher
   * for its channel replaces it (an encoder reconnecting after a network drop, before TCP notices the
   * old connection is dead). Default 5 000.
   */
  staleAfterMs?: number;
  /** Largest RTMP message accepted; default 8 MiB (a contribution frame is far smaller). */
  maxMessageBytes?: number;
  /**
   * Most TCP connections in all, publishers included; default 1024. When full, a new connection
   * evicts a pending one; only when every slot holds a publisher is it refused.
   */
  maxConnections?: number;
  /**
   * Most pending (not yet publishing) connections; default 256. A new connection beyond it evicts
   * the least advanced, then oldest, pending connection of the address holding the most.
   */
  maxPendingConnections?: number;
  /**
   * Most pending connections from one address (IPv6: one /64); default 32. A new one beyond it
   * evicts that address's least advanced, then oldest, pending connection — never refuses it, so a
   * flood from the publisher's own address cannot lock the publisher out.
   */
  maxPendingPerAddress?: number;
  /** GOP cache and consumer buffer bounds, see `FlvFanoutOptions`; defaults 16 MiB each. */
  maxGopCacheBytes?: number;
  maxConsumerBufferBytes?: number;
}

/** RTMP chunk stream ids a well-behaved publisher uses are a handful; more is an attack. */
const MAX_CHUNK_STREAMS = 64;
/**
 * Before a publish is accepted only commands flow, and they are small: an unauthenticated connection
 * may hold at most this many chunk streams of this many bytes (NMS allocates a buffer per chunk stream).
 */
const PRE_PUBLISH_MAX_CHUNK_STREAMS = 8;
const PRE_PUBLISH_MAX_MESSAGE_BYTES = 64 * 1024;
/** RTMP §5.4.1: chunk size is 31 bits, at least 1; NMS would stall on 0. Cap at 16 MiB. */
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** RTMP §5.2.2: C0 carries the version, 3. (6 is RTMPE, which NMS cannot speak either.) */
const RTMP_VERSION = 3;
/** NMS's `handshakeState` once C2 arrived (`RTMP_HANDSHAKE_2` in its rtmp.js). */
const NMS_HANDSHAKE_DONE = 3;

type SessionState = 'handshaking' | 'publishing' | 'closing';

/**
 * RTMP ingest: a TCP server whose sessions speak RTMP through node-media-server's protocol parser
 * (see `nms-rtmp-protocol.ts` for why not the whole NMS server). A publish is authorized before it is
 * answered; the published FLV is fanned out in-process as an `IngestFeed` in the registry.
 *
 * Every parser call is contained: malformed input closes that one connection. Connections that have
 * not published yet go through a `ConnectionAdmission` (caps per address and overall that evict
 * rather than refuse, a publish deadline; see `connection-admission.ts`), and their closes are
 * debug lines counted by a `ShedReporter`, so a flood neither locks a publisher out nor floods the log.
 */
export class RtmpIngest {
  private server: Server | undefined;
  private readonly sessions = new Map<Socket, RtmpSession>();
  private readonly admission: ConnectionAdmission<Socket>;
  private readonly shedding: ShedReporter;
  /** Fires at the earliest pending deadline; one timer for all pending connections. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineAt = Infinity;
  private readonly log: Logger;
  private boundPort = 0;
  private closing: Promise<void> | undefined;
  readonly host: string;

  constructor(
    private readonly deps: { registry: IngestFeedRegistry; authorizer: PublishAuthorizer; logger: Logger; metrics?: IngestShedMetrics },
    private readonly options: RtmpIngestOptions = {},
  ) {
    this.log = deps.logger.child({ component: 'rtmp-ingest' });
    this.host = options.host ?? '127.0.0.1';
    this.admission = new ConnectionAdmission(rtmpAdmissionLimits(options));
    this.shedding = new ShedReporter(this.log, 'rtmp', deps.metrics, 'RTMP connections closed before they published (idle, garbage or a flood?)');
  }

  /** Pending (not yet publishing) and all connections, for tests and diagnostics. */
  connectionCounts(): { pending: number; total: number } {
    return { pending: this.admission.pendingCount, total: this.admission.connectionCount };
  }

  /** The listening port (after `start()`). */
  get port(): number {
    return this.boundPort;
  }

  /** Publisher URL for a channel, as shown to operators (the key is a placeholder, never the real one). */
  publishUrl(channel: string, host = this.host): string {
    return `rtmp://${urlHost(host)}:${this.boundPort}/live/${channel}?key={key}`;
  }

  async start(): Promise<void> {
    if (this.server !== undefined) throw new LivepipeError(ErrorCode.Conflict, 'RTMP ingest already started');
    const port = this.options.port ?? 1935;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LivepipeError(ErrorCode.ConfigInvalid, `RTMP port ${port} is not a TCP port`);
    const problems = admissionLimitProblems(this.admission.limits);
    if (problems.length > 0) throw new LivepipeError(ErrorCode.ConfigInvalid, `RTMP connection limits invalid: ${problems.join('; ')}`);
    const debugLog = this.log.child({ component: 'nms' });
    routeNmsLogs((level, message) => debugLog.debug({ nmsLevel: level }, message));
    this.deps.authorizer.warnIfOpen();
    // No `server.maxConnections`: Node closes every connection past it on accept, whoever it is
    // from — that is how 256 idle connections kept a real publisher out (issue 15). The admission
    // evicts pending connections instead.
    const server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new LivepipeError(ErrorCode.ConfigInvalid, `RTMP ingest cannot listen on ${this.host}:${port}: ${err.message}`, { cause: err }));
      server.once('error', onError);
      server.listen(port, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'RTMP server error'));
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.log.info({ host: this.host, port: this.boundPort }, 'RTMP ingest listening');
  }

  /** Stops listening and disconnects every session (publishes end with reason `shutdown`). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const server = this.server;
      if (server === undefined) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(this.deadlineTimer);
      for (const s of this.sessions.values()) s.terminate('shutdown');
      await closed;
      this.shedding.close();
      this.log.info('RTMP ingest closed');
    })();
    return this.closing;
  }

  private onConnection(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    const decision = this.admission.admit(socket, addressKey(socket.remoteAddress), Date.now());
    if (!decision.admitted) {
      socket.on('error', () => {});
      socket.destroy();
      this.shedding.shed(decision.reason);
      return;
    }
    for (const { key, reason } of decision.evict) this.shed(key, reason);
    const session = new RtmpSession(socket, this.deps, this.log, this.options, {
      progress: (stage) => this.admission.progress(socket, stage, Date.now()),
      authenticated: () => this.admission.authenticated(socket),
      shed: (reason) => this.shed(socket, reason),
    });
    this.sessions.set(socket, session);
    socket.once('close', () => {
      this.sessions.delete(socket);
      this.admission.release(socket);
    });
    this.armDeadline();
  }

  /** Closes a connection that has not published, without a log line of its own (see `ShedReporter`). */
  private shed(socket: Socket, reason: ShedReason): void {
    this.admission.release(socket);
    this.sessions.get(socket)?.shed(reason);
    this.shedding.shed(reason);
  }

  private armDeadline(): void {
    const at = this.admission.nextDeadline();
    if (at === undefined || at >= this.deadlineAt) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(() => this.onDeadline(), Math.max(0, at - Date.now()));
    this.deadlineTimer.unref();
  }

  private onDeadline(): void {
    this.deadlineAt = Infinity;
    this.deadlineTimer = undefined;
    for (const socket of this.admission.expired(Date.now())) this.shed(socket, 'deadline');
    this.armDeadline();
  }
}

/** The admission limits of a set of RTMP options, defaults filled in. */
export function rtmpAdmissionLimits(options: RtmpIngestOptions): AdmissionLimits {
  return {
    maxConnections: options.maxConnections ?? DEFAULT_ADMISSION_LIMITS.maxConnections,
    maxPending: options.maxPendingConnections ?? DEFAULT_ADMISSION_LIMITS.maxPending,
    maxPendingPerAddress: options.maxPendingPerAddress ?? DEFAULT_ADMISSION_LIMITS.maxPendingPerAddress,
    pendingTimeoutMs: options.publishTimeoutMs ?? DEFAULT_ADMISSION_LIMITS.pendingTimeoutMs,
  };
}

/** What a session tells the listener's admission about itself. */
interface SessionAdmission {
  progress(stage: AdmissionStage): void;
  authenticated(): void;
  /** Closes this session as shed (it has not published). */
  shed(reason: ShedReason): void;
}

/** One TCP connection: handshake, connect, publish, media. */
class RtmpSession {
  private readonly rtmp: NmsRtmp;
  private readonly remote: string;
  private state: SessionState = 'handshaking';
  private feed: RtmpFeed | undefined;
  private endReason: PublishEndReason = 'disconnect';
  private readonly log: Logger;
  private readonly maxMessageBytes: number;
  private bytesReceived = 0;
  private bytesAcknowledged = 0;

  constructor(
    private readonly socket: Socket,
    private readonly deps: { registry: IngestFeedRegistry; authorizer: PublishAuthorizer },
    parentLog: Logger,
    private readonly options: RtmpIngestOptions,
    private readonly admission: SessionAdmission,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.log = parentLog.child({ remoteAddress: this.remote });
    // An FLV tag body is at most 0xFFFFFF bytes (UI24), whatever the option says.
    this.maxMessageBytes = Math.min(options.maxMessageBytes ?? 8 * 1024 * 1024, FLV_MAX_TAG_BODY);
    this.rtmp = createNmsRtmp();
    this.installHooks();
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // ECONNRESET/EPIPE are how publishers usually leave; anything else is worth a line — from a
      // publisher: before publishing it may be one of a flood.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      if (this.state === 'publishing') this.log.warn({ err: err.message, code: err.code }, 'RTMP socket error');
      else this.log.debug({ err: err.message, code: err.code }, 'RTMP socket error');
    });
    socket.on('close', () => this.onClose());
    // The publish deadline (`publishTimeoutMs`) is the listener's, across all pending connections.
    socket.setTimeout(options.idleTimeoutMs ?? 30_000, () => {
      this.log.warn({ channel: this.feed?.channel }, 'RTMP connection idle, closing');
      this.terminate('disconnect');
    });
  }

  /**
   * Closes a connection that has not published (evicted, past its deadline, malformed): at debug
   * level only, since a flood brings thousands; the listener counts and summarizes them.
   */
  shed(reason: ShedReason): void {
    if (this.state === 'closing') return;
    this.log.debug({ reason }, 'RTMP connection closed before publishing');
    this.state = 'closing';
    this.socket.destroy();
  }

  /**
   * Closes the connection; the feed (if any) ends with `reason`. With `detail` (media unusable, or
   * a publish refused after it started: no capacity, channel stopped…), the publisher is told it
   * first in an error onStatus `NetStream.Publish.Rejected` (the code OBS and other servers use for a
   * refused publish; ffmpeg prints any error status as `Server error: <description>`), and the socket
   * is ended gracefully so the status is delivered before the close.
   */
  terminate(reason: PublishEndReason, detail?: string): void {
    if (this.state === 'closing') return;
    this.state = 'closing';
    this.endReason = reason;
    if (detail !== undefined) {
      try {
        this.rtmp.sendStatusMessage(this.rtmp.streamId, 'error', 'NetStream.Publish.Rejected', detail);
      } catch {
        // Nothing more to tell a peer we cannot encode for.
      }
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else {
      this.socket.destroy();
    }
    // End the feed now, not on the socket's later 'close', so the channel is free at once.
    this.feed?.close(reason, detail);
  }

  /** Whether this session publishes but has been silent for `ms`. */
  isStale(ms: number): boolean {
    return this.state === 'publishing' && this.feed !== undefined && Date.now() - this.feed.meter.lastAt >= ms;
  }

  private installHooks(): void {
    const rtmp = this.rtmp;
    rtmp.onOutputCallback = (buffer) => {
      if (!this.socket.destroyed) this.socket.write(buffer);
    };
    rtmp.onPacketCallback = (packet) => this.onPacket(packet);
    // NMS calls these after its own onPublish/onPlay; livepipe replaced those, so they stay unused.
    rtmp.onConnectCallback = () => {};
    rtmp.onPushCallback = () => {};
    rtmp.onPlayCallback = () => {};
    rtmp.onPublish = (message) => this.onPublish(message);
    rtmp.onPlay = () => this.refuse('NetStream.Play.Failed', 'this server only accepts publishers', 'play requested');
    // A publisher that deletes its stream is done even if it keeps the TCP connection open.
    rtmp.onDeleteStream = () => {
      if (this.state === 'publishing') this.terminate('disconnect');
    };
    // Bound memory before NMS allocates a message buffer (a 3-byte length field allows 16 MiB per
    // chunk stream, and a chunk stream id up to 65 599).
    const packetAlloc = rtmp.packetAlloc.bind(rtmp);
    rtmp.packetAlloc = () => {
      const length = rtmp.parserPacket.header.length;
      const publishing = this.state === 'publishing';
      const maxBytes = publishing ? this.maxMessageBytes : PRE_PUBLISH_MAX_MESSAGE_BYTES;
      const maxStreams = publishing ? MAX_CHUNK_STREAMS : PRE_PUBLISH_MAX_CHUNK_STREAMS;
      if (length > maxBytes) throw new Error(`RTMP message of ${length} bytes exceeds the ${maxBytes}-byte limit${publishing ? '' : ' before publish'}`);
      if (rtmp.inPackets.size > maxStreams) throw new Error(`more than ${maxStreams} RTMP chunk streams${publishing ? '' : ' before publish'}`);
      packetAlloc();
    };
    const controlHandler = rtmp.controlHandler.bind(rtmp);
    rtmp.controlHandler = () => {
      const { type, length } = rtmp.parserPacket.header;
      if (type === 1) {
        if (length < 4) throw new Error('Set Chunk Size message shorter than 4 bytes');
        const size = rtmp.parserPacket.payload.readUInt32BE(0) & 0x7fffffff;
        if (size < 1 || size > MAX_CHUNK_SIZE) throw new Error(`invalid RTMP chunk size ${size}`);
      } else if (length < 4 && type !== 2) {
        throw new Error(`RTMP control message type ${type} shorter than 4 bytes`);
      }
      controlHandler();
    };
  }

  private onData(data: Buffer): void {
    if (this.state === 'closing') return;
    if (this.state === 'publishing') this.feed?.meter.add(data.length);
    else if (this.bytesReceived === 0 && data[0] !== RTMP_VERSION) {
      // NMS takes any first byte as C0; refusing here keeps garbage from buying a handshake.
      this.log.debug({ err: `not an RTMP handshake (C0 ${data[0]})` }, 'malformed RTMP input, closing connection');
      this.admission.shed('malformed');
      return;
    }
    let error: string | null;
    try {
      error = this.rtmp.parserData(data);
    } catch (err) {
      error = errorMessage(err);
    }
    // The parser's callbacks may have closed the session meanwhile.
    if (error !== null && (this.state as SessionState) !== 'closing') {
      if (this.state === 'publishing') {
        this.log.warn({ channel: this.feed?.channel, err: error }, 'malformed RTMP input, closing connection');
        this.terminate('error');
      } else {
        this.log.debug({ err: error }, 'malformed RTMP input, closing connection');
        this.admission.shed('malformed');
      }
      return;
    }
    if (this.state === 'handshaking') this.admission.progress(this.stage());
    this.acknowledge(data.length);
  }

  /** How far the handshake and `connect` got (the publish itself ends the pending stage). */
  private stage(): AdmissionStage {
    if (this.rtmp.streamApp !== undefined) return AdmissionStage.Connected;
    if (this.rtmp.handshakeState >= NMS_HANDSHAKE_DONE) return AdmissionStage.Handshaken;
    return AdmissionStage.Handshaking;
  }

  /**
   * RTMP §5.4.3: "The client or the server MUST send an acknowledgment to the peer after receiving
   * bytes equal to the window size." NMS v4 records the peer's window but never acknowledges; some
   * hardware encoders stall without it.
   */
  private acknowledge(bytes: number): void {
    this.bytesReceived += bytes;
    const window = this.rtmp.ackSize;
    if (window === undefined || window <= 0 || this.state === 'closing') return;
    if (this.bytesReceived - this.bytesAcknowledged >= window) {
      this.bytesAcknowledged = this.bytesReceived;
      this.rtmp.sendACK(this.bytesReceived % 0x100000000);
    }
  }

  private onPublish(message: NmsInvokeMessage): void {
    const rtmp = this.rtmp;
    if (this.state !== 'handshaking') {
      this.refuse('NetStream.Publish.BadName', 'this connection is already publishing', 'second publish on one connection');
      return;
    }
    const target = parseRtmpPublishTarget(rtmp.streamApp as string, message.streamName as string);
    if (!target.ok) {
      this.refuse('NetStream.Publish.BadName', target.error, `unusable publish target: ${target.error}`, { app: String(rtmp.streamApp).slice(0, 80) });
      return;
    }
    const decision = this.deps.authorizer.authorize({ channel: target.channel, key: target.key }, { protocol: 'rtmp', remoteAddress: this.remote });
    if (!decision.allowed) {
      // The authorizer logged the refusal (without the key). A name that is no channel id names nothing to notify about.
      if (decision.refusal !== 'invalid-channel-id') this.deps.registry.refused(target.channel, 'rtmp', decision.refusal, this.remote);
      this.refuse('NetStream.Publish.Rejected', refusalMessage(decision.refusal), undefined);
      return;
    }
    const role = target.role;
    let holder = this.deps.registry.holder(target.channel, role);
    const stale = this.staleFeed(target.channel, role);
    if (holder !== undefined && stale !== undefined) {
      this.log.warn({ channel: target.channel, stalePublisher: { remoteAddress: holder.remoteAddress, lastDataAt: holder.lastDataAt } }, 'replacing a silent RTMP publisher with a new authenticated one');
      // For the channel manager this is the old publisher dropping: reason `disconnect`.
      stale.drop('disconnect');
      holder = this.deps.registry.holder(target.channel, role);
    }
    if (holder !== undefined) {
      this.deps.registry.refused(target.channel, 'rtmp', 'busy', this.remote);
      this.refuse(
        'NetStream.Publish.BadName',
        `channel ${target.channel} is already being published`,
        'publish refused: channel already has a live publisher',
        { channel: target.channel, livePublisher: { protocol: holder.protocol, remoteAddress: holder.remoteAddress, since: holder.since } },
      );
      return;
    }
    const feed = new RtmpFeed(target.channel, role, this.remote, this, this.log.child({ channel: target.channel, role }), this.options);
    if (!this.deps.registry.add(feed, this.remote)) {
      this.refuse('NetStream.Publish.BadName', `channel ${target.channel} is already being published`, 'publish refused: channel already has a live publisher', { channel: target.channel });
      return;
    }
    this.feed = feed;
    this.state = 'publishing';
    this.admission.authenticated();
    rtmp.streamName = target.channel; // echoed in NetStream.Publish.Start: never the key
    rtmp.streamId = rtmp.parserPacket.header.stream_id;
    rtmp.respondPublish();
  }

  /** The RTMP feed holding `channel`, if its publisher has gone silent past `staleAfterMs`. */
  private staleFeed(channel: string, role: PublishRole): RtmpFeed | undefined {
    const feed = this.deps.registry.get(channel, role);
    return feed instanceof RtmpFeed && feed.isStale(this.options.staleAfterMs ?? 5000) ? feed : undefined;
  }

  /** Answers an error onStatus (encoders show its description) and closes the connection. */
  private refuse(code: string, description: string, logMessage: string | undefined, fields: Record<string, unknown> = {}): void {
    if (logMessage !== undefined) this.log.warn(fields, logMessage);
    try {
      this.rtmp.sendStatusMessage(this.rtmp.parserPacket.header.stream_id, 'error', code, description);
    } catch {
      // Nothing more to tell a peer we cannot encode for.
    }
    this.state = 'closing';
    this.endReason = 'error';
    this.socket.end();
    // A peer that never reads must not keep the socket.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private onPacket(packet: NmsAvPacket): void {
    const feed = this.feed;
    if (this.state !== 'publishing' || feed === undefined) return; // media before an accepted publish is dropped
    const type = packet.codec_type;
    if (type !== FlvTagType.Audio && type !== FlvTagType.Video && type !== FlvTagType.Script) return; // AMF3 data etc.
    // NMS reuses its receive buffer: copy this message out.
    const body = Buffer.from(packet.data.subarray(0, packet.size));
    feed.onTag(type as FlvTagTypeValue, packet.dts, body);
  }

  private onClose(): void {
    const reason = this.state === 'closing' ? this.endReason : 'disconnect';
    this.state = 'closing';
    this.feed?.close(reason);
  }
}

/** Timestamp jumps are logged at most this often per publish (a broken encoder may jump on every frame). */
const JUMP_LOG_INTERVAL_MS = 10_000;

/** The FLV feed of one RTMP publish. */
class RtmpFeed extends LiveFeedBase {
  readonly meter = new RateMeter();
  private readonly fanout: FlvFanout;
  private readonly since = new Date().toISOString();
  private media: Pick<PublisherInfo, 'video' | 'audio'> = {};
  private readonly rebaser = new FlvTimestampRebaser();
  private lastJumpLogAt = 0;
  private jumpsNotLogged = 0;
  /** What onMetaData declared, once it came. */
  private declared: FlvDeclaredStreams | undefined;
  private sawVideo = false;
  /** Armed by the first audio tag while no video has come: refuses the feed when it fires. */
  private videoDeadline: NodeJS.Timeout | undefined;

  constructor(
    channel: string,
    role: PublishRole,
    private readonly remoteAddress: string,
    private readonly session: { terminate(reason: PublishEndReason, detail?: string): void; isStale(ms: number): boolean },
    private readonly log: Logger,
    options: RtmpIngestOptions,
  ) {
    super(channel, 'rtmp', 'flv', role);
    const fanoutOptions: ConstructorParameters<typeof FlvFanout>[0] = {};
    if (options.maxGopCacheBytes !== undefined) fanoutOptions.maxGopCacheBytes = options.maxGopCacheBytes;
    if (options.maxConsumerBufferBytes !== undefined) fanoutOptions.maxConsumerBufferBytes = options.maxConsumerBufferBytes;
    this.fanout = new FlvFanout(fanoutOptions);
  }

  onTag(type: FlvTagTypeValue, timestamp: number, body: Buffer): void {
    if (this.ended) return;
    if (type === FlvTagType.Script) {
      this.readMetadata(body);
      this.readCue(body);
      this.fanout.push({ type, timestamp, body });
      return;
    }
    const stream = type === FlvTagType.Video ? 'video' : 'audio';
    const kind = classifyFlvTag(type, body);
    let rebased: number;
    if (kind === 'video-keyframe' || kind === 'video-frame' || kind === 'audio-frame') {
      const result = this.rebaser.frame(stream, timestamp, Date.now());
      rebased = result.timestamp;
      if (result.jump !== undefined) this.onJump(result.jump);
    } else {
      rebased = this.rebaser.other(stream, timestamp);
    }
    if (stream === 'video') this.onVideo();
    else if (!this.sawVideo && this.videoDeadline === undefined) this.armVideoDeadline();
    this.fanout.push({ type, timestamp: rebased, body });
  }

  private onJump(jump: TimestampJump): void {
    const now = Date.now();
    if (now - this.lastJumpLogAt < JUMP_LOG_INTERVAL_MS) {
      this.jumpsNotLogged += 1;
      return;
    }
    this.log.warn(
      { stream: jump.stream, previousMs: jump.previous, timestampMs: jump.timestamp, jumpMs: jump.jumpMs, rebasedToMs: jump.rebasedTo, jumpsNotLogged: this.jumpsNotLogged },
      `publisher timestamps jumped ${jump.jumpMs > 0 ? 'forward' : 'backward'} by ${Math.abs(jump.jumpMs)} ms: rebased to keep the timeline continuous`,
    );
    this.lastJumpLogAt = now;
    this.jumpsNotLogged = 0;
  }

  private onVideo(): void {
    this.sawVideo = true;
    clearTimeout(this.videoDeadline);
  }

  private armVideoDeadline(): void {
    const waitMs = flvVideoDeadlineMs(this.declared);
    this.videoDeadline = setTimeout(() => {
      if (this.sawVideo || this.ended) return;
      // Told to the publisher (encoders show it) and, through the end's detail, to the channel.
      this.session.terminate('unusable', flvNoVideoReason(this.declared, waitMs));
    }, waitMs);
    this.videoDeadline.unref();
  }

  open(): Readable {
    return this.fanout.open();
  }

  kick(refusal?: string): void {
    this.session.terminate('kicked', refusal);
  }

  /** Disconnects the publisher with `reason`; the feed ends at once. */
  drop(reason: PublishEndReason): void {
    this.session.terminate(reason);
  }

  isStale(ms: number): boolean {
    return this.session.isStale(ms);
  }

  close(reason: PublishEndReason, detail?: string): void {
    clearTimeout(this.videoDeadline);
    this.fanout.end();
    this.finish(reason, detail);
  }

  info(): PublisherInfo {
    return {
      channel: this.channel,
      protocol: 'rtmp',
      format: 'flv',
      remoteAddress: this.remoteAddress,
      since: this.since,
      ...this.media,
      timestampJumps: this.rebaser.jumps,
      bytesIn: this.meter.total,
      lastDataAt: new Date(this.meter.lastAt).toISOString(),
      bitrateBps: this.meter.bitsPerSecond(),
      consumers: this.fanout.consumerCount,
    };
  }

  /** An ad cue message (`rtmp-cue-message.ts`): the splice is its arrival plus the announced pre-roll. */
  private readCue(body: Buffer): void {
    let values: unknown[];
    try {
      values = decodeAmf0Values(body);
    } catch {
      return;
    }
    const cue = rtmpCueOf(values);
    if (cue === undefined) return;
    const ingestCue: IngestCue = { kind: cue.kind, at: Date.now() + cue.preRollSeconds * 1000, source: 'rtmp-data' };
    if (cue.eventId !== undefined) ingestCue.eventId = cue.eventId;
    if (cue.durationSeconds !== undefined) ingestCue.durationSeconds = cue.durationSeconds;
    if (cue.section !== undefined) ingestCue.section = cue.section;
    this.emitCue(ingestCue);
  }

  private readMetadata(body: Buffer): void {
    let data: Record<string, unknown>;
    try {
      const decoded = decodeAmf0Data(body);
      const obj = decoded.cmd === '@setDataFrame' ? decoded.dataObj : decoded.cmd === 'onMetaData' ? decoded.dataObj : undefined;
      if (obj === null || typeof obj !== 'object') return;
      data = obj as Record<string, unknown>;
    } catch {
      return; // metadata is informative only
    }
    this.declared = flvDeclaredStreams(data);
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
    const media: Pick<PublisherInfo, 'video' | 'audio'> = {};
    if (data.videocodecid !== undefined) {
      media.video = { codec: videoCodecName(data.videocodecid) };
      const width = num(data.width);
      const height = num(data.height);
      const frameRate = num(data.framerate) ?? num(data.fps);
      if (width !== undefined) media.video.width = width;
      if (height !== undefined) media.video.height = height;
      if (frameRate !== undefined) media.video.frameRate = frameRate;
    }
    if (data.audiocodecid !== undefined) {
      media.audio = { codec: audioCodecName(data.audiocodecid) };
      const sampleRate = num(data.audiosamplerate);
      if (sampleRate !== undefined) media.audio.sampleRate = sampleRate;
      if (typeof data.stereo === 'boolean') media.audio.channels = data.stereo ? 2 : 1;
      const channels = num(data.audiochannels);
      if (channels !== undefined) media.audio.channels = channels;
    }
    this.media = media;
  }
}

function fourCcName(id: number): string | undefined {
  if (id < 0x20202020) return undefined;
  const s = Buffer.alloc(4);
  s.writeUInt32BE(id >>> 0);
  return /^[\x20-\x7e]{4}$/.test(s.toString('latin1')) ? s.toString('latin1') : undefined;
}

/** onMetaData `videocodecid`: FLV ids (7 AVC, 12 HEVC) or an Enhanced RTMP FourCC (number or string). */
export function videoCodecName(id: unknown): string {
  if (typeof id === 'string') return id;
  if (typeof id !== 'number') return 'unknown';
  const names: Record<number, string> = { 2: 'h263', 3: 'screen', 4: 'vp6', 5: 'vp6a', 6: 'screen2', 7: 'h264', 12: 'hevc' };
  return names[id] ?? ({ hvc1: 'hevc', av01: 'av1', vp09: 'vp9' } as Record<string, string>)[fourCcName(id) ?? ''] ?? `id-${id}`;
}

/** onMetaData `audiocodecid`: FLV sound formats (10 AAC, 2 MP3) or a FourCC. */
export function audioCodecName(id: unknown): string {
  if (typeof id === 'string') return id;
  if (typeof id !== 'number') return 'unknown';
  const names: Record<number, string> = { 0: 'pcm', 1: 'adpcm', 2: 'mp3', 3: 'pcm_le', 7: 'alaw', 8: 'mulaw', 10: 'aac', 11: 'speex' };
  return names[id] ?? ({ mp4a: 'aac', Opus: 'opus', 'ac-3': 'ac3', 'ec-3': 'eac3' } as Record<string, string>)[fourCcName(id) ?? ''] ?? `id-${id}`;
}
