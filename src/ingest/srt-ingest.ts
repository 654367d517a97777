import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { isValidId } from '../core/ids.js';
import { urlHost } from '../core/url-host.js';
import type { Logger } from '../core/logger.js';
import { SupervisedProcess } from '../core/supervised-process.js';
import { LiveFeedBase, RateMeter, type IngestFeedRegistry, type InputRole, type PublishEndReason, type PublisherInfo } from './ingest-feed.js';
import type { ChannelPublishSettings, ChannelSrtSettings } from './publish-auth.js';
import type { GopFanoutOptions } from './gop-fanout.js';
import { ShedReporter, type IngestShedMetrics } from './shed-reporter.js';
import { TsFanout } from './ts-fanout.js';
import { tsNoVideoReason } from './video-presence.js';

/** libsrt's passphrase bounds (SRTO_PASSPHRASE: 10..79 characters). */
export const SRT_PASSPHRASE_MIN = 10;
export const SRT_PASSPHRASE_MAX = 79;
/** libsrt's default latency (SRTO_LATENCY), in ms. */
export const SRT_DEFAULT_LATENCY_MS = 120;
/** SRTO_MINVERSION of every listener: 1.3.0, the first with the HSv5 handshake. */
export const SRT_MIN_PEER_VERSION = 0x010300;
/**
 * A listener that exits without a publisher after running this long did start: a caller got in and
 * left (or was cut off) before sending media. It is re-armed at once, not backed off like a listener
 * that cannot start (a taken port fails within milliseconds).
 */
export const SRT_STARTED_AFTER_MS = 2000;

export interface SrtIngestOptions extends Pick<GopFanoutOptions, 'maxConsumerBufferBytes'> {
  /** Bind address of every listener; default `127.0.0.1`. */
  host?: string;
  /** ffmpeg binary; default `ffmpeg`. */
  ffmpegPath?: string;
  /** AES key length in bytes (SRTO_PBKEYLEN: 16, 24 or 32); default 16. */
  pbkeylen?: 16 | 24 | 32;
  /** Delay before re-arming a listener after a publisher left; default 250 ms. */
  reArmDelayMs?: number;
  /** Cap of the backoff when a listener keeps failing without any publisher (port taken…); default 10 s. */
  maxBackoffMs?: number;
  /** How long `close()` waits after SIGTERM before SIGKILL; default 3 s. */
  stopTimeoutMs?: number;
  /**
   * An idle listener exits after this long (libsrt `listen_timeout`) and is replaced at once, so a
   * listener orphaned by a livepipe that was killed outright frees its port within this time. A
   * caller arriving in the gap retries its handshake and connects to the new one. Default 60 s.
   */
  listenCycleMs?: number;
}

/** Validates a channel's SRT settings; returns the problems (empty when usable). */
export function validateSrtSettings(channel: string, srt: ChannelSrtSettings): string[] {
  const problems: string[] = [];
  if (!isValidId(channel)) problems.push(`channel id "${channel}" is not valid`);
  if (!Number.isInteger(srt.port) || srt.port < 1 || srt.port > 65535) problems.push(`channel ${channel}: SRT port ${srt.port} is not a UDP port`);
  if (typeof srt.passphrase !== 'string' || srt.passphrase.length < SRT_PASSPHRASE_MIN || srt.passphrase.length > SRT_PASSPHRASE_MAX) {
    problems.push(`channel ${channel}: SRT passphrase must have ${SRT_PASSPHRASE_MIN} to ${SRT_PASSPHRASE_MAX} characters`);
  }
  const latency = srt.latencyMs ?? SRT_DEFAULT_LATENCY_MS;
  if (!Number.isInteger(latency) || latency < 0 || latency > 60_000) problems.push(`channel ${channel}: SRT latency ${latency} ms out of 0..60000`);
  if (srt.backupPort !== undefined) {
    if (!Number.isInteger(srt.backupPort) || srt.backupPort < 1 || srt.backupPort > 65535) problems.push(`channel ${channel}: SRT backup port ${srt.backupPort} is not a UDP port`);
    else if (srt.backupPort === srt.port) problems.push(`channel ${channel}: SRT backup port ${srt.backupPort} is its primary port`);
  }
  return problems;
}

