import { describe, expect, it } from 'vitest';
import { renditionsOfMultivariant } from '../../../src/package/channel-packager.js';

describe('renditionsOfMultivariant', () => {
  it('lists the renditions a stored multivariant playlist names, audio groups included, once each', () => {
    const master = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/playlist.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="audio"',
      '720p/playlist.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=350000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio"',
      '360p/playlist.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.4d401e",RESOLUTION=640x360,FRAME-RATE=30.000',
      '360p/playlist.m3u8',
      '',
    ].join('\n');
    expect(renditionsOfMultivariant(master)).toEqual(['audio', '720p', '360p']);
  });

  it('ignores URIs that are not a rendition folder of this channel', () => {
    const master = ['#EXTM3U', '../other/playlist.m3u8', '/live/x/720p/playlist.m3u8', 'http://cdn/720p/playlist.m3u8', 'a b/playlist.m3u8', '#EXT-X-MEDIA:URI="../x/playlist.m3u8"'].join('\n');
    expect(renditionsOfMultivariant(master)).toEqual([]);
  });
});
