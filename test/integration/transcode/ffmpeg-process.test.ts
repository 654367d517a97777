/**
 * The output streams of a real ffmpeg process keep what ffmpeg wrote, and their end, until a
 * consumer reads them: Node resumes (and so drains) a child's own stdio pipes when it exits, which
 * dropped both when the consumer attached after the exit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FfmpegProcess } from '../../../src/transcode/ffmpeg-process.js';

describe('FfmpegProcess outputs', () => {
  it('keep the bytes and the end of a process that exited before anyone read them', async () => {
    const proc = new FfmpegProcess({
      args: [
        '-hide_banner', '-loglevel', 'error', '-nostdin',
        '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10:duration=0.5',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5',
        '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof+frag_keyframe', 'pipe:3',
      ],
      outputFds: [3],
    });
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    await sleep(100); // well after Node's own handling of the exit
    const chunks: Buffer[] = [];
    for await (const chunk of proc.outputs.get(3)!) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.includes(Buffer.from('moof'))).toBe(true);
  });
});
