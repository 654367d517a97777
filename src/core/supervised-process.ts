import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, LivepipeError } from './errors.js';

/**
 * One run of a child process under a long-lived supervisor (the transcoder's ffmpeg, an SRT
 * listener's ffmpeg): spawned in its own process group (`detached: true`, so signals reach the child
 * and anything it starts, and a terminal's Ctrl-C does not hit it behind the supervisor's back), the
 * last stderr lines kept, one readable stream per output fd. Exits are reported once through
 * `exited`, never polled. Restarting is the supervisor's business: a `SupervisedProcess` runs once.
 */

export interface SupervisedProcessOptions {
  /** The binary (`ffmpeg`, or a path to one). */
  command: string;
  args: string[];
  /** Fds the child writes to (1 = stdout, 3, 4, …); each becomes a Readable in `outputs`. Others are ignored. */
  outputFds: number[];
  /** Bytes piped into the child's stdin; when absent stdin is closed. */
  stdin?: Readable;
  /** Lines of stderr kept for error reports; default 50. */
  stderrLines?: number;
  /**
   * Rewrites every stderr line before it is kept or reported (e.g. to hide a secret), or drops it
   * (undefined: a known line that would crowd the others out of the kept tail); default none.
   */
  mapStderrLine?: (line: string) => string | undefined;
  /** Each complete stderr line, as kept. */
  onStderrLine?: (line: string) => void;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn failure (binary missing, …); `BinaryMissing` when the binary was not found. */
  error?: Error;
}

/** Keeps the last `size` non-empty lines of a text stream (mapped; a line mapped to undefined is dropped). */
export class LineRing {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly size: number,
    private readonly mapLine: (line: string) => string | undefined = (line) => line,
  ) {}

  /** Takes a chunk of text; returns the lines it completed (mapped). */
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > 4096) this.partial = this.partial.slice(0, 4096);
    const complete: string[] = [];
    for (const part of parts) {
      const trimmed = part.replace(/\r$/, '').trimEnd();
      if (trimmed === '') continue;
      const line = this.mapLine(trimmed);
      if (line === undefined) continue;
      complete.push(line);
      this.lines.push(line);
      if (this.lines.length > this.size) this.lines.shift();
    }
    return complete;
  }

  snapshot(): string[] {
    const partial = this.partial.trim();
    const line = partial === '' ? undefined : this.mapLine(partial);
    return line === undefined ? [...this.lines] : [...this.lines, line].slice(-this.size);
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

export class SupervisedProcess {
  readonly pid: number | undefined;
  /** Output streams by fd (fed by the child's pipes; they keep what it wrote, and their end, until read). */
  readonly outputs = new Map<number, Readable>();
  /** Resolves once, when the process has exited (or failed to spawn). */
  readonly exited: Promise<ProcessExit>;
  /**
   * Resolves after `exited`, once the child's stdio has closed as well: every stderr line has been
   * reported by then, and every output pipe was read to its end (an output nobody reads holds this
   * back; the output streams may still hold bytes their consumer has not read).
   */
  readonly closed: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private readonly stderr: LineRing;
  private exit: ProcessExit | undefined;
  /** Ends the child's stdin: EOF is what wakes an ffmpeg blocked reading a silent publisher. */
  private closeStdin: () => void = () => undefined;

  constructor(options: SupervisedProcessOptions) {
    this.stderr = new LineRing(options.stderrLines ?? 50, options.mapStderrLine);
    const maxFd = Math.max(2, ...options.outputFds);
    const stdio: Array<'pipe' | 'ignore'> = [options.stdin ? 'pipe' : 'ignore', options.outputFds.includes(1) ? 'pipe' : 'ignore', 'pipe'];
    for (let fd = 3; fd <= maxFd; fd++) stdio.push(options.outputFds.includes(fd) ? 'pipe' : 'ignore');
    this.child = spawn(options.command, options.args, { detached: true, stdio });
    this.pid = this.child.pid;

    this.exited = new Promise<ProcessExit>((resolve) => {
      this.child.once('error', (error) => {
        // 'error' without 'exit' means the spawn failed; after an exit it is a kill failure (ignored).
        if (this.pid === undefined && !this.exit) {
          const code = (error as NodeJS.ErrnoException).code;
          const name = basename(options.command);
          const err =
            code === 'ENOENT' ? new LivepipeError(ErrorCode.BinaryMissing, `${name} not found (${options.command}); install ${name}`) : error;
          this.exit = { code: null, signal: null, error: err };
          resolve(this.exit);
        }
      });
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });

    const stdioClosed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.closed = Promise.all([this.exited, stdioClosed]).then(([exit]) => exit);

    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of this.stderr.push(chunk)) options.onStderrLine?.(line);
    });
    for (const fd of options.outputFds) {
      const pipe = this.child.stdio[fd] as Readable | null | undefined;
      if (!pipe) continue;
      // Node resumes a child's own stdio streams when it exits, so that unread pipes cannot keep the
      // parent alive. Bytes nobody listens to yet are then dropped, and so is the 'end': a run that
      // stopped or crashed before its consumer attached (the packager attaches asynchronously) left
      // that consumer waiting forever. A PassThrough in between keeps the bytes and the end for
      // the consumer; pipe() still carries its backpressure back to the child.
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
      // The child exiting closes its stdin: EPIPE is the normal end of a run, not an error.
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

  /** The last stderr lines (for ffmpeg with `-loglevel warning`: its warnings and errors). */
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
  async stop(timeoutMs = 5_000): Promise<ProcessExit> {
    if (!this.exit) {
      this.signal('SIGTERM');
      // SIGTERM alone does not interrupt a blocking read on stdin: give the child EOF too, so ffmpeg
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
