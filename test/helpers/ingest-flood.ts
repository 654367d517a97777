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
        if (options.reconnect === true) setTimeout(() => void (stopped ? undefined : open()), 5);
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
