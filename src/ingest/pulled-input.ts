import type { Readable } from 'node:stream';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { SupervisedProcess } from '../core/supervised-process.js';

/**
 * A source livepipe fetches itself — `source:` URLs (RTMP, SRT in caller mode, HLS, RTSP, anything
 * ffmpeg reads) — or an MPEG-TS feed that must become FLV for the input selector (an SRT publish). A
 * supervised ffmpeg copies the first video and audio stream into FLV on its stdout (no re-encode);
 * each run's stdout is handed to `onStream`, its end to `onEnded`. When ffmpeg exits or stalls
 * (no bytes for `stallMs`), it is started again after a pause that doubles from `minBackoffMs` to
 * `maxBackoffMs`, and returns to the minimum after a run that lasted `healthyRunMs`.
 */

export type PulledSource = { url: string } | { stdin: () => Readable; format: 'mpegts' };

export interface PulledInputOptions {
  source: PulledSource;
  logger: Logger;
  onStream: (stream: Readable) => void;
  onEnded: (why: string) => void;
  ffmpegPath?: string;
  /** Default 500 ms and 10 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** No output for this long: the run is stopped and started again. Default 10 s. */
  stallMs?: number;
  /** A run this long resets the backoff; default 30 s. */
  healthyRunMs?: number;
}

/** The ffmpeg arguments of one pull (pure): the first video and audio stream, copied into FLV on stdout. */
export function pullArgs(source: PulledSource): string[] {
  let input: string[];
  if ('url' in source) {
    // Live HLS: start at the live edge, not three segments back (ffmpeg's default).
    const hls = /\.m3u8(\?|$)/i.test(source.url);
    input = [...(hls ? ['-live_start_index', '-1'] : []), '-i', source.url];
  } else {
    input = ['-f', source.format, '-i', 'pipe:0'];
  }
  return [
    '-hide_banner', '-loglevel', 'error', ...('url' in source ? ['-nostdin'] : []),
    ...input,
    '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy',
    '-flvflags', 'no_duration_filesize',
    '-f', 'flv', 'pipe:1',
  ];
}

/** Hides the user:password of a URL in logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@').replace(/(passphrase|key|token)=[^&]*/gi, '$1=***');
}

export class PulledInput {
  private closed = false;
  private process: SupervisedProcess | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly log: Logger;
  private running = false;
  /** Runs started so far. */
  runs = 0;

  constructor(private readonly options: PulledInputOptions) {
    this.log = options.logger.child({ component: 'pulled-input', source: 'url' in options.source ? redactUrl(options.source.url) : 'stdin' });
  }

  /** Whether an ffmpeg run is delivering (started and not ended). */
  get connected(): boolean {
    return this.running;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the current run and the restarts. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.process?.stop(2000);
    await this.loop;
  }

  private async run(): Promise<void> {
    const min = this.options.minBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 10_000;
    let backoff = min;
    while (!this.closed) {
      const startedAt = Date.now();
      const why = await this.once();
      if (this.closed) return;
      backoff = Date.now() - startedAt >= (this.options.healthyRunMs ?? 30_000) ? min : backoff;
      this.log.warn({ why, retryInMs: backoff }, 'pulled source ended: retrying');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      backoff = Math.min(max, backoff * 2);
    }
  }

  /** One ffmpeg run; resolves with why it ended. */
  private async once(): Promise<string> {
    const source = this.options.source;
    const proc = new SupervisedProcess({
      command: this.options.ffmpegPath ?? 'ffmpeg',
      args: pullArgs(source),
      outputFds: [1],
      ...('stdin' in source ? { stdin: source.stdin() } : {}),
    });
    this.process = proc;
    this.runs += 1;
    const output = proc.outputs.get(1)!;
    let lastData = Date.now();
    let stalled = false;
    output.on('data', () => (lastData = Date.now()));
    const stallMs = this.options.stallMs ?? 10_000;
    const watchdog = setInterval(() => {
      if (Date.now() - lastData > stallMs && !stalled) {
        stalled = true;
        void proc.stop(1000);
      }
    }, Math.min(1000, stallMs));
    watchdog.unref();
    this.running = true;
    try {
      this.options.onStream(output);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'pulled stream not taken');
    }
    const exit = await proc.exited;
    clearInterval(watchdog);
    this.running = false;
    const why = stalled ? `no data for ${stallMs} ms` : exit.error !== undefined ? errorMessage(exit.error) : `ffmpeg exited (${exit.code ?? exit.signal}): ${proc.stderrTail().slice(-2).join(' | ')}`;
    this.options.onEnded(why);
    return why;
  }
}
