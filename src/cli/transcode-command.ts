import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { runTranscode } from '../app/transcode-app.js';
import { DEFAULT_LADDERS_DIR, loadLadder } from '../ladder/ladder-loader.js';
import { isValidId } from '../core/ids.js';
import { createRootLogger } from '../core/logger.js';
import type { InputSpec } from '../transcode/input-spec.js';
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
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const { state, restarts, lastError, decisions, files } = await runTranscode(
          { channel: opts.channel, ladder, input, outDir: opts.out },
          logger,
          controller.signal,
        );
        process.stdout.write(`${JSON.stringify({ state, restarts, lastError, decisions, files }, null, 2)}\n`);
        if (state === 'failed') throw new CommanderError(1, 'livepipe.transcodeFailed', lastError ?? 'transcoder failed');
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