/**
 * ffmpeg arguments of one channel's listener: accept one SRT caller, remux its MPEG-TS unchanged to
 * stdout. Settings are passed as libsrt AVOptions rather than URL query parameters so the passphrase
 * needs no URL escaping and never appears in ffmpeg's error messages (which quote the URL).
 * Note ffmpeg's libsrt `latency` option is in microseconds.
 */
export function srtListenerArgs(host: string, srt: ChannelSrtSettings, pbkeylen: number, listenCycleMs = 60_000): string[] {
  return [
    // `info` for one line: the input's "Duration: …, start: S" — the publisher's first timestamp,
    // by which this remux shifts the timestamps it writes (see `-muxdelay` below), which maps a
    // SCTE-35 splice time in the publisher's clock onto the output (`inputStartSeconds`).
    // `-nostats`: no progress line every half second.
    '-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats',
    '-mode', 'listener',
    '-listen_timeout', String(listenCycleMs * 1000),
    '-passphrase', srt.passphrase,
    '-pbkeylen', String(pbkeylen),
    // HSv5 callers only (libsrt ≥ 1.3.0, 2018: every current encoder). A legacy HSv4 caller
    // negotiates encryption only after the connection is up, so libsrt accepted one that knows no
    // passphrase: measured, two crafted datagrams (induction, conclusion) took this channel's listener
    // until libsrt's 5 s peer idle timeout, and one more every few seconds kept the real publisher out.
    // Enforced encryption (libsrt's default) refuses HSv5 callers with a wrong or no passphrase.
    '-minversion', String(SRT_MIN_PEER_VERSION),
    '-latency', String((srt.latencyMs ?? SRT_DEFAULT_LATENCY_MS) * 1000),
    // Probe 1 s instead of 5 s so the feed starts soon after the caller connects. Deliberately no
    // `-fflags +nobuffer`: it drops the packets read while probing — the publisher's first keyframe —
    // so the channel waited a whole source GOP for the next one (measured: first playable part 3.7 s
    // → 2.1 s after the publisher starts, 2 s GOP source; bench/ingest.bench.ts).
    '-analyzeduration', '1000000',
    '-i', `srt://${urlHost(host)}:${srt.port}`,
    // A stream ffmpeg cannot name (SCTE-35 without the PMT's "CUEI" registration descriptor, which
    // ffmpeg 5.1 needs to know stream_type 0x86) is left out rather than failing the publish.
    '-ignore_unknown',
    '-map', '0', '-c', 'copy', '-f', 'mpegts',
    // No mux delay added. Deliberately no `-copyts`: without it this ffmpeg corrects MPEG-TS timestamp
    // discontinuities (an encoder restarting its clocks; test/e2e/serve-bad-input.test.ts), which
    // matters more than SCTE-35 timing. The price: the output starts near 0 (the input's timestamps
    // less its start time), so a splice time in the publisher's clock is mapped by that start time,
    // read from this process's stderr (`inputStartSeconds`; docs/on-air.md).
    '-muxdelay', '0',
    // Pass packets on as they arrive. By default the TS muxer packs audio into PES of ~2.9 KB (~0.18 s
    // of 128 kbit/s AAC), and the muxer holds every packet until each stream has reached its time,
    // so a publisher's own audio packing held video back too. The publisher's TS is interleaved
    // already. Measured, edge lag behind arrival (720p / audio): 0.24 / 0.33 s → 0.19 / 0.16 s,
    // where RTMP's is 0.04 / 0.06 s; the rest is SRT's receiver latency (120 ms by default).
    '-pes_payload_size', '0', '-max_interleave_delta', '1',
    '-flush_packets', '1', 'pipe:1',
  ];
}

/**
 * The URL a broadcaster types into an encoder (ffmpeg, OBS "Server"), secret included: for tools
 * that publish. The listener ignores `streamid` (the port already names the channel); it is set for
 * the publisher's own logs and for SRT gateways in between. Latency is negotiated as the larger of
 * both sides.
 */
