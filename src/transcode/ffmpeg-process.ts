import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { ProgressParser, type TranscodeProgress } from './progress-parser.js';

/**
 * One ffmpeg process: spawned in its own process group (`detached: true`, so signals reach ffmpeg
 * and anything it might start, and a terminal's Ctrl-C does not hit it behind the supervisor's back),
 * with its progress parsed, the last stderr lines kept, and one readable pipe per output fd.
 * Exits are reported once through `exited`, never polled.
 */

export interface FfmpegProcessOptions {
  /** ffmpeg binary; default `ffmpeg`. */
  ffmpegPath?: string;
  args: string[];
  /** Extra output fds (3, 4, …) ffmpeg writes to; each becomes a Readable in `outputs`. */
  outputFds: number[];
  /** Media piped into ffmpeg's stdin (stdin inputs); when absent stdin is closed. */
  stdin?: Readable;
  /** Lines of stderr kept for error reports; default 50. */
  stderrLines?: number;
  onProgress?: (progress: TranscodeProgress) => void;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn failure (binary missing, …). */
  error?: Error;
}

/** Keeps the last `size` lines of a text stream. */
export class LineRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly size: number) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > 4096) this.partial = this.partial.slice(0, 4096);
    for (const line of parts) {
      const trimmed = line.replace(/\r$/, '').trimEnd();
      if (trimmed === '') continue;
      this.lines.push(trimmed);
      if (this.lines.length > this.size) this.lines.shift();
    }
  }

  snapshot(): string[] {
    return this.partial.trim() === '' ? [...this.lines] : [...this.lines, this.partial.trim()].slice(-this.size);
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FfmpegProcess {
  readonly pid: number | undefined;
  /** Output streams by fd (fed by ffmpeg's pipes; they keep what ffmpeg wrote until it is read). */
  readonly outputs = new Map<number, Readable>();
  /** Resolves once, when the process has exited (or failed to spawn). */
  readonly exited: Promise<FfmpegExit>;
  private readonly child: ChildProcess;
  private readonly stderr: LineRing;
  private exit: FfmpegExit | undefined;
  /** Ends ffmpeg's stdin (stdin inputs): EOF is what wakes an ffmpeg blocked reading a silent publisher. */
  private closeStdin: () => void = () => undefined;

  constructor(options: FfmpegProcessOptions) {
    this.stderr = new LineRing(options.stderrLines ?? 50);
    const maxFd = Math.max(2, ...options.outputFds);
    const stdio: Array<'pipe' | 'ignore'> = [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    for (let fd = 3; fd <= maxFd; fd++) stdio.push(options.outputFds.includes(fd) ? 'pipe' : 'ignore');
    this.child = spawn(options.ffmpegPath ?? 'ffmpeg', options.args, { detached: true, stdio });
    this.pid = this.child.pid;

    this.exited = new Promise<FfmpegExit>((resolve) => {
      this.child.once('error', (error) => {
        // 'error' without 'exit' means the spawn failed; after an exit it is a kill failure (ignored).
        if (this.pid === undefined && !this.exit) {
          const code = (error as NodeJS.ErrnoException).code;
          const err =
            code === 'ENOENT'
              ? new LivepipeError(ErrorCode.BinaryMissing, `ffmpeg not found (${options.ffmpegPath ?? 'ffmpeg'}); install ffmpeg`)
              : error;
          this.exit = { code: null, signal: null, error: err };
          resolve(this.exit);
        }
      });
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });

    const parser = new ProgressParser();
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const p of parser.push(chunk)) options.onProgress?.(p);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    for (const fd of options.outputFds) {
      const pipe = this.child.stdio[fd] as Readable | null | undefined;
      if (!pipe) continue;
      // Node resumes a child's own stdio streams when it exits, so that unread pipes cannot keep the
      // parent alive. Bytes nobody listens to yet are then dropped, and so is the 'end': a run that
      // stopped or crashed before its consumer attached (the packager attaches asynchronously) left
      // that consumer waiting forever. A PassThrough in between keeps the bytes and the end for
      // the consumer; pipe() still carries its backpressure back to ffmpeg.
      const output = new PassThrough();
      pipe.on('error', (err) => output.destroy(err));
      pipe.pipe(output);
      this.outputs.set(fd, output);
    }
    if (options.stdin && this.child.stdin) {
      const sink = this.child.stdin;
      this.closeStdin = () => {
        options.stdin?.unpipe(sink);
        sink.end();
      };
      // ffmpeg exiting closes its stdin: EPIPE is the normal end of a run, not an error.
      sink.on('error', () => undefined);
      options.stdin.on('error', () => sink.end());
      options.stdin.pipe(sink);
      void this.exited.then(() => {
        options.stdin?.unpipe(sink);
        options.stdin?.destroy();
      });
    }
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** The last stderr lines (warnings and errors only: ffmpeg runs with `-loglevel warning`). */
  stderrTail(): string[] {
    return this.stderr.snapshot();
  }

  /** Signals the whole process group; a group that is already gone is not an error. */
  signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /**
   * Graceful stop: SIGTERM to the group (ffmpeg finishes its outputs), SIGKILL after `timeoutMs`
   * (default 5 s). Resolves when the process has exited and its group is gone. Idempotent.
   */
  async stop(timeoutMs = 5_000): Promise<FfmpegExit> {
    if (!this.exit) {
      this.signal('SIGTERM');
      // SIGTERM alone does not interrupt a blocking read on stdin: give ffmpeg EOF too, so it
      // flushes its encoders and exits instead of waiting for the SIGKILL.
      this.closeStdin();
      // A cleared timer, not a dangling sleep: a stopped CLI must exit at once, not after the grace.
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const first = await Promise.race([this.exited, graceOver]);
      clearTimeout(timer);
      if (first === 'timeout') this.signal('SIGKILL');
    }
    const exit = await this.exited;
    await this.waitGroupGone();
    return exit;
  }

  /** Waits (≤ 2 s, then SIGKILL) until no process of the group remains. */
  private async waitGroupGone(): Promise<void> {
    if (this.pid === undefined) return;
    for (let i = 0; i < 40 && groupAlive(this.pid); i++) await sleep(50);
    if (groupAlive(this.pid)) {
      this.signal('SIGKILL');
      for (let i = 0; i < 40 && groupAlive(this.pid); i++) await sleep(50);
    }
  }

  /** For tests and diagnostics: the underlying child. */
  get process(): ChildProcess {
    return this.child;
  }
}
