/**
 * The test harness's structural check of a part (`partBoxProblem`), which stands in for one ffprobe
 * per part in the live decode checks: it must pass a real fragment and catch what a broken cut makes.
 */
import { describe, expect, it } from 'vitest';
import { encodeLadderFixture } from '../../helpers/package/fixtures.js';
import { partBoxProblem } from '../../helpers/package/live.js';

function box(type: string, payloadBytes: number): Buffer {
  const b = Buffer.alloc(8 + payloadBytes);
  b.writeUInt32BE(8 + payloadBytes, 0);
  b.write(type, 4, 'latin1');
  return b;
}

describe('partBoxProblem', () => {
  it('passes the fragments ffmpeg writes (video and audio, as the transcoder does), one or many; catches one cut short', async () => {
    const fixture = await encodeLadderFixture({ seconds: 1, sizes: ['160x90'], gop: 15 });
    for (const stream of [fixture.video[0]!, fixture.audio]) {
      const bytes = Buffer.from(stream);
      // The media after the init segment (ftyp, moov): from the first moof box's size field on, up
      // to the random access index ffmpeg writes when the stream ends (mfra: no part of a part).
      const media = bytes.subarray(bytes.indexOf('moof') - 4, bytes.lastIndexOf('mfra') - 4);
      const first = media.subarray(0, media.readUInt32BE(0) + media.readUInt32BE(media.readUInt32BE(0)));
      expect(first.subarray(4, 8).toString('latin1')).toBe('moof');
      expect(partBoxProblem(first)).toBeUndefined();
      expect(partBoxProblem(media)).toBeUndefined();
      expect(partBoxProblem(media.subarray(0, media.length - 1))).toMatch(/does not fit/);
    }
  }, 30_000);

  it('passes whole fragments, with or without styp', () => {
    expect(partBoxProblem(Buffer.concat([box('moof', 40), box('mdat', 100)]))).toBeUndefined();
    expect(partBoxProblem(Buffer.concat([box('styp', 8), box('moof', 40), box('mdat', 100), box('moof', 40), box('mdat', 7)]))).toBeUndefined();
  });

  it('finds a cut inside a box, a missing mdat, an empty mdat and stray boxes', () => {
    const whole = Buffer.concat([box('moof', 40), box('mdat', 100)]);
    expect(partBoxProblem(whole.subarray(0, whole.length - 1))).toMatch(/does not fit/);
    expect(partBoxProblem(Buffer.concat([whole, Buffer.alloc(3)]))).toMatch(/trailing bytes/);
    expect(partBoxProblem(box('moof', 40))).toMatch(/boxes moof/);
    expect(partBoxProblem(Buffer.concat([box('moof', 40), box('mdat', 0)]))).toMatch(/empty mdat/);
    expect(partBoxProblem(Buffer.concat([box('mdat', 10), box('moof', 40)]))).toMatch(/boxes mdat moof/);
    expect(partBoxProblem(Buffer.concat([box('moov', 10), whole]))).toMatch(/boxes moov moof mdat/);
  });
});