export function srtPublisherUrl(publicHost: string, channel: string, srt: ChannelSrtSettings, pbkeylen = 16): string {
  const params = new URLSearchParams({ streamid: `publish:${channel}`, passphrase: srt.passphrase, pbkeylen: String(pbkeylen) });
  return `srt://${urlHost(publicHost)}:${srt.port}?${params.toString()}`;
}

/**
 * The same URL as channel views, the ops API and the start-up banner show it: `{passphrase}` stands
 * for the secret, as `{key}` does in RTMP URLs, since the passphrase is what keeps others from
 * publishing.
 */
export function srtPublisherUrlTemplate(publicHost: string, channel: string, port: number, pbkeylen = 16): string {
  const streamId = new URLSearchParams({ streamid: `publish:${channel}` }).toString();
  return `srt://${urlHost(publicHost)}:${port}?${streamId}&passphrase={passphrase}&pbkeylen=${pbkeylen}`;
}


/** Hides `passphrase` values in ffmpeg/libsrt output before it reaches a log. */
export function redactSrtLine(line: string, passphrase: string): string {
  let out = line.replace(/passphrase=[^&\s]*/gi, 'passphrase=[redacted]');
  if (passphrase.length > 0) out = out.split(passphrase).join('[redacted]');
  return out;
}

export type SrtStderrEvent = 'wrong-passphrase' | 'missing-passphrase' | 'old-version' | 'bind-failed' | 'listen-timeout' | 'other';

/**
 * The input's start time, seconds, from ffmpeg's input dump (`  Duration: N/A, start: 1.400000,
 * bitrate: N/A`): without `-copyts` ffmpeg writes every timestamp less this. Pure.
 */
export function inputStartSeconds(line: string): number | undefined {
  const m = /^\s*Duration: [^,]*, start: (-?\d+(?:\.\d+)?)/.exec(line);
  return m === null ? undefined : Number(m[1]);
}

/** Classifies one stderr line of the listener (libsrt's own log lines included). */
export function classifySrtStderr(line: string): SrtStderrEvent {
  if (/BADSECRET|Incorrect passphrase/i.test(line)) return 'wrong-passphrase';
  if (/UNSECURE|Password required/i.test(line)) return 'missing-passphrase';
  if (/Peer version too old|rejecting HSv4/i.test(line)) return 'old-version';
  if (/bind failed|Address already in use|EADDRINUSE/i.test(line)) return 'bind-failed';
  if (/Connection timed out/i.test(line)) return 'listen-timeout';
  return 'other';
}

export type SrtListenerExit =
  /** The periodic renewal of an idle listener (`listen_timeout`): not a failure. */
  | 'renewed'
  /** It carried a publisher, or livepipe stopped it (shutdown, kick, channel busy). */
  | 'ended'
  /**
   * It ran, a caller got past libsrt and left (or went silent until libsrt's peer idle timeout)
   * before any media: not the listener's failure. Re-armed at once — backing off would hand whoever
   * can do this again a longer hold on the port.
   */
  | 'caller-left'
  /** It exited without ever carrying a publisher, at once or unable to bind: backed off. */
  | 'failed';

/** Why a listener run ended, from what was seen of it. Pure. */
export function classifySrtListenerExit(run: { gotData: boolean; listenTimedOut: boolean; bindFailed: boolean; ranMs: number; deliberate: boolean }): SrtListenerExit {
  if (run.listenTimedOut && !run.gotData) return 'renewed';
  if (run.gotData || run.deliberate) return 'ended';
  if (run.ranMs >= SRT_STARTED_AFTER_MS && !run.bindFailed) return 'caller-left';
  return 'failed';
}

/**
 * SRT ingest: one supervised ffmpeg listener per channel that has SRT settings. A caller that gets
 * through libsrt's passphrase check becomes the channel's `IngestFeed` (MPEG-TS); when it leaves, the
 * listener process exits and a new one is armed. A channel with `backupPort` gets a second listener
 * there whose caller is the channel's backup input (role `backup`): ffmpeg's listener takes one caller
 * and cannot route by `streamid`, so the role is the port.
 *
 * The channel list is read when `start()` runs (so a registry that loads its definitions after this
 * object was built is seen complete) and again on every `sync()`: channels created, changed or removed
 * at runtime (ops API) get their listeners armed, re-armed or stopped without touching the others.
 */
