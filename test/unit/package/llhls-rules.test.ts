import { describe, expect, it } from 'vitest';
import { checkMediaPlaylist, checkRenditionSet, checkRenditionsInStep, PlaylistHistoryChecker, RenditionSetChecker } from '../../helpers/hls/llhls-rules.js';

/** The rule checker must be able to fail: each mutation of a compliant playlist breaks one rule. */
const GOOD = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,CAN-SKIP-UNTIL=12.000
#EXT-X-PART-INF:PART-TARGET=0.500
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-MAP:URI="init-1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:00.000Z
#EXTINF:2.000,
seg-10.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-2.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:05.000Z
#EXT-X-PART:DURATION=0.500,URI="part-11-0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.500,URI="part-11-1.m4s"
#EXT-X-PART:DURATION=0.500,URI="part-11-2.m4s"
#EXT-X-PART:DURATION=0.200,URI="part-11-3.m4s"
#EXTINF:1.700,
seg-11.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:06.700Z
#EXT-X-PART:DURATION=0.500,URI="part-12-0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-12-1.m4s"
#EXT-X-RENDITION-REPORT:URI="../audio/playlist.m3u8",LAST-MSN=12,LAST-PART=0
`;

describe('LL-HLS rule checker', () => {
  it('accepts a compliant playlist', () => {
    expect(checkMediaPlaylist(GOOD, { otherRenditions: ['audio'] })).toEqual([]);
  });

  const mutations: Array<{ rule: RegExp; text: string; others?: string[] }> = [
    { rule: /lasts 0.6 > PART-TARGET/, text: GOOD.replace('DURATION=0.500,URI="part-11-1.m4s"', 'DURATION=0.600,URI="part-11-1.m4s"') },
    { rule: /< 85% of PART-TARGET/, text: GOOD.replace('DURATION=0.500,URI="part-11-1.m4s"', 'DURATION=0.300,URI="part-11-1.m4s"') },
    { rule: /rounds above TARGETDURATION/, text: GOOD.replace('#EXTINF:2.000,', '#EXTINF:2.600,') },
    { rule: /HOLD-BACK 4 < 3 × TARGETDURATION|clamping HOLD-BACK/, text: GOOD.replace('HOLD-BACK=6.000', 'HOLD-BACK=4.000') },
    { rule: /CAN-SKIP-UNTIL 6 < 6 × TARGETDURATION/, text: GOOD.replace('CAN-SKIP-UNTIL=12.000', 'CAN-SKIP-UNTIL=6.000') },
    { rule: /no EXT-X-PRELOAD-HINT/, text: GOOD.replace(/#EXT-X-PRELOAD-HINT.*\n/, '') },
    { rule: /no EXT-X-RENDITION-REPORT for \.\.\/720p/, text: GOOD, others: ['audio', '720p'] },
    { rule: /rendition report \.\.\/audio\/playlist\.m3u8 lacks LAST-PART/, text: GOOD.replace('LAST-MSN=12,LAST-PART=0', 'LAST-MSN=12') },
    { rule: /segment 11 lacks EXT-X-PROGRAM-DATE-TIME/, text: GOOD.replace('#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:05.000Z\n', '') },
    { rule: /does not start with an INDEPENDENT part/, text: GOOD.replace('URI="part-11-0.m4s",INDEPENDENT=YES', 'URI="part-11-0.m4s"') },
    { rule: /parts sum to/, text: GOOD.replace('#EXTINF:1.700,', '#EXTINF:1.900,') },
    { rule: /segment 10 lasts 0.021 s, under 100 ms/, text: GOOD.replace('#EXTINF:2.000,', '#EXTINF:0.021,') },
  ];
  for (const m of mutations) {
    it(`flags ${m.rule.source}`, () => {
      const violations = checkMediaPlaylist(m.text, { otherRenditions: m.others ?? ['audio'] });
      expect(violations.some((v) => m.rule.test(v))).toBe(true);
    });
  }

  it('flags history violations: msn backwards, changed targets, wrong discontinuity sequence, rewritten segments', () => {
    const h = new PlaylistHistoryChecker();
    expect(h.check(GOOD)).toEqual([]);
    expect(h.check(GOOD.replace('MEDIA-SEQUENCE:10', 'MEDIA-SEQUENCE:9'))).toContain('media sequence went backwards: 10 → 9');
    const h2 = new PlaylistHistoryChecker();
    h2.check(GOOD);
    // Segment 10 slides out without a discontinuity: the sequence must stay at 2; 11 then 12 with its.
    const slid = GOOD.replace('MEDIA-SEQUENCE:10', 'MEDIA-SEQUENCE:11').replace(/#EXT-X-MAP:URI="init-1.mp4"\n.*\n#EXTINF:2.000,\nseg-10.m4s\n/, '');
    expect(h2.check(slid.replace('DISCONTINUITY-SEQUENCE:2', 'DISCONTINUITY-SEQUENCE:3'))).toContain('EXT-X-DISCONTINUITY-SEQUENCE is 3, expected 2');
    const h3 = new PlaylistHistoryChecker();
    h3.check(GOOD);
    expect(h3.check(GOOD.replace('TARGETDURATION:2', 'TARGETDURATION:3'))).toContain('TARGETDURATION changed 2 → 3');
    const h4 = new PlaylistHistoryChecker();
    h4.check(GOOD);
    expect(h4.check(GOOD.replace('seg-11.m4s', 'seg-x.m4s'))).toContain('segment 11 changed between reloads');
    expect(checkRenditionSet([GOOD, GOOD.replace('PART-HOLD-BACK=1.500', 'PART-HOLD-BACK=2.000')])).toEqual([
      'EXT-X-SERVER-CONTROL differs between renditions',
    ]);
  });

  /**
   * Issue 15 as players saw it: after an encoder restart audio numbered its segments one above
   * video's, so its msn 11 is the media video lists as msn 12 (a second later).
   */
  const AUDIO_AHEAD = GOOD.replace('2026-11-28T12:00:05.000Z', '2026-11-28T12:00:06.000Z');

  it('renditions: same msn, same start (within tolerance), same discontinuity sequence', () => {
    expect(checkRenditionSet([GOOD, GOOD], { names: ['video', 'audio'] })).toEqual([]);
    // Audio's boundaries within one AAC frame of video's are the same segment.
    const slightlyLater = GOOD.replace('12:00:05.000Z', '12:00:05.021Z').replace('12:00:06.700Z', '12:00:06.721Z');
    expect(checkRenditionSet([GOOD, slightlyLater], { names: ['video', 'audio'] })).toEqual([]);
    const off = checkRenditionSet([GOOD, AUDIO_AHEAD], { names: ['video', 'audio'] });
    expect(off).toEqual(['msn 11: audio starts at 2026-11-28T12:00:06.000Z, video at 2026-11-28T12:00:05.000Z (renditions must share segment boundaries, §6.2.4)']);
    const moreBreaks = GOOD.replace('DISCONTINUITY-SEQUENCE:2', 'DISCONTINUITY-SEQUENCE:3');
    expect(checkRenditionSet([GOOD, moreBreaks], { names: ['video', 'audio'] })).toEqual([
      'msn 10: audio has discontinuity sequence 3, video 2',
      'msn 11: audio has discontinuity sequence 4, video 3',
    ]);
  });

  it('renditions over a whole run: each msn ever listed is compared, whenever each rendition listed it', () => {
    const set = new RenditionSetChecker();
    set.add('video', GOOD);
    // An earlier version of audio, listing only msn 10.
    set.add('audio', GOOD.replace(/#EXT-X-DISCONTINUITY\n[\s\S]*?(?=#EXT-X-PRELOAD)/, ''));
    expect(set.violations()).toEqual([]);
    set.add('audio', AUDIO_AHEAD);
    expect(set.violations()).toHaveLength(1);
  });

  /**
   * The API-restarts chaos case (issue 15): audio has closed msn 17 while 360p's 17 is still open, and
   * msn 16 — the last sliver of a run stopped just after a boundary — lasts 0.2 s. Audio's 17 starts
   * 0.2 s after 360p's 16: the same media is not numbered apart, the renditions were read a moment apart.
   */
  const EDGE_HEAD = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.300,HOLD-BACK=3.000,CAN-SKIP-UNTIL=6.000
#EXT-X-PART-INF:PART-TARGET=0.100
#EXT-X-MEDIA-SEQUENCE:15
#EXT-X-MAP:URI="init-9.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:00.000Z
#EXTINF:1.000,
seg-15.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:01.000Z
#EXTINF:0.200,
seg-16.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init-10.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T12:00:01.200Z
`;
  const VIDEO_EDGE = `${EDGE_HEAD}#EXT-X-PART:DURATION=0.100,URI="part-17-0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-17-1.m4s"
`;
  const AUDIO_EDGE = `${EDGE_HEAD}#EXTINF:1.000,
seg-17.m4s
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-18-0.m4s"
`;

  it('renditions in step: a segment one rendition lists a moment before the other is no violation', () => {
    expect(checkRenditionsInStep({ audio: AUDIO_EDGE, '360p': VIDEO_EDGE })).toEqual([]);
  });

  it('renditions in step: a segment numbered one above the other rendition\'s is', () => {
    // Audio numbers the media of 360p's 16 (and 17) one higher: its 16 starts where 360p's 15 does.
    const ahead = AUDIO_EDGE.replace('MEDIA-SEQUENCE:15', 'MEDIA-SEQUENCE:16').replace('seg-15.m4s', 'seg-16.m4s').replace('seg-16.m4s\n#EXT-X-DISC', 'seg-17.m4s\n#EXT-X-DISC');
    const violations = checkRenditionsInStep({ audio: ahead, '360p': VIDEO_EDGE });
    expect(violations).toContain('msn 16: 360p starts at 2026-11-28T12:00:01.000Z, audio at 2026-11-28T12:00:00.000Z (renditions must share segment boundaries, §6.2.4)');
  });
});
