import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A deliberately dumb RTMP client for robustness tests: it performs the simple handshake and sends
 * hand-built chunks (128-byte chunk size), so tests can send malformed commands a real encoder never
 * would. AMF0 encoding comes from node-media-server's encoder.
 */
const requireCjs = createRequire(import.meta.url);
const amf = requireCjs('node-media-server/src/protocol/amf.js') as { encodeAmf0Cmd(opt: Record<string, unknown>): Buffer; amf0EncodeOne(value: unknown): Buffer };

/**
 * Sends bytes on a fresh TCP connection, then waits for the server to close it or `ms` to pass
 * (the time a garbage-hardened server gets to react before the next attempt).
 */
export async function throwBytes(port: number, bytes: Buffer, ms: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => {
    socket.once('connect', () => {
      socket.write(bytes);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, ms);
    });
    socket.once('close', () => resolve());
  });
}

export function encodeCommand(opt: Record<string, unknown>): Buffer {
  return amf.encodeAmf0Cmd(opt);
}

/** An AMF0 data message body (RTMP type 18 / FLV script tag): `name` then each value, e.g. `onCuePoint`. */
export function encodeAmf0Data(name: string, ...values: unknown[]): Buffer {
  return Buffer.concat([amf.amf0EncodeOne(name), ...values.map((v) => amf.amf0EncodeOne(v))]);
}

/** One RTMP message as chunks of 128 bytes on chunk stream `cid` (fmt 0, then fmt 3 continuations). */
export function chunkMessage(type: number, payload: Buffer, options: { cid?: number; streamId?: number; timestamp?: number; declaredLength?: number } = {}): Buffer {
  const cid = options.cid ?? 3;
  // Basic header: one byte for chunk stream ids 2..63, two bytes (0, id - 64) for 64..319.
  const basic = (fmt: number) => (cid < 64 ? Buffer.from([(fmt << 6) | cid]) : Buffer.from([fmt << 6, cid - 64]));
  const message = Buffer.alloc(11);
  message.writeUIntBE(options.timestamp ?? 0, 0, 3);
  message.writeUIntBE(options.declaredLength ?? payload.length, 3, 3);
  message[6] = type;
  message.writeUInt32LE(options.streamId ?? 0, 7);
  const parts: Buffer[] = [basic(0), message];
  for (let off = 0; off < payload.length; off += 128) {
    if (off > 0) parts.push(basic(3));
    parts.push(payload.subarray(off, off + 128));
  }
  return Buffer.concat(parts);
}

export class RawRtmpClient {
  readonly socket: Socket;
  private received = Buffer.alloc(0);
  closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number): Promise<RawRtmpClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawRtmpClient(socket);
  }

  /** C0+C1, wait for S0+S1+S2, then C2. */
  async handshake(): Promise<void> {
    const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(1528)]);
    this.socket.write(Buffer.concat([Buffer.from([3]), c1]));
    await this.waitFor(1 + 1536 * 2);
    const s1 = this.received.subarray(1, 1537);
    this.received = this.received.subarray(1 + 1536 * 2);
    this.socket.write(s1);
  }

  async waitFor(bytes: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < bytes) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${bytes} bytes (have ${this.received.length})`);
      if (this.socket.destroyed) throw new Error('socket closed');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  receivedBytes(): Buffer {
    return this.received;
  }

  receivedText(): string {
    return this.received.toString('latin1');
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves true if the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }
}

/**
 * Opens a publish on a raw connection (connect, createStream, publish `streamName` on message stream
 * 1) and resolves once the server answered `NetStream.Publish.Start`. Rejects with what the server
 * said otherwise.
 */
export async function rawPublish(port: number, streamName: string): Promise<RawRtmpClient> {
  const c = await RawRtmpClient.connect(port);
  await c.handshake();
  c.write(chunkMessage(20, encodeCommand({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: `rtmp://127.0.0.1:${port}/live` } })));
  c.write(chunkMessage(20, encodeCommand({ cmd: 'createStream', transId: 2, cmdObj: null })));
  c.write(chunkMessage(20, encodeCommand({ cmd: 'publish', transId: 3, cmdObj: null, streamName, type: 'live' }), { cid: 8, streamId: 1 }));
  const deadline = Date.now() + 5000;
  while (!c.receivedText().includes('NetStream.Publish.Start')) {
    if (c.socket.destroyed || Date.now() > deadline) {
      c.destroy();
      throw new Error(`publish of ${streamName.replace(/key=.*/, 'key=…')} not accepted: ${c.receivedText().replace(/[^\x20-\x7e]+/g, ' ').slice(-200)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return c;
}

/** An FLV tag to publish, sent `sendAtMs` after the start (default: at its own timestamp). */
export interface TimedFlvTag {
  type: number;
  timestamp: number;
  body: Buffer;
  sendAtMs?: number;
}

/**
 * Sends FLV tags as RTMP media messages on message stream 1 (audio on chunk stream 4, video 6, data
 * 5), paced in real time. `stop()` ends the sending early; `done` resolves when the last tag is sent
 * or the connection closed. Timestamps must fit 24 bits (< 4.6 hours): no extended timestamps.
 */
export function sendFlvTags(client: RawRtmpClient, tags: readonly TimedFlvTag[]): { done: Promise<void>; stop(): void } {
  let stopped = false;
  const start = Date.now();
  const done = (async () => {
    for (const tag of tags) {
      if (stopped || client.socket.destroyed) return;
      const wait = (tag.sendAtMs ?? tag.timestamp) - (Date.now() - start);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const cid = tag.type === 8 ? 4 : tag.type === 9 ? 6 : 5;
      client.write(chunkMessage(tag.type, tag.body, { cid, streamId: 1, timestamp: tag.timestamp }));
    }
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}