export class SrtIngest {
  private readonly listeners = new Map<string, SrtChannelListener>();
  private readonly log: Logger;
  private readonly shedding: ShedReporter;
  private readonly readChannels: () => readonly ChannelPublishSettings[];
  private started = false;
  private closing: Promise<void> | undefined;
  /** Syncs run one at a time, in call order. */
  private syncTail: Promise<unknown> = Promise.resolve();
  private ffmpegChecked = false;

  constructor(
    private readonly deps: { registry: IngestFeedRegistry; logger: Logger; metrics?: IngestShedMetrics },
    /** The channels, or a function returning the current ones (read at `start()` and each `sync()`). */
    channels: readonly ChannelPublishSettings[] | (() => readonly ChannelPublishSettings[]),
    private readonly options: SrtIngestOptions = {},
  ) {
    this.log = deps.logger.child({ component: 'srt-ingest' });
    this.shedding = new ShedReporter(this.log, 'srt', deps.metrics, 'SRT callers refused or dropped before publishing (wrong passphrase, legacy handshake, or a flood?)');
    this.readChannels = typeof channels === 'function' ? channels : () => channels;
  }

  async start(): Promise<void> {
    if (this.started) throw new LivepipeError(ErrorCode.Conflict, 'SRT ingest already started');
    const wanted = srtChannels(this.readChannels());
    const problems = srtProblems(wanted);
    if (problems.length > 0) throw new LivepipeError(ErrorCode.ConfigInvalid, `SRT ingest settings invalid: ${problems.join('; ')}`);
    if (wanted.length > 0) {
      await assertFfmpegHasSrt(this.options.ffmpegPath ?? 'ffmpeg');
      this.ffmpegChecked = true;
    }
    // Fail loudly now on a port another process holds, rather than retrying in the background forever.
    const host = this.host;
    for (const c of wanted) {
      const error = await udpBindError(host, c.srt.port);
      if (error !== undefined) throw new LivepipeError(ErrorCode.ConfigInvalid, `SRT port ${host}:${c.srt.port} of channel ${c.id} is not available: ${error}`);
    }
    this.started = true;
    for (const c of wanted) this.arm(c.id, c.role, c.srt);
    this.log.info({ channels: [...new Set(wanted.map((c) => c.id))], host }, 'SRT ingest started');
  }

  /**
   * Brings the listeners in line with the current channel list: arms listeners for new SRT channels,
   * re-arms those whose port, passphrase or latency changed (a live publisher on one is dropped and
   * must reconnect with the new settings), stops those of removed channels. A new listener that
   * cannot be used (invalid settings, port taken) is logged and skipped: the others keep running.
   */
  sync(): Promise<void> {
    const run = this.syncTail.then(() => this.syncNow());
    this.syncTail = run.catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'SRT listener sync failed'));
    return run;
  }

  private async syncNow(): Promise<void> {
    if (!this.started || this.closing !== undefined) return;
    const wanted = new Map(srtChannels(this.readChannels()).map((c) => [listenerKey(c.id, c.role), c]));
    // Stop first, so a port moving from one channel to another is free when the new one binds.
    const stale = [...this.listeners.entries()].filter(([key, l]) => {
      const next = wanted.get(key);
      return next === undefined || !sameSrtSettings(next.srt, l.settings);
    });
    for (const [key, listener] of stale) {
      this.listeners.delete(key);
      this.log.info({ channel: listener.channel, role: listener.role, port: listener.settings.port }, 'SRT listener retired (channel removed or its SRT settings changed)');
    }
    await Promise.all(stale.map(([, l]) => l.stop('kicked')));
    for (const [key, { id, role, srt }] of wanted) {
      if (this.listeners.has(key)) continue;
      const problems = validateSrtSettings(id, srt);
      const clash = [...this.listeners.values()].find((l) => l.settings.port === srt.port);
      if (clash !== undefined) problems.push(`channels ${clash.channel} and ${id} share SRT port ${srt.port}`);
      if (problems.length === 0 && !this.ffmpegChecked) {
        await assertFfmpegHasSrt(this.options.ffmpegPath ?? 'ffmpeg').then(
          () => (this.ffmpegChecked = true),
          (err: unknown) => problems.push(errorMessage(err)),
        );
      }
      if (problems.length === 0) {
        const error = await udpBindError(this.host, srt.port);
        if (error !== undefined) problems.push(`SRT port ${this.host}:${srt.port} is not available: ${error}`);
      }
      if (problems.length > 0) {
        this.log.error({ channel: id, problems }, 'SRT listener not armed');
        continue;
      }
      if (this.closing !== undefined) return;
      this.arm(id, role, srt);
      this.log.info({ channel: id, role, port: srt.port }, 'SRT listener armed for a new or changed channel');
    }
  }

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  private arm(id: string, role: InputRole, srt: ChannelSrtSettings): void {
    const listener = new SrtChannelListener(id, role, srt, this.deps.registry, this.log, this.options, this.shedding);
    this.listeners.set(listenerKey(id, role), listener);
    listener.arm();
  }

  /** The listener's pid (tests, diagnostics); undefined between runs. */
  listenerPid(channel: string, role: InputRole = 'primary'): number | undefined {
    return this.listeners.get(listenerKey(channel, role))?.pid;
  }

  /** Channels with an armed listener, and their ports (a backup listener as its own entry). */
  listening(): Array<{ channel: string; port: number; role: InputRole }> {
    return [...this.listeners.values()].map((l) => ({ channel: l.channel, port: l.settings.port, role: l.role }));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.syncTail;
      await Promise.all([...this.listeners.values()].map((l) => l.stop()));
      this.shedding.close();
      this.log.info('SRT ingest closed');
    })();
    return this.closing;
  }
}

