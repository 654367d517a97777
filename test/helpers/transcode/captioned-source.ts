import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A test source with real CEA-608 captions: ffmpeg encodes a test pattern as H.264 (one access
 * unit delimiter per frame), this helper puts an ATSC A/53 caption SEI in every access unit — a
 * user_data_registered_itu_t_t35 message ("GA94", cc_data with one CEA-608 field-1 byte pair per
 * frame) spelling `text` as roll-up captions, repeated — and ffmpeg muxes it with a tone into
 * `format`. ffmpeg 5.1 has no encoder that writes captions from an SCC file into SEI, hence the
 * bitstream edit. Read the captions back with `readCaptions` (ffmpeg's `movie=…[out0+subcc]`).
 */
export async function renderCaptionedSource(file: string, opts: { width: number; height: number; fps: number; seconds: number; format: string; text: string; audioLanguages?: string[] }): Promise<void> {
  const h264 = `${file}.h264`;
  const withCc = `${file}.cc.h264`;
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=${opts.fps}`,
    '-t', String(opts.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(opts.fps), '-pix_fmt', 'yuv420p', '-bf', '0',
    '-x264-params', 'aud=1', '-f', 'h264', h264,
  ]);
  const stream = await readFile(h264);
  await writeFile(withCc, addCaptionSei(stream, cea608RollUp(opts.text)));
  const languages = opts.audioLanguages ?? [undefined];
  const audioInputs = languages.flatMap((_l, i) => ['-f', 'lavfi', '-i', `sine=frequency=${440 + 220 * i}:sample_rate=48000`]);
  const maps = languages.flatMap((_l, i) => ['-map', `${i + 1}:a`]);
  const metadata = languages.flatMap((lang, i) => (lang === undefined ? [] : [`-metadata:s:a:${i}`, `language=${lang}`]));
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-framerate', String(opts.fps), '-f', 'h264', '-i', withCc,
    ...audioInputs,
    '-map', '0:v', ...maps, '-t', String(opts.seconds),
    '-c:v', 'copy', '-c:a', 'aac', '-b:a', '64k', ...metadata,
    '-f', opts.format, file,
  ]);
  await rm(h264, { force: true });
  await rm(withCc, { force: true });
}

/** The caption text (CEA-608 characters, in order) ffmpeg decodes from `file`'s first video stream. */
export async function readCaptions(file: string): Promise<string> {
  const escaped = file.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/'/g, "\\'");
  const { stdout } = await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `movie='${escaped}'[out0+subcc]`, '-map', '0:s', '-f', 'srt', '-'], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Odd parity in bit 7 (CEA-608 §C: every byte). */
function parity(byte: number): number {
  let ones = 0;
  for (let b = byte & 0x7f; b !== 0; b >>= 1) ones += b & 1;
  return ones % 2 === 0 ? byte | 0x80 : byte & 0x7f;
}

/**
 * Byte pairs of a roll-up caption: RU2 and a carriage return (each control code sent twice, as
 * CEA-608 asks), then the text two characters per pair, then padding, in a loop.
 */
function cea608RollUp(text: string): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  const control = (a: number, b: number) => pairs.push([parity(a), parity(b)], [parity(a), parity(b)]);
  control(0x14, 0x25); // RU2: roll-up, 2 rows
  control(0x14, 0x2d); // CR
  const chars = [...text].map((c) => c.charCodeAt(0) & 0x7f);
  for (let i = 0; i < chars.length; i += 2) pairs.push([parity(chars[i]!), parity(chars[i + 1] ?? 0)]);
  control(0x14, 0x2d); // CR: the line rolls up and is shown
  for (let i = 0; i < 30; i++) pairs.push([0x80, 0x80]); // padding (null with parity)
  return pairs;
}

/** Inserts one caption SEI after the access unit delimiter of every access unit (Annex B stream). */
function addCaptionSei(stream: Buffer, pairs: Array<[number, number]>): Buffer {
  const out: Buffer[] = [];
  let frame = 0;
  for (const nal of splitAnnexB(stream)) {
    out.push(Buffer.from([0, 0, 0, 1]), nal);
    if ((nal[0]! & 0x1f) === 9) out.push(Buffer.from([0, 0, 0, 1]), captionSei(pairs[frame++ % pairs.length]!));
  }
  return Buffer.concat(out);
}

function splitAnnexB(stream: Buffer): Buffer[] {
  const starts: Array<{ at: number; code: number }> = [];
  for (let i = 0; i + 3 <= stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) {
      starts.push({ at: i + 3, code: i > 0 && stream[i - 1] === 0 ? 4 : 3 });
      i += 2;
    }
  }
  return starts.map((s, k) => {
    const next = starts[k + 1];
    return stream.subarray(s.at, next === undefined ? stream.length : next.at - next.code);
  });
}

/** SEI NAL: user_data_registered_itu_t_t35 (payload type 4), ATSC A/53 GA94 cc_data with one pair. */
function captionSei(pair: [number, number]): Buffer {
  const payload = Buffer.from([
    0xb5, 0x00, 0x31, // country United States, provider ATSC
    0x47, 0x41, 0x39, 0x34, // "GA94"
    0x03, // user_data_type_code: cc_data
    0xc0 | 1, // reserved, process_cc_data_flag, zero bit, cc_count 1
    0xff, // em_data
    0xfc, pair[0], pair[1], // marker bits, cc_valid, cc_type 0 (NTSC field 1), the pair
    0xff, // marker_bits
  ]);
  const rbsp = Buffer.concat([Buffer.from([0x06, 0x04, payload.length]), payload, Buffer.from([0x80])]);
  return emulationPrevented(rbsp);
}

/** Inserts emulation_prevention_three_byte where 00 00 is followed by 00..03 (H.264 §7.4.1). */
function emulationPrevented(rbsp: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const byte of rbsp) {
    if (zeros >= 2 && byte <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}
