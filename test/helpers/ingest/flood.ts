import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';

/**
 * Floods for the ingest listeners, all aimed at 127.0.0.1 and bounded: a number of connections or
 * datagrams, or a loop that runs until stopped.
 */

export interface IdleFlood {
  /** Connections the server accepted (the connect completed). */
  connected(): number;
  /** Of those, how many the server closed so far. */
  closedByServer(): number;
  /** Destroys every socket still open. */
  stop(): void;
}

/**
 * Opens `count` TCP connections that never send a byte, `concurrency` connect attempts at a time.
 * With `reconnect`, a connection the server closes is opened again (until `stop()`), so the listener
 * stays under pressure rather than draining once.
 */
export async function openIdleConnections(port: number, count: number, options: { concurrency?: number; reconnect?: boolean } = {}): Promise<IdleFlood> {
  const sockets = new Set<Socket>();
  let connected = 0;
  let closedByServer = 0;
  let stopped = false;
  const open = () =>
    new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('connect', () => {
        connected += 1;
        resolve();
      });
      socket.once('close', () => {
        sockets.delete(socket);
        resolve();
        if (stopped) return;
        closedByServer += 1;
        if (options.reconnect === true) setTimeout(() => void (stopped ? undefined : open()), 50);
      });
    });
  const concurrency = options.concurrency ?? 100;
  for (let i = 0; i < count; i += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, count - i) }, () => open()));
  }
  return {
    connected: () => connected,
    closedByServer: () => closedByServer,
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

export interface GarbageFlood {
  /** Connections opened so far. */
  sent(): number;
  stop(): Promise<void>;
}

/**
 * `workers` loops, each connecting, sending garbage, and connecting again as soon as the server
 * closes it or `holdMs` passed. Payloads alternate between random bytes, a valid C0 followed by
 * random bytes (a "handshake" of noise), and a valid C0 with part of C1 and then silence.
 */
export function sendGarbageConnections(port: number, options: { workers?: number; holdMs?: number } = {}): GarbageFlood {
  let stopped = false;
  let sent = 0;
  const holdMs = options.holdMs ?? 300;
  const one = (bytes: Buffer) =>
    new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      sent += 1;
      socket.on('error', () => {});
      const timer = setTimeout(() => socket.destroy(), holdMs);
      socket.once('connect', () => socket.write(bytes));
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const worker = async (w: number) => {
    for (let i = 0; !stopped; i++) {
      const kind = (i + w) % 3;
      const bytes =
        kind === 0 ? randomBytes(1 + Math.floor(Math.random() * 4000))
        : kind === 1 ? Buffer.concat([Buffer.from([3]), randomBytes(1536 * 2 + Math.floor(Math.random() * 2000))])
        : Buffer.concat([Buffer.from([3]), randomBytes(700)]);
      await one(bytes);
    }
  };
  const loops = Array.from({ length: options.workers ?? 10 }, (_, w) => worker(w));
  return {
    sent: () => sent,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Sends `count` UDP datagrams of random bytes to 127.0.0.1:`port`, some shaped like SRT control packets. */
export async function sendGarbageDatagrams(port: number, count: number): Promise<void> {
  const socket = createSocket('udp4');
  for (let i = 0; i < count; i++) {
    const datagram = randomBytes(16 + Math.floor(Math.random() * 1300));
    // A set first bit marks an SRT control packet; 0x8000 is a handshake.
    if (i % 2 === 0) datagram.writeUInt16BE(0x8000, 0);
    await new Promise<void>((r) => socket.send(datagram, port, '127.0.0.1', () => r()));
  }
  socket.close();
}

/** One SRT handshake control packet (16-byte header + 48-byte handshake), as a caller sends it. */
function srtHandshake(options: { type: 'induction' | 'conclusion'; version: number; cookie: number; socketId: number }): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x80000000, 0); // control packet, type 0 = handshake
  b.writeUInt32BE(0, 12); // destination socket: 0 while connecting
  b.writeUInt32BE(options.version, 16);
  b.writeUInt32BE(2, 20); // HSv4 socket type DGRAM (HSv5 reads it as extension field 2 in the induction)
  b.writeUInt32BE(0x1234, 24); // initial sequence number
  b.writeUInt32BE(1500, 28); // MTU
  b.writeUInt32BE(8192, 32); // flow window
  b.writeUInt32BE(options.type === 'induction' ? 1 : 0xffffffff, 36);
  b.writeUInt32BE(options.socketId, 40);
  b.writeUInt32BE(options.cookie >>> 0, 44);
  b.writeUInt32BE(0x0100007f, 48); // peer IP 127.0.0.1, as libsrt writes it
  return b;
}

export interface SrtCallerFlood {
  /** Handshakes started (inductions sent). */
  started(): number;
  /** Conclusions sent after the listener answered an induction with its cookie. */
  concluded(): number;
  stop(): Promise<void>;
}

/**
 * Bogus SRT callers from 127.0.0.1 that know no passphrase, in `workers` loops until stopped: each
 * sends an induction (a caller's first handshake; the listener answers with a cookie and keeps no
 * state) and, with `conclude`, a version-4 conclusion — the legacy handshake in which encryption is
 * only negotiated after the connection is up. Without `conclude` they are idle callers that never
 * finish the handshake.
 */
export function sendSrtCallers(port: number, options: { workers?: number; conclude?: boolean; pauseMs?: number } = {}): SrtCallerFlood {
  let stopped = false;
  let started = 0;
  let concluded = 0;
  const worker = async (w: number) => {
    const socket = createSocket('udp4');
    const answers: Buffer[] = [];
    socket.on('message', (m) => answers.push(m));
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const send = (b: Buffer) => new Promise<void>((r) => socket.send(b, port, '127.0.0.1', () => r()));
    for (let i = 0; !stopped; i++) {
      const socketId = 0x100000 + w * 0x10000 + (i % 0x10000);
      answers.length = 0;
      started += 1;
      await send(srtHandshake({ type: 'induction', version: 4, cookie: 0, socketId }));
      // An idle caller does not wait for the answer.
      const deadline = options.conclude === true ? Date.now() + 200 : 0;
      while (!stopped && answers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const answer = answers.find((m) => m.length >= 48 && m.readUInt32BE(0) === 0x80000000);
      if (options.conclude === true && answer !== undefined) {
        concluded += 1;
        await send(srtHandshake({ type: 'conclusion', version: 4, cookie: answer.readUInt32BE(44), socketId }));
      }
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 20));
    }
    socket.close();
  };
  const loops = Array.from({ length: options.workers ?? 4 }, (_, w) => worker(w));
  return {
    started: () => started,
    concluded: () => concluded,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