/** One listener wanted: a channel's primary, or its backup (`srt.port` is then the backup port). */
interface SrtListenerSpec {
  id: string;
  role: InputRole;
  srt: ChannelSrtSettings;
}

function srtChannels(channels: readonly ChannelPublishSettings[]): SrtListenerSpec[] {
  return channels.flatMap((c) => {
    if (c.srt === undefined) return [];
    const { backupPort, ...primary } = c.srt;
    const specs: SrtListenerSpec[] = [{ id: c.id, role: 'primary', srt: c.srt }];
    if (backupPort !== undefined) specs.push({ id: c.id, role: 'backup', srt: { ...primary, port: backupPort } });
    return specs;
  });
}

function listenerKey(channel: string, role: InputRole): string {
  return role === 'primary' ? channel : `${channel}\u0000${role}`;
}

/** Every problem of a set of SRT listeners (settings, shared ports), for `start()`. */
function srtProblems(channels: readonly SrtListenerSpec[]): string[] {
  const problems: string[] = [];
  const ports = new Map<number, string>();
  for (const c of channels) {
    if (c.role === 'primary') problems.push(...validateSrtSettings(c.id, c.srt));
    const other = ports.get(c.srt.port);
    if (other !== undefined) problems.push(`channels ${other} and ${c.id} share SRT port ${c.srt.port}`);
    ports.set(c.srt.port, c.id);
  }
  return problems;
}

function sameSrtSettings(a: ChannelSrtSettings, b: ChannelSrtSettings): boolean {
  return a.port === b.port && a.passphrase === b.passphrase && (a.latencyMs ?? SRT_DEFAULT_LATENCY_MS) === (b.latencyMs ?? SRT_DEFAULT_LATENCY_MS);
}

/** Checks that ffmpeg runs and was built with libsrt (`ffmpeg -protocols` lists `srt`). */
async function assertFfmpegHasSrt(ffmpegPath: string): Promise<void> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-hide_banner', '-protocols'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', () => resolve(out));
  }).catch((err: unknown) => {
    throw new LivepipeError(ErrorCode.BinaryMissing, `SRT ingest needs ffmpeg (${ffmpegPath}): ${errorMessage(err)}`, { cause: err });
  });
  const input = output.split(/Output:/i)[0] ?? '';
  if (!/^\s*srt\s*$/m.test(input)) throw new LivepipeError(ErrorCode.BinaryMissing, `${ffmpegPath} has no SRT support (build it with --enable-libsrt; Debian's ffmpeg has it)`);
}

