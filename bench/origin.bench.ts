/**
 * Origin benchmark, in one run:
 *  1. wake-up of held blocking playlist requests (embedded source) for 100, 250 and 1,000 held
 *     requests, the origin against a bare `node:http` floor server (holds every request, then
 *     `writeHead` + `end` of one shared Buffer), interleaved round by round. Clients run in a
 *     separate process; times are CLOCK_MONOTONIC (`process.hrtime`), comparable across processes.
 *     Reported, all from the moment just before `publish()` (or the floor's release):
 *       - `serverHandedToKernelMs`: each response's bytes written to its socket (`end()` returned),
 *       - `serverFinishEventMs`: each response's 'finish' event (fires after the whole pass),
 *       - `serverPassMsMedian` / `serverPassCpuUsPerResponse`: the synchronous release pass, wall
 *         time and this process's CPU time per response (steadier than wall time on a shared machine),
 *       - `clientReceivedMs`: each response complete in the client process. One client process
 *         parses all responses itself, so with 1,000 it adds its own queueing; real held requests
 *         come from many CDN edges.
 *     Below the Node floors, the machine's: a C program (`bench/floors/hold-release.c`) writing
 *     the same prebuilt response with `send()` to each held connection, from 1 and 2 threads;
 *     then the standalone origin (storage-watch source), 1,000 held, client receipt times;
 *  2. requests/s for cached parts (48 KB and 192 KB) and segments (600 KB): the origin, a bare
 *     `node:http` server answering the same Buffers with the same headers (Node's floor), and nginx
 *     serving the same files from disk (sendfile) with 1 worker (the origin's core count) and with 2
 *     (`auto` on this machine), and with 1 worker and `sendfile off` (bodies copied through user
 *     space, as a server answering from memory must: what the sendfile gap is). Load from wrk
 *     (1 thread, 64 keep-alive connections); besides requests/s, the CPU time per request of each
 *     server process (user + system);
 *  3. RSS of the origin with 10,000 held requests (clients in a separate process).
 *
 * Run: `npx tsx bench/origin.bench.ts` (prints JSON), or import `run()`.
 * The origin runs on the real filesystem driver and the packager's playlist serializer and parser.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/logger.js';
import { EmbeddedSource } from '../src/origin/embedded-source.js';
import { OriginServer } from '../src/origin/origin-server.js';
import { StorageWatchSource } from '../src/origin/storage-watch-source.js';
import { parseMediaPlaylist } from '../src/hls/playlist-parser.js';
import { serializeMediaPlaylist } from '../src/hls/playlist-serializer.js';
import { FsStorage } from '../src/storage/fs-storage.js';
import { advance, liveModel } from '../test/helpers/origin/playlists.js';
import { freePort } from '../test/helpers/ports.js';
import { runIfMain } from './run-if-main.js';

const PART_BYTES = 48 * 1024; // ≈ 0.33 s of a 1.2 Mbit/s rendition
const LARGE_PART_BYTES = 192 * 1024; // ≈ 0.5 s of a 3 Mbit/s rendition
const SEGMENT_BYTES = 600 * 1024; // ≈ 2 s of a 2.4 Mbit/s rendition
const WRK_SECONDS = 3;
const ROUNDS = 3;
const WAKE_ROUNDS = 5;
/**
 * Uncounted rounds before them, per count of held requests: the first 3 or 4 wake-ups of a fresh
 * process cost 3-4× the steady state for every server here, the bare floors included (V8 and heap
 * warm-up); a running origin wakes held requests several times a second.
 */
