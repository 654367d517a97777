import { describe, expect, it } from 'vitest';
import { pullArgs, redactUrl } from '../../../src/ingest/pulled-input.js';
import { slateClipArgs } from '../../../src/ingest/slate-clip.js';

describe('pullArgs', () => {
  it('copies the first video and audio stream into FLV on stdout, live HLS from the live edge', () => {
    const hls = pullArgs({ url: 'https://o.example/live/a/master.m3u8' });
    expect(hls.join(' ')).toContain('-live_start_index -1 -i https://o.example/live/a/master.m3u8');
    expect(hls.join(' ')).toContain('-map 0:v:0 -map 0:a:0? -c copy');
    expect(hls.slice(-3)).toEqual(['-f', 'flv', 'pipe:1']);
    expect(pullArgs({ url: 'rtmp://h/live/x' })).not.toContain('-live_start_index');
    expect(pullArgs({ stdin: () => process.stdin, format: 'mpegts' }).join(' ')).toContain('-f mpegts -i pipe:0');
  });

  it('hides credentials in logged URLs', () => {
    expect(redactUrl('rtsp://user:pw@cam/x')).toBe('rtsp://***@cam/x');
    expect(redactUrl('srt://h:9000?mode=caller&passphrase=secret123456')).toBe('srt://h:9000?mode=caller&passphrase=***');
  });
});

describe('slateClipArgs', () => {
  it('renders a one-second card of the given format, with the title when a font is there and without it otherwise', () => {
    const withFont = slateClipArgs({ width: 641, height: 360, frameRate: 29.97, title: "news: it's live!" }, '/f.ttf').join(' ');
    expect(withFont).toContain('color=c=0x1b2a41:s=642x360:r=30,drawtext=fontfile=/f.ttf:text=\'news its live\'');
    expect(withFont).toContain('-frames:v 30');
    expect(withFont).toContain('-bf 0 -g 30');
    expect(slateClipArgs({ width: 640, height: 360, frameRate: 25, title: 'x' }, '').join(' ')).not.toContain('drawtext');
    expect(slateClipArgs({ width: 640, height: 360, frameRate: 25, title: 'x', image: '/s.png' }).join(' ')).toContain('-loop 1 -framerate 25 -i /s.png');
  });

  it("puts an image's scaling after every input: an output option (before the audio input, ffmpeg refused it as that input's)", () => {
    const args = slateClipArgs({ width: 640, height: 360, frameRate: 25, title: 'x', image: '/s.png' });
    expect(args.indexOf('-vf')).toBeGreaterThan(args.lastIndexOf('-i'));
    expect(args[args.indexOf('-vf') + 1]).toMatch(/^scale=640:360:force_original_aspect_ratio=decrease,pad=640:360/);
  });
});