/** Tries to bind a UDP socket; returns the error message, or undefined if the port is free. */
function udpBindError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    socket.once('error', (err) => {
      socket.close();
      resolve(err.message);
    });
    socket.bind(port, host, () => socket.close(() => resolve(undefined)));
  });
}

/** Supervises the listener ffmpeg of one channel: arm, feed, exit, re-arm with backoff. */
class SrtChannelListener {
  private proc: SupervisedProcess | undefined;
  /** Resolves when the current run has ended and its publish (if any) is closed. */
  private exited: Promise<void> = Promise.resolve();
  private feed: SrtFeed | undefined;
  private stopping = false;
  /** Why a publish ends when `stop()` ends it: `shutdown`, or `kicked` when the channel's settings changed. */
  private stopReason: PublishEndReason = 'shutdown';
  private kicked = false;
  private refusedBusy = false;
  private failures = 0;
  private rearmTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly host: string;
  private readonly pbkeylen: number;

  constructor(
    readonly channel: string,
    readonly role: InputRole,
    private readonly srt: ChannelSrtSettings,
    private readonly registry: IngestFeedRegistry,
    parentLog: Logger,
    private readonly options: SrtIngestOptions,
    private readonly shedding: ShedReporter,
  ) {
    this.log = parentLog.child({ channel, port: srt.port, ...(role !== 'primary' ? { role } : {}) });
    this.host = options.host ?? '127.0.0.1';
    this.pbkeylen = options.pbkeylen ?? 16;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get settings(): ChannelSrtSettings {
    return this.srt;
  }

  arm(): void {
    if (this.stopping) return;
    this.kicked = false;
    this.refusedBusy = false;
    const startedAt = Date.now();
    let gotData = false;
    let listenTimedOut = false;
    let bindFailed = false;
    let sourceStartSeconds: number | undefined;
    const proc = new SupervisedProcess({
      command: this.options.ffmpegPath ?? 'ffmpeg',
      args: srtListenerArgs(this.host, this.srt, this.pbkeylen, this.options.listenCycleMs),
      outputFds: [1],
      stderrLines: 10,
      // The passphrase never reaches a log, not even in the kept tail.
      mapStderrLine: (line) => redactSrtLine(line, this.srt.passphrase),
      onStderrLine: (line) => {
        const kind = classifySrtStderr(line);
        if (!gotData && kind === 'listen-timeout') listenTimedOut = true;
        if (kind === 'bind-failed') bindFailed = true;
        const start = inputStartSeconds(line);
        if (start !== undefined) {
          // Printed after probing, before the first output byte: the feed does not exist yet.
          sourceStartSeconds = start;
          this.feed?.setSourceStart(start);
        }
        this.onStderrLine(line);
      },
    });
    this.proc = proc;
    const media = proc.outputs.get(1);
    media?.on('data', (chunk: Buffer) => {
      if (!gotData) {
        gotData = true;
        this.onPublisherConnected();
        if (sourceStartSeconds !== undefined) this.feed?.setSourceStart(sourceStartSeconds);
      }
      this.feed?.onData(chunk);
    });
    // The run is over once ffmpeg has exited, its stderr has been read (a listen timeout is told
    // there) and everything it wrote has reached the feed.
    const drained = media === undefined ? Promise.resolve() : finished(media).catch(() => undefined);
    this.exited = Promise.all([proc.closed, drained]).then(([exit]) => {
      this.proc = undefined;
      const feed = this.feed;
      this.feed = undefined;
      if (feed !== undefined) {
        const reason: PublishEndReason = this.stopping ? this.stopReason : this.kicked ? 'kicked' : 'disconnect';
        feed.close(reason);
      }
      const { code, signal } = exit;
      const ranMs = Date.now() - startedAt;
      const deliberate = this.stopping || this.kicked || this.refusedBusy;
      const kind = classifySrtListenerExit({ gotData, listenTimedOut, bindFailed, ranMs, deliberate });
      if (exit.error !== undefined) {
        this.failures += 1;
        this.log.error({ err: exit.error.message }, 'cannot run ffmpeg for the SRT listener');
      } else if (kind === 'renewed') {
        this.failures = 0;
        this.log.debug({ ranMs }, 'idle SRT listener renewed');
      } else if (kind === 'caller-left') {
        this.failures = 0;
        this.log.debug({ code, signal, ranMs, stderr: proc.stderrTail() }, 'SRT listener exited: a caller left before sending media');
        this.shedding.shed('malformed');
      } else if (kind === 'failed') {
        this.failures += 1;
        this.log.error({ code, signal, ranMs, stderr: proc.stderrTail() }, 'SRT listener exited without a publisher');
      } else {
        this.failures = 0;
        this.log.debug({ code, signal, ranMs }, 'SRT listener exited');
      }
      this.scheduleRearm();
    });
    this.log.debug({ pid: proc.pid }, 'SRT listener armed');
  }

  private scheduleRearm(): void {
    if (this.stopping) return;
    const base = this.options.reArmDelayMs ?? 250;
    const max = this.options.maxBackoffMs ?? 10_000;
    const delay = this.failures === 0 ? base : Math.min(max, base * 2 ** this.failures) * (0.8 + Math.random() * 0.4);
    this.rearmTimer = setTimeout(() => this.arm(), delay);
  }

  private onPublisherConnected(): void {
    const holder = this.registry.holder(this.channel, this.role);
    if (holder !== undefined) {
      this.log.warn({ livePublisher: { protocol: holder.protocol, remoteAddress: holder.remoteAddress, since: holder.since } }, 'SRT publish refused: channel already has a live publisher');
      this.registry.refused(this.channel, 'srt', 'busy');
      this.refusedBusy = true;
      this.proc?.signal('SIGTERM');
      return;
    }
    const feed = new SrtFeed(this.channel, this.role, (refusal) => this.kick(refusal), this.options, (delayMs) =>
      this.log.warn(
        { audioDelayMs: delayMs },
        `the publisher's audio arrives up to ${delayMs} ms after its video: its MPEG-TS muxer packs audio frames into large PES packets, and a viewer closer than that to the live edge runs out of audio and stalls (ffmpeg publishers: -pes_payload_size 0; docs/latency.md)`,
      ),
    );
    if (!this.registry.add(feed)) {
      this.refusedBusy = true;
      this.proc?.signal('SIGTERM');
      return;
    }
    this.feed = feed;
  }

  private onStderrLine(line: string): void {
    switch (classifySrtStderr(line)) {
      // libsrt writes several lines per refused caller; its processConnectRequest line comes once.
      // Each refusal is a debug line and a count: a flood of bogus callers costs one warning per
      // 10 s (ShedReporter), not one per caller.
      case 'wrong-passphrase':
        if (/processConnectRequest/.test(line)) this.refused('SRT publish refused: wrong passphrase');
        return;
      case 'missing-passphrase':
        if (/processConnectRequest/.test(line)) this.refused('SRT publish refused: publisher sent no passphrase');
        return;
      case 'old-version':
        if (/processConnectRequest/.test(line)) this.refused('SRT publish refused: legacy (HSv4) handshake, libsrt < 1.3');
        return;
      case 'bind-failed':
        this.log.error({ line }, 'SRT listener cannot bind its port');
        return;
      case 'listen-timeout':
        return;
      case 'other':
        this.log.debug({ line }, 'SRT listener output');
    }
  }

  private refused(message: string): void {
    this.log.debug(message);
    this.shedding.shed('auth_failed');
  }

  /**
   * Ends the current publish. A `refusal` cannot reach the caller: SRT carries a reason only in a
   * rejected handshake (libsrt's listen callback), and this listener is an ffmpeg process that has
   * accepted the caller already; the caller sees its connection break. So the reason is logged here
   * (and the channel's view, the `publish.refused` webhook and the metrics carry it).
   */
  kick(refusal?: string): void {
    if (refusal !== undefined && this.proc !== undefined) this.log.warn({ refusal }, 'SRT publisher dropped (SRT cannot tell a connected caller why)');
    this.kicked = true;
    this.proc?.signal('SIGTERM');
  }

  /** Stops the listener (SIGTERM to its group, SIGKILL after the timeout) and waits for it. */
  async stop(reason: PublishEndReason = 'shutdown'): Promise<void> {
    if (!this.stopping) this.stopReason = reason;
    this.stopping = true;
    clearTimeout(this.rearmTimer);
    await this.proc?.stop(this.options.stopTimeoutMs ?? 3000);
    await this.exited;
  }
}

/** Audio arriving more than this after its video is worth telling the operator about (`AudioLateness`). */
const SRT_AUDIO_DELAY_WARN_MS = 200;
/** The warning waits this long into a publish, past the listener's probe burst and the clock's first estimates. */
const AUDIO_DELAY_SETTLE_MS = 5_000;

/** The MPEG-TS feed of one SRT publish. */
class SrtFeed extends LiveFeedBase {
  private readonly meter = new RateMeter();
  private readonly fanout: TsFanout;
  private readonly startedAt = Date.now();
  private readonly since = new Date(this.startedAt).toISOString();
  /** The first PMT was checked for a video stream. */
  private programChecked = false;
  /** Next time the audio delay is checked (once a second), and whether it was told already (once per publish). */
  private audioDelayCheckAt = 0;
  private audioDelayTold = false;

