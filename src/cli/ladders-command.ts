import { Command, CommanderError } from 'commander';
import { DEFAULT_LADDERS_DIR, listLadders, loadLadder, loadLadderFile } from '../ladder/ladder-loader.js';
import { formatBitrate } from '../transcode/ffmpeg-args.js';
import { errorMessage, isLivepipeError } from '../core/errors.js';

/**
 * `livepipe ladders list` — the shipped (or `--dir`) ladders with their renditions.
 * `livepipe ladders validate <file>…` — exit 0 when every file is valid; otherwise 1, with one
 * `file: field: reason` line per problem on stderr.
 */
export function register(program: Command): void {
  const ladders = program.command('ladders').description('list and validate ABR ladder files');

  ladders
    .command('list')
    .description('list the available ladders and their renditions')
    .option('--dir <dir>', 'ladder directory', DEFAULT_LADDERS_DIR)
    .option('--json', 'print JSON')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const names = await listLadders(opts.dir);
      const out: string[] = [];
      const all = [];
      for (const name of names) {
        try {
          const { ladder } = await loadLadder(name, opts.dir);
          all.push({ name, ...ladder });
          const fps = ladder.frameRate === 'source' ? 'source fps' : `≤${ladder.frameRate.cap} fps`;
          out.push(`${name}  gop ${ladder.gop}s, segment ${ladder.segment}s, part ${ladder.part}s, ${fps}${ladder.tune ? `, tune ${ladder.tune}` : ''}, encoder ${ladder.encoder.kind}`);
          if (ladder.description) out.push(`  ${ladder.description}`);
          for (const v of ladder.video) out.push(`  ${v.name.padEnd(8)} ${v.width}x${v.height} ${formatBitrate(v.bitrate)} ${v.profile} ${ladder.encoder.kind === 'x264' ? v.preset : ''}`.trimEnd());
          for (const a of ladder.audio) out.push(`  ${a.name.padEnd(8)} AAC-LC ${formatBitrate(a.bitrate)} ${a.channels}ch ${a.sampleRate} Hz`);
        } catch (err) {
          out.push(`${name}  INVALID: ${errorMessage(err)}`);
        }
      }
      process.stdout.write(opts.json ? `${JSON.stringify(all, null, 2)}\n` : `${out.join('\n')}\n`);
    });

  ladders
    .command('validate')
    .description('validate ladder files; exit status 0 when all are valid')
    .argument('<files...>', 'ladder YAML files')
    .action(async (files: string[]) => {
      let failed = 0;
      for (const file of files) {
        try {
          const { ladder } = await loadLadderFile(file);
          process.stdout.write(`${file}: ok (${ladder.video.length} video, ${ladder.audio.length} audio)\n`);
        } catch (err) {
          failed += 1;
          const message = isLivepipeError(err) ? err.message.replace(/^invalid ladder\n/, '') : errorMessage(err);
          process.stderr.write(`${message}\n`);
        }
      }
      if (failed > 0) throw new CommanderError(1, 'livepipe.ladderInvalid', `${failed} invalid ladder file(s)`);
    });
}
