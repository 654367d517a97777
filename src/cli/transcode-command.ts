import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { DEFAULT_LADDERS_DIR, loadLadder } from '../config/ladder-loader.js';
import { errorMessage } from '../core/errors.js';
import { EventBus, LivepipeEvent } from '../core/event-bus.js';
import { isValidId } from '../core/ids.js';
import { createRootLogger } from '../core/logger.js';
import type { InputSpec } from '../transcode/input-spec.js';
import { TranscoderSupervisor, type TranscodeRun } from '../transcode/transcoder-supervisor.js';
import { positive } from './option-parsers.js';

/**
 * `livepipe transcode --input <file-or-url> --ladder <name> --out <dir> [--duration <s>]`
 *
 * Runs one supervised ladder (files are read at native rate, as if live) and writes each output to
 * `<dir>/<rendition>.mp4` (fragmented MP4; a restarted run writes `<rendition>-run<N>.mp4`, since a
 * new run starts a new timeline). Stops cleanly at `--duration`, at the end of the input, or on
 * SIGINT/SIGTERM; prints a JSON summary on stdout, logs (JSON) on stderr.
 */

interface TranscodeOptions {
  input: string;
  ladder: string;
  laddersDir: string;
  out: string;
  duration?: number;
  inputFormat?: string;
  realtime: boolean;
  channel: string;
}

function inputSpecOf(opts: TranscodeOptions): InputSpec {
  if (opts.input === '-') {
    if (opts.inputFormat !== 'flv' && opts.inputFormat !== 'mpegts') {
      throw new InvalidArgumentError('--input - (stdin) needs --input-format flv or mpegts');
    }
    return { kind: 'stdin', format: opts.inputFormat };
  }
  const spec: InputSpec = { kind: 'url', url: opts.input, realtime: opts.realtime };
  if (opts.inputFormat !== undefined) spec.format = opts.inputFormat;
  if (opts.duration !== undefined) spec.maxDurationSec = opts.duration;
  return spec;
}

export function register(program: Command): void {
  program
    .command('transcode')
    .description('run one supervised ABR ladder on an input and write each rendition to <out>/<name>.mp4')
    .requiredOption('--input <file-or-url>', 'input file or URL ("-" reads stdin, with --input-format)')
    .option('--ladder <name>', 'ladder name (see `livepipe ladders list`)', 'default')
    .option('--ladders-dir <dir>', 'ladder directory', DEFAULT_LADDERS_DIR)
    .requiredOption('--out <dir>', 'output directory')
    .option('--duration <seconds>', 'stop after this many seconds of input', positive('number of seconds'))
    .option('--input-format <format>', 'force the input demuxer (flv, mpegts, lavfi, …)')
    .option('--no-realtime', 'read files as fast as possible instead of at native rate')
    .option('--channel <id>', 'channel id used in logs and events', 'cli')
    .action(async (opts: TranscodeOptions) => {
      if (!isValidId(opts.channel)) throw new InvalidArgumentError(`--channel: "${opts.channel}" is not a valid id`);
      const logger = createRootLogger({ fd: 2 });
      const input = inputSpecOf(opts);
      const { ladder } = await loadLadder(opts.ladder, opts.laddersDir);
      await mkdir(opts.out, { recursive: true });
      const bus = new EventBus();
      const files: Array<{ rendition: string; runId: number; file: string; bytes: number }> = [];
      const writes: Promise<unknown>[] = [];
      const onRun = (run: TranscodeRun): void => {
        for (const output of run.outputs) {
          const file = join(opts.out, run.runId === 1 ? `${output.name}.mp4` : `${output.name}-run${run.runId}.mp4`);
          const entry = { rendition: output.name, runId: run.runId, file, bytes: 0 };
          files.push(entry);
          output.stream.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
          const sink = createWriteStream(file);
          output.stream.pipe(sink);
          writes.push(finished(sink).catch((err: unknown) => logger.error({ file, err: errorMessage(err) }, 'write failed')));
        }
      };
      const supervisor = new TranscoderSupervisor({
        channel: opts.channel,
        ladder,
        input,
        ...(input.kind === 'stdin' ? { openInput: () => process.stdin } : {}),
        bus,
        logger,
        onRun,
        // A one-shot job gives up on an encoder that keeps failing (a live channel never does).
        restart: { maxRestarts: 5, windowMs: 60_000 },
      });
      const onSignal = (): void => void supervisor.stop();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await supervisor.start();
        const state = await supervisor.finished();
        await Promise.all(writes);
        const snapshot = supervisor.state();
        process.stdout.write(
          `${JSON.stringify({ state, restarts: snapshot.restarts, lastError: snapshot.lastError, decisions: snapshot.decisions, files }, null, 2)}\n`,
        );
        if (state === 'failed') throw new CommanderError(1, 'livepipe.transcodeFailed', snapshot.lastError ?? 'transcoder failed');
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await supervisor.stop();
        bus.removeAllListeners();
      }
    });
}