  constructor(
    channel: string,
    role: InputRole,
    private readonly kickPublisher: (refusal?: string) => void,
    options: SrtIngestOptions,
    /** The publisher's audio arrives more than `SRT_AUDIO_DELAY_WARN_MS` after its video (told once). */
    private readonly onAudioLate: (delayMs: number) => void = () => {},
  ) {
    super(channel, 'srt', 'mpegts', role);
    const fanoutOptions: GopFanoutOptions = {};
    if (options.maxConsumerBufferBytes !== undefined) fanoutOptions.maxConsumerBufferBytes = options.maxConsumerBufferBytes;
    this.fanout = new TsFanout(fanoutOptions);
    // Issue 17: SCTE-35 ad cues in the publisher's TS become the channel's cues.
    this.fanout.readCues((cue) => this.emitCue(cue));
  }

  /** The publisher's first timestamp (s), by which the listener shifted the stream (SCTE-35 splice times). */
  setSourceStart(seconds: number): void {
    this.fanout.setSourceStart(seconds);
  }

  onData(chunk: Buffer): void {
    if (this.ended) return;
    this.meter.add(chunk.length);
    this.fanout.push(chunk);
    const streams = this.fanout.programStreams;
    if (!this.programChecked && streams !== undefined) {
      this.programChecked = true;
      const refusal = tsNoVideoReason(streams.all);
      if (refusal !== undefined) this.refuse(refusal);
    }
    const now = Date.now();
    if (!this.audioDelayTold && now >= this.audioDelayCheckAt && now - this.startedAt >= AUDIO_DELAY_SETTLE_MS) {
      this.audioDelayCheckAt = now + 1000;
      const delay = this.fanout.audioDelayMs(now);
      if (delay !== undefined && delay > SRT_AUDIO_DELAY_WARN_MS) {
        this.audioDelayTold = true;
        this.onAudioLate(Math.round(delay));
      }
    }
  }