const WAKE_WARMUP_ROUNDS = 4;
/** Held blocking requests per wake-up: a CDN shield × renditions (100), a few edges (250), the target (1,000). */
const WAKE_COUNTS = [100, 250, 1000] as const;
const WRK_CONNECTIONS = 64;
/** `getconf CLK_TCK`: the unit of the CPU times in /proc/{pid}/stat (100 on Linux/x86-64). */
const CLOCK_TICKS_PER_SECOND = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Client side of the wake-up measurement: a separate process (not a thread of the server's process),
 * so on this 2-core machine it competes with the origin only for CPU, not for its event loop. It
 * reads one JSON command per line (`{ port, n, path }`), sends `n` requests over keep-alive
 * connections (reused from round to round, like CDN edges), and answers with one JSON line: the
 * CLOCK_MONOTONIC time (`process.hrtime`, the same clock in every process) at which each response
 * body was complete, in ms.
 */
const WAKE_CLIENT = `
const http = require('node:http');
const readline = require('node:readline');
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const ms = () => Number(process.hrtime.bigint()) / 1e6;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { port, n, path } = JSON.parse(line);
  const received = [];
  let failed = 0, done = 0;
  const finish = () => { if (++done === n) process.stdout.write(JSON.stringify({ received, failed }) + '\\n'); };
  for (let i = 0; i < n; i++) {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      if (res.statusCode !== 200) failed++;
      res.resume();
      res.on('end', () => { received.push(ms()); finish(); });
    });
    req.on('error', () => { failed++; finish(); });
  }
});
`;

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The wake-up client process; `round()` sends one batch of requests and resolves with its receipt times. */
function startWakeClient(): { round(port: number, n: number, path: string): Promise<{ received: number[]; failed: number }>; stop(): Promise<void> } {
  const child = spawn(process.execPath, ['-e', WAKE_CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  let waiting: ((r: { received: number[]; failed: number }) => void) | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const nl = buffered.indexOf('\n');
    if (nl === -1) return;
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    const resolve = waiting;
    waiting = undefined;
    resolve?.(JSON.parse(line) as { received: number[]; failed: number });
  });
  return {
    round(port, n, path) {
      return new Promise((resolve) => {
        waiting = resolve;
        child.stdin.write(`${JSON.stringify({ port, n, path })}\n`);
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

/**
 * Server-side times of the responses sent during a wake-up. `ServerResponse.prototype.end` is
 * wrapped for the whole measurement, so the origin and the bare floor server are timed the same way:
 *  - `handed`: when `res.end()` returned. A held playlist response is one `writev` on an idle socket,
 *    done synchronously inside `end()`, so this is when its bytes were in the kernel (`unflushed`
 *    counts responses for which that was not so);
 *  - `finished`: the response's 'finish' event. Node defers write callbacks with process.nextTick,
 *    so every 'finish' of a synchronous release pass fires after the whole pass: this is the pass
 *    end for all of them, not a per-response time.
 */
function instrumentResponseEnds(): { handed: number[]; finished: number[]; unflushed: number; reset(): void; restore(): void } {
  const original = ServerResponse.prototype.end;
  const record = {
    handed: [] as number[],
    finished: [] as number[],
    unflushed: 0,
    reset() {
      record.handed = [];
      record.finished = [];
      record.unflushed = 0;
    },
    restore() {
      ServerResponse.prototype.end = original;
    },
  };
  ServerResponse.prototype.end = function (this: ServerResponse, ...args: unknown[]) {
    this.once('finish', () => record.finished.push(monotonicMs()));
    const result = (original as (...a: unknown[]) => ServerResponse).apply(this, args);
    record.handed.push(monotonicMs());
    if ((this.socket?.writableLength ?? 0) > 0) record.unflushed++;
    return result;
  } as typeof original;
  return record;
}

/** A server under the wake-up test: holds requests until `release()` answers them all. */
interface HoldTarget {
  readonly port: number;
  heldCount(): number | Promise<number>;
  /** Untimed work before `release()`. */
  prepare?(): void;
  /**
   * Answers every held request in one synchronous pass of this process; `handed` gets a time per
   * response written. A server in another process (the C floor) times itself and returns its pass.
   */
  release(handed: number[]): void | Promise<ExternalPass>;
  close(): Promise<void>;
}

/** A release pass timed by a server in another process (CLOCK_MONOTONIC ms, as `monotonicMs`). */
interface ExternalPass {
  t0: number;
  handed: number[];
  cpuUs: number;
}

/**
 * The machine's floor, below Node's: `bench/floors/hold-release.c`, compiled here with the system's
 * C compiler, holds the same requests and writes one prebuilt response per connection with plain
 * `send()`, from 1 thread (what any event loop pays) or 2 (this machine's cores). Skipped, with the
 * reason in the results, where no C compiler is installed.
 */
async function startCFloorServer(threads: number, response: Buffer, dir: string): Promise<HoldTarget> {
  const binary = join(dir, 'hold-release');
  const source = new URL('./floors/hold-release.c', import.meta.url).pathname;
  await promisify(execFile)('cc', ['-O2', '-pthread', '-o', binary, source]);
  const child = spawn(binary, [String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = () => new Promise<string>((resolve) => (lines.length > 0 ? resolve(lines.shift()!) : waiters.push(resolve)));
  const ask = async (command: string) => {
    child.stdin.write(`${command}\n`);
    return JSON.parse(await nextLine()) as Record<string, unknown>;
  };
  const { port } = JSON.parse(await nextLine()) as { port: number };
  child.stdin.write(`response ${response.toString('hex')}\n`);
  return {
    port,
    heldCount: async () => (await ask('count')).held as number,
    release: async () => (await ask('release')) as unknown as ExternalPass,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

/** A complete HTTP/1.1 response as `node:http` would send it for `writeHead(200, head)` + `end(body)`. */
function prebuiltResponse(body: Buffer, head: string[]): Buffer {
  let headerText = 'HTTP/1.1 200 OK\r\n';
  for (let i = 0; i < head.length; i += 2) headerText += `${head[i]}: ${head[i + 1]}\r\n`;
  headerText += `Date: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=65\r\n\r\n`;
  return Buffer.concat([Buffer.from(headerText, 'latin1'), body]);
}

/**
 * The floors: servers that hold every request and, on `release()`, answer all of them in one
 * synchronous pass with one shared Buffer and nothing else. No origin can release held responses
 * faster than these in one Node thread:
 *  - `headers`: `node:http`, `writeHead(200, sameHeaderList)` + `end(sameBuffer)`, the origin's work
 *    minus the origin (same header count and body size);
 *  - `end-only`: `node:http`, `end(sameBuffer)` alone (Node adds Date, Connection, Keep-Alive,
 *    Content-Length);
 *  - `raw-socket`: no HTTP layer at all, `net`: one `socket.write()` of a prebuilt complete response
 *    per held connection: what libuv and the kernel cost per response.
 * `writeHead`/`end` are timed by the `ServerResponse.prototype.end` wrapper, raw writes here.
 */
async function startFloorServer(mode: 'headers' | 'end-only' | 'raw-socket', body: Buffer, head: string[]): Promise<HoldTarget> {
  if (mode === 'raw-socket') {
    let held: Socket[] = [];
    const response = prebuiltResponse(body, head);
    const sockets = new Set<Socket>();
    // Each request arrives as one small packet: one 'data' event per request.
    const server = createNetServer((socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('data', () => void held.push(socket));
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return {
      port: (server.address() as AddressInfo).port,
      heldCount: () => held.length,
      release(handed) {
        const batch = held;
        held = [];
        for (const socket of batch) {
          socket.write(response);
          handed.push(monotonicMs());
        }
      },
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        }),
    };
  }
  let held: ServerResponse[] = [];
  const server = createHttpServer((_req, res) => void held.push(res));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    heldCount: () => held.length,
    release() {
      const batch = held;
      held = [];
      if (mode === 'end-only') {
        for (const res of batch) res.end(body);
      } else {
        for (const res of batch) {
          res.writeHead(200, head);
          res.end(body);
        }
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface WakeSample {
  /** ms from the trigger to each response handed to the kernel (server side). */
  handed: number[];
  /** ms from the trigger to each response's 'finish' event (server side). */
  finished: number[];
  /** ms from the trigger to each response complete at the client (client process). */
  received: number[];
  /** ms of the synchronous release pass (trigger call to its return). */
  pass: number[];
  /** CPU time (user + system) of this process during the pass, µs. */
  passCpuUs: number[];
  failed: number;
  unflushed: number;
}

function summarize(sample: WakeSample, rounds: number, n: number): Record<string, unknown> {
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? NaN) };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    heldRequests: n,
    wakeUps: rounds,
    failed: sample.failed,
    serverHandedToKernelMs: stats(sample.handed),
    ...(sample.finished.length > 0 ? { serverFinishEventMs: stats(sample.finished) } : {}),
    serverPassMsMedian: round(median(sample.pass)),
    serverPassCpuUsPerResponse: round(median(sample.passCpuUs) / n),
    clientReceivedMs: stats(sample.received),
    ...(sample.unflushed > 0 ? { unflushedAfterEnd: sample.unflushed } : {}),
  };
}

/**
 * Wake-up delay with the embedded source, for each count of held requests: the origin against the
 * bare floor server, interleaved round by round, clients in a separate process. The trigger is
 * `publish()` of a model with the awaited part (origin) or `release()` (floor); t0 is taken just
 * before it.
 */
export async function wakeUpEmbedded(counts: readonly number[]): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-wake-'));
  const storage = new FsStorage({ root: dir }, silentLogger());
  await storage.start();
  let model = liveModel({ targetDuration: 4, partTarget: 1, segments: 6 });
  const source = new EmbeddedSource();
  await source.start();
  source.publish('bench', 'v0', model);
  const origin = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0 });
  await origin.start();
  // The floors answer with a body and header list of the same sizes as the origin's.
  const floorBody = Buffer.from(serializeMediaPlaylist(advance(model)), 'utf8');
  const floorHead = [
    'Content-Type', 'application/vnd.apple.mpegurl',
    'Content-Length', String(floorBody.length),
    'Cache-Control', 'public, max-age=24',
    'ETag', '"0123456789abcdefghijkl"',
    'Last-Modified', new Date().toUTCString(),
    'Vary', 'Accept-Encoding',
    'Access-Control-Allow-Origin', '*',
    'Access-Control-Expose-Headers', 'Age, Date, ETag, Content-Range, Accept-Ranges',
  ];
  let next = model;
  const originTarget: HoldTarget = {
    port: origin.address().port,
    heldCount: () => origin.heldCount,
    prepare() {
      next = advance(model); // the packager's new model (its work, not the origin's)
    },
    release() {
      // The packager's call: held requests are answered synchronously inside publish().
      source.publish('bench', 'v0', next);
      model = next;
    },
    close: () => origin.close(),
  };
  const targets: Record<string, HoldTarget> = {
    origin: originTarget,
    bareNodeSameHeaders: await startFloorServer('headers', floorBody, floorHead),
    bareNodeEndOnly: await startFloorServer('end-only', floorBody, floorHead),
    rawSocketWrite: await startFloorServer('raw-socket', floorBody, floorHead),
  };
  const skipped: Record<string, string> = {};
  for (const threads of [1, 2]) {
    try {
      targets[`cSend${threads}Thread${threads > 1 ? 's' : ''}`] = await startCFloorServer(threads, prebuiltResponse(floorBody, floorHead), dir);
    } catch (err) {
      skipped[`cSend${threads}Thread${threads > 1 ? 's' : ''}`] = `no C floor: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  const client = startWakeClient();
  const ends = instrumentResponseEnds();
  const results: Record<string, unknown> = {};
  try {
    for (const n of counts) {
      const samples = Object.fromEntries(Object.keys(targets).map((name) => [name, emptySample()]));
      for (let r = -WAKE_WARMUP_ROUNDS; r < WAKE_ROUNDS; r++) {
        for (const [name, target] of Object.entries(targets)) {
          const pending = model.pending!;
          const answers = client.round(target.port, n, `/live/bench/v0/playlist.m3u8?_HLS_msn=${pending.msn}&_HLS_part=${pending.parts.length}`);
          while ((await target.heldCount()) < n) await sleep(5);
          await sleep(100);
          target.prepare?.();
          ends.reset();
          const cpu0 = process.cpuUsage();
          let t0 = monotonicMs();
          const external = target.release(ends.handed);
          let pass = monotonicMs() - t0;
          const cpu = process.cpuUsage(cpu0);
          let passCpuUs = cpu.user + cpu.system;
          let handed = ends.handed;
          if (external) {
            ({ t0, handed, cpuUs: passCpuUs } = await external);
            pass = Math.max(...handed) - t0;
          }
          const answered = await answers;
          if (r < 0) continue;
          const s = samples[name]!;
          s.pass.push(pass);
          s.passCpuUs.push(passCpuUs);
          s.failed += answered.failed;
          s.unflushed += ends.unflushed;
          for (const t of handed) s.handed.push(t - t0);
          for (const t of ends.finished) s.finished.push(t - t0);
          for (const t of answered.received) s.received.push(t - t0);
        }
      }
      results[`held${n}`] = { ...Object.fromEntries(Object.entries(samples).map(([name, sample]) => [name, summarize(sample, WAKE_ROUNDS, n)])), ...skipped };
    }
  } finally {
    ends.restore();
    await client.stop();
    for (const target of Object.values(targets)) await target.close();
    await source.close();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

function emptySample(): WakeSample {
  return { handed: [], finished: [], received: [], pass: [], passCpuUs: [], failed: 0, unflushed: 0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The standalone origin (storage-watch source): the delay is dominated by when the watch's next
 * conditional GET sees the new playlist, so the poll phase at the change is randomized.
 */
export async function wakeUpStandalone(n: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-wake-'));
  const storage = new FsStorage({ root: dir }, silentLogger());
  await storage.start();
  const key = 'live/bench/v0/playlist.m3u8';
  let model = liveModel({ targetDuration: 4, partTarget: 1, segments: 6 });
  const publish = (m: typeof model) => storage.put(key, Buffer.from(serializeMediaPlaylist(m)), { contentType: 'application/vnd.apple.mpegurl' });
  await publish(model);
  const source = new StorageWatchSource({ storage, parse: parseMediaPlaylist, logger: silentLogger() });
  await source.start();
  const server = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0 });
  await server.start();
  const client = startWakeClient();
  const received: number[] = [];
  let failed = 0;
  try {
    for (let r = 0; r < WAKE_ROUNDS; r++) {
      const pending = model.pending!;
      const answers = client.round(server.address().port, n, `/${key}?_HLS_msn=${pending.msn}&_HLS_part=${pending.parts.length}`);
      while (server.heldCount < n) await sleep(10);
      await sleep(100 + Math.random() * 300); // settle, and a random poll phase
      model = advance(model);
      const t0 = monotonicMs();
      await publish(model);
      const answered = await answers;
      failed += answered.failed;
      for (const t of answered.received) received.push(t - t0);
    }
  } finally {
    await client.stop();
    await server.close();
    await source.close();
    await rm(dir, { recursive: true, force: true });
  }
  received.sort((a, b) => a - b);
  return {
    heldRequests: n,
    wakeUps: WAKE_ROUNDS,
    failed,
    clientReceivedMs: { p50: round(percentile(received, 50)), p99: round(percentile(received, 99)), max: round(received[received.length - 1]!) },
  };
}

/** wrk runs asynchronously: the origin under test shares this process's event loop. */
async function wrk(url: string): Promise<{ rps: number; requests: number }> {
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`, url], { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!m || !total) throw new Error(`unexpected wrk output: ${out}`);
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk saw errors: ${out}`);
  return { rps: Number(m[1]), requests: Number(total[1]) };
}

/** CPU time (user + system) used so far by other processes, µs, from /proc (clock ticks). */
async function processCpuUs(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** This process's CPU time so far (user + system), µs. */
const ownCpuUs = async () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * Node's floor for cached media: a bare `node:http` server answering each path with one Buffer and
 * the same header list the origin sends, by an exact Map lookup; no validation, no metrics, no LRU.
 */
async function startBareMediaServer(objects: ReadonlyMap<string, Buffer>): Promise<{ port: number; close(): Promise<void> }> {
  const lastModified = new Date().toUTCString();
  const responses = new Map<string, { head: string[]; body: Buffer }>();
  for (const [path, body] of objects) {
    const head = [
      'Content-Type', 'video/iso.segment',
      'Content-Length', String(body.length),
      'Cache-Control', 'public, max-age=31536000, immutable',
      'ETag', `"${path.length}-${body.length}-0123456789abcdef0123456789abcdef"`,
      'Last-Modified', lastModified,
      'Accept-Ranges', 'bytes',
      'Access-Control-Allow-Origin', '*',
      'Access-Control-Expose-Headers', 'Age, Date, ETag, Content-Range, Accept-Ranges',
    ];
    responses.set(path, { head, body });
  }
  const server = createHttpServer((req, res) => {
    const hit = responses.get(req.url ?? '');
    if (!hit) {
      res.writeHead(404, { 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, hit.head);
    res.end(hit.body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function startNginx(
  root: string,
  dir: string,
  workers: number,
  sendfile = true,
): Promise<{ port: number; workerPids: () => Promise<number[]>; stop: () => Promise<void> }> {
  const port = await freePort();
  const name = `nginx-${workers}${sendfile ? '' : '-copy'}`;
  const conf = join(dir, `${name}.conf`);
  await writeFile(
    conf,
    `worker_processes ${workers};
daemon off;
user root;
pid ${dir}/${name}.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile ${sendfile ? 'on' : 'off'};
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  types { video/iso.segment m4s; video/mp4 mp4; application/vnd.apple.mpegurl m3u8; }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location /live/ { add_header Cache-Control "public, max-age=31536000, immutable"; add_header Access-Control-Allow-Origin "*"; }
  }
}
`,
  );
  const child = spawn('nginx', ['-c', conf, '-p', dir, '-e', `${dir}/nginx-error.log`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/live/bench/v0/part-1-0.m4s`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    workerPids: async () => {
      const master = child.pid!;
      const children = await readFile(`/proc/${master}/task/${master}/children`, 'utf8');
      return children.trim().split(/\s+/).filter(Boolean).map(Number);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
      }),
  };
}

export async function throughput(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-rps-'));
  await chmod(dir, 0o755);
  const root = join(dir, 'data');
  const storage = new FsStorage({ root }, silentLogger());
  await storage.start();
  await mkdir(join(root, 'live/bench/v0'), { recursive: true });
  const files = [
    ['part-1-0.m4s', 'Part', Buffer.alloc(PART_BYTES, 7)],
    ['part-1-1.m4s', 'LargePart', Buffer.alloc(LARGE_PART_BYTES, 8)],
    ['seg-1.m4s', 'Segment', Buffer.alloc(SEGMENT_BYTES, 9)],
  ] as const;
  for (const [file, , body] of files) await storage.put(`live/bench/v0/${file}`, body, { contentType: 'video/iso.segment' });
  const source = new EmbeddedSource();
  await source.start();
  source.publish('bench', 'v0', liveModel({ firstMsn: 0, segments: 3 }));
  const origin = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0 });
  await origin.start();
  const bare = await startBareMediaServer(new Map(files.map(([file, , body]) => [`/live/bench/v0/${file}`, body])));
  const results: Record<string, unknown> = {
    partBytes: PART_BYTES,
    largePartBytes: LARGE_PART_BYTES,
    segmentBytes: SEGMENT_BYTES,
    wrk: `-t1 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s, best of ${ROUNDS} interleaved rounds`,
    cpu: 'CPU µs per request of the server process(es) (user + system), median of the rounds',
  };
  const nginx1 = await startNginx(root, dir, 1);
  const nginx2 = await startNginx(root, dir, 2);
  // nginx copying bodies through user space, as any server answering from memory must (the origin
  // answers hot objects from its cache, and Node has no sendfile for sockets): separates the cost of
  // that copy from the cost of the HTTP layer.
  const nginx1Copy = await startNginx(root, dir, 1, false);
  try {
    // Warm the origin cache; the origin is then measured while this process does nothing else.
    for (const [file] of files) await (await fetch(`http://127.0.0.1:${origin.address().port}/live/bench/v0/${file}`)).arrayBuffer();
    const nginx1Pids = await nginx1.workerPids();
    const nginx2Pids = await nginx2.workerPids();
    const nginx1CopyPids = await nginx1Copy.workerPids();
    const targets: Record<string, { base: string; cpuUs: () => Promise<number> }> = {
      origin: { base: `http://127.0.0.1:${origin.address().port}`, cpuUs: ownCpuUs },
      bareNode: { base: `http://127.0.0.1:${bare.port}`, cpuUs: ownCpuUs },
      nginx1w: { base: `http://127.0.0.1:${nginx1.port}`, cpuUs: () => processCpuUs(nginx1Pids) },
      nginx2w: { base: `http://127.0.0.1:${nginx2.port}`, cpuUs: () => processCpuUs(nginx2Pids) },
      nginx1wNoSendfile: { base: `http://127.0.0.1:${nginx1Copy.port}`, cpuUs: () => processCpuUs(nginx1CopyPids) },
    };
    // The machine is shared and noisy: interleave the servers and keep each one's best round; CPU
    // per request (the server's own, not wrk's) is steadier than requests/s and says where time goes.
    const best: Record<string, number> = {};
    const cpu: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, target] of Object.entries(targets)) {
        for (const [file, label] of files) {
          const cpu0 = await target.cpuUs();
          const { rps, requests } = await wrk(`${target.base}/live/bench/v0/${file}`);
          const cpuPerRequest = ((await target.cpuUs()) - cpu0) / requests;
          const k = `${name}${label}`;
          best[k] = Math.max(best[k] ?? 0, rps);
          (cpu[k] ??= []).push(cpuPerRequest);
        }
      }
    }
    for (const [k, v] of Object.entries(best)) results[`${k}Rps`] = Math.round(v);
    for (const [k, v] of Object.entries(cpu)) results[`${k}CpuUsPerRequest`] = round(v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!);
    for (const [, label] of files) {
      for (const other of ['bareNode', 'nginx1w', 'nginx2w', 'nginx1wNoSendfile']) {
        const suffix = other === 'bareNode' ? 'BareNode' : `Nginx${other.slice(5)}`;
        results[`ratio${label}Vs${suffix}`] = round(best[`origin${label}`]! / best[`${other}${label}`]!);
      }
      // What copying the body costs nginx itself: the bound for any server answering from memory.
      results[`ratio${label}Nginx1wNoSendfileVsNginx1w`] = round(best[`nginx1wNoSendfile${label}`]! / best[`nginx1w${label}`]!);
    }
  } finally {
    await nginx1.stop();
    await nginx2.stop();
    await nginx1Copy.stop();
    await bare.close();
    await origin.close();
    await source.close();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

/** Clients holding `n` requests open, in a separate process so they do not count in the origin's RSS. */
const HOLD_CLIENT = `
const http = require('node:http');
const [port, n, path] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
const agent = new http.Agent({ keepAlive: true, maxSockets: n });
let answered = 0, ok = 0, i = 0;
function batch() {
  for (let k = 0; k < 500 && i < n; k++, i++) {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      if (res.statusCode === 200) ok++;
      res.resume();
      res.on('end', () => { if (++answered === n) { process.stdout.write(JSON.stringify({ ok }) + '\\n'); process.exit(0); } });
    });
    req.on('error', () => { if (++answered === n) { process.stdout.write(JSON.stringify({ ok }) + '\\n'); process.exit(0); } });
  }
  if (i < n) setTimeout(batch, 20);
}
batch();
`;

export async function heldMemory(n: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-bench-rss-'));
  const storage = new FsStorage({ root: dir }, silentLogger());
  await storage.start();
  const source = new EmbeddedSource();
  await source.start();
  let model = liveModel({ targetDuration: 10, partTarget: 1 });
  source.publish('bench', 'v0', model);
  const server = new OriginServer({ source, storage, render: serializeMediaPlaylist, logger: silentLogger(), port: 0, maxHeldRequests: n + 10 });
  await server.start();
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const pending = model.pending!;
  const child = spawn(process.execPath, ['-e', HOLD_CLIENT, String(server.address().port), String(n), `/live/bench/v0/playlist.m3u8?_HLS_msn=${pending.msn}&_HLS_part=${pending.parts.length}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 25_000;
  while (server.heldCount < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const held = server.heldCount;
  const rssHeld = process.memoryUsage().rss;
  model = advance(model);
  source.publish('bench', 'v0', model);
  await exited;
  await server.close();
  await source.close();
  await rm(dir, { recursive: true, force: true });
  const answered = JSON.parse(out.trim() || '{"ok":0}') as { ok: number };
  return {
    heldRequests: held,
    releasedOk: answered.ok,
    rssMbBefore: round(rssBefore / 2 ** 20),
    rssMbWithHeld: round(rssHeld / 2 ** 20),
    rssKbPerHeldRequest: round((rssHeld - rssBefore) / 1024 / Math.max(1, held)),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export async function run(): Promise<Record<string, unknown>> {
  return {
    wakeUpEmbedded: await wakeUpEmbedded(WAKE_COUNTS),
    wakeUpStandalone: await wakeUpStandalone(1000),
    cachedMediaThroughput: await throughput(),
    memoryHeld: await heldMemory(10_000),
  };
}

runIfMain(import.meta.url, run);
