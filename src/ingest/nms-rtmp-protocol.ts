import { createRequire } from 'node:module';

/**
 * The parts of node-media-server 4.4.3 livepipe uses, typed narrowly. NMS v4 ships no type
 * declarations; these mirror `src/protocol/rtmp.js`, `src/protocol/amf.js` and `src/core/avpacket.js`.
 *
 * Why only the protocol layer and not `new NodeMediaServer(config)`: the v4 server is built on a
 * process-wide `Context` singleton, opens a JSON store in `./data`, starts record/relay/notify servers,
 * calls `process.exit(1)` when its port is taken, refuses the `live/{channel}` app OBS sends (its
 * session checks `app` against `^[a-zA-Z0-9_-]+$`), answers `NetStream.Publish.Start` BEFORE the
 * `prePublish` event can refuse, and lets exceptions from its parser escape the socket `data` handler.
 * Verified against 4.4.3: each of these single messages, sent after a valid handshake, kills a stock
 * NodeMediaServer process (uncaught TypeError): `connect` with `tcUrl: "not a url"` (`new URL()` in
 * `Rtmp.onConnect`), `connect` with a null command object, a `connect` whose next AMF value has an
 * unknown type marker (`amf.js` reads `.len` of null), and `publish` with a numeric stream name
 * (`streamName.split`). It also never sends Acknowledgements (RTMP §5.4.3), accepts chunk size 0
 * (the parser then stalls on NaN), lets one connection allocate up to 16 MiB per chunk stream id, and
 * allocates an unused 1 MiB FLV buffer per connection. The protocol class
 * alone gives handshake (simple and complex), chunk parsing, AMF0 commands and per-message callbacks;
 * livepipe owns sockets, auth, limits and error containment around it.
 */

/** One RTMP audio/video/data message as NMS delivers it (`Flv.parserTag`). */
export interface NmsAvPacket {
  /** RTMP message type = FLV tag type: 8 audio, 9 video, 18 AMF0 data, 15 AMF3 data. */
  codec_type: number;
  codec_id: number;
  /** 0 sequence header (audio), 2 sequence header (video), 3 keyframe, 4 frame, 5 script. */
  flags: number;
  dts: number;
  pts: number;
  size: number;
  /** The parser's reusable receive buffer: only `data[0..size)` is this message, and it is overwritten
   * by the next message on the same chunk stream. Copy before keeping. */
  data: Buffer;
}

export interface NmsInvokeMessage {
  cmd?: unknown;
  transId?: unknown;
  cmdObj?: unknown;
  streamName?: unknown;
  [field: string]: unknown;
}

export interface NmsRtmpPacket {
  header: { fmt: number; cid: number; timestamp: number; length: number; type: number; stream_id: number };
  clock: number;
  payload: Buffer;
  capacity: number;
  bytes: number;
}

/** An instance of NMS's `Rtmp` protocol class (`node-media-server/src/protocol/rtmp.js`). */
export interface NmsRtmp {
  /** Feeds received bytes; returns an error string or null. May THROW on malformed input. */
  parserData(buffer: Buffer): string | null;
  onOutputCallback: (buffer: Buffer) => void;
  onPacketCallback: (packet: NmsAvPacket) => void;
  onConnectCallback: (req: unknown) => void;
  onPushCallback: () => void;
  onPlayCallback: () => void;
  // Prototype methods livepipe replaces per instance to decide before answering:
  onPublish: (message: NmsInvokeMessage) => void;
  onPlay: (message: NmsInvokeMessage) => void;
  onDeleteStream: (message: NmsInvokeMessage) => void;
  packetAlloc: () => void;
  controlHandler: () => void;
  sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  /** Sends an Acknowledgement carrying the sequence number (bytes received so far). */
  sendACK(sequenceNumber: number): void;
  /** Window Acknowledgement Size the peer announced (undefined until it does). */
  ackSize?: number;
  respondPublish(): void;
  parserPacket: NmsRtmpPacket;
  inPackets: Map<number, NmsRtmpPacket>;
  /** The `app` of the `connect` command; undefined until one was answered. */
  streamApp: unknown;
  /** 0 before C0, 1 reading C1, 2 reading C2, 3 handshake done (chunks follow). */
  handshakeState: number;
  streamName: string;
  streamId: number;
  inChunkSize: number;
}

interface NmsAmf {
  decodeAmf0Data(buffer: Buffer): { cmd?: unknown; dataObj?: unknown; method?: unknown };
  amf0DecodeOne(buffer: Buffer): { len: number; value: unknown } | undefined;
}

interface NmsLogger {
  log(message: string, level?: string): void;
}

const requireCjs = createRequire(import.meta.url);
const RtmpClass = requireCjs('node-media-server/src/protocol/rtmp.js') as new () => NmsRtmp;
const amf = requireCjs('node-media-server/src/protocol/amf.js') as NmsAmf;
const nmsLogger = requireCjs('node-media-server/src/core/logger.js') as NmsLogger;

export function createNmsRtmp(): NmsRtmp {
  const rtmp = new RtmpClass();
  // The constructor also builds an FLV file parser with a 1 MiB buffer that the RTMP path never uses
  // (it calls the static Flv.parserTag); drop it so idle and garbage connections cost kilobytes.
  (rtmp as unknown as { flv: unknown }).flv = null;
  return rtmp;
}

/** Decodes an AMF0 data message (`@setDataFrame`/`onMetaData`); throws on malformed input. */
export function decodeAmf0Data(buffer: Buffer): { cmd?: unknown; dataObj?: unknown; method?: unknown } {
  return amf.decodeAmf0Data(buffer);
}

/**
 * Every AMF0 value of a data message, in order (NMS's `decodeAmf0Data` knows only the names in its
 * table and drops the arguments of any other, such as `onCuePoint`). At most `max` values; throws on
 * malformed input.
 */
export function decodeAmf0Values(buffer: Buffer, max = 8): unknown[] {
  const values: unknown[] = [];
  let rest = buffer;
  while (rest.length > 0 && values.length < max) {
    const one = amf.amf0DecodeOne(rest);
    if (one === undefined || !(one.len > 0)) break;
    values.push(one.value);
    rest = rest.subarray(one.len);
  }
  return values;
}

/**
 * NMS's logger prints to stdout with console.log at debug level (its protocol code logs every unknown
 * AMF command there), which would interleave with livepipe's JSON log lines. Route it to a sink.
 * Module-wide because NMS's logger is.
 */
export function routeNmsLogs(sink: (level: string, message: string) => void): void {
  nmsLogger.log = (message: string, level = 'info') => sink(level, String(message));
}