  /** Ends the publish as `unusable` (the channel shows `detail`) and drops the publisher. */
  private refuse(detail: string): void {
    this.close('unusable', detail);
    this.kickPublisher();
  }

  open(): Readable {
    return this.fanout.open();
  }

  kick(refusal?: string): void {
    this.kickPublisher(refusal);
  }

  close(reason: PublishEndReason, detail?: string): void {
    this.fanout.end();
    this.finish(reason, detail);
  }

  info(): PublisherInfo {
    const streams = this.fanout.programStreams;
    return {
      channel: this.channel,
      protocol: 'srt',
      format: 'mpegts',
      since: this.since,
      ...(streams?.video === undefined ? {} : { video: { codec: streams.video.codec } }),
      ...(streams?.audio === undefined ? {} : { audio: { codec: streams.audio.codec } }),
      bytesIn: this.meter.total,
      lastDataAt: new Date(this.meter.lastAt).toISOString(),
      bitrateBps: this.meter.bitsPerSecond(),
      consumers: this.fanout.consumerCount,
      ...audioDelayOf(this.fanout.audioDelayMs()),
    };
  }
}

function audioDelayOf(ms: number | undefined): { audioDelaySeconds?: number } {
  return ms === undefined ? {} : { audioDelaySeconds: Math.round(ms / 10) / 100 };
}
