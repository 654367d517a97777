import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * The frequency (Hz) of the pure tone in `file`'s first audio stream: ffmpeg decodes it to mono
 * 48 kHz PCM and the rising zero crossings are counted (exact enough for the sine sources the tests
 * publish: tones of different tracks are hundreds of Hz apart). NaN without audio.
 */
export async function toneFrequency(file: string): Promise<number> {
  const { stdout } = await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:a:0', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  const samples = new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
  // Skip the first 20 ms (the AAC decoder's priming and a fragment's first frame may ramp).
  const start = Math.min(samples.length, 960);
  let crossings = 0;
  for (let i = start + 1; i < samples.length; i++) if (samples[i - 1]! < 0 && samples[i]! >= 0) crossings++;
  const seconds = (samples.length - start) / 48_000;
  return seconds > 0 ? crossings / seconds : Number.NaN;
}

/**
 * The integrated loudness (LUFS, EBU R128 / ITU-R BS.1770 with its gating) of `file`'s first audio
 * stream, as ffmpeg's `ebur128` filter reports it in its summary. Throws when there is no summary
 * (no audio decoded).
 */
export async function integratedLoudness(file: string): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-map', '0:a:0', '-af', 'ebur128', '-f', 'null', '-'], { maxBuffer: 64 * 1024 * 1024 });
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const match = /Integrated loudness:\s*I:\s*(-?[\d.]+|-inf) LUFS/.exec(summary);
  if (!stderr.includes('Summary:') || match === null) throw new Error(`no ebur128 summary for ${file}:\n${stderr.slice(-2000)}`);
  return Number(match[1] === '-inf' ? Number.NEGATIVE_INFINITY : match[1]);
}
