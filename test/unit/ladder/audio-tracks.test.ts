import { describe, expect, it } from 'vitest';
import { channelSchema } from '../../../src/config/service-config.js';
import { canonicalLanguage, planAudioTracks, withChannelAudioTracks } from '../../../src/ladder/audio-tracks.js';
import { languageRenditionName, parseLadder, resolveLadder } from '../../../src/ladder/ladder-loader.js';
import type { ProbedAudioTrack } from '../../../src/ladder/run-contract.js';

const eng: ProbedAudioTrack = { index: 0, language: 'eng', default: false, channels: 2 };
const spa: ProbedAudioTrack = { index: 1, language: 'spa', default: false, channels: 2 };

describe('canonicalLanguage', () => {
  it.each([
    ['eng', 'en'],
    ['spa', 'es'],
    ['fre', 'fr'],
    ['en-us', 'en-US'],
    ['es-419', 'es-419'],
    ['und', undefined],
    ['zxx', undefined],
    ['', undefined],
    ['english', undefined],
    ['e"n', undefined],
    ['en/../x', undefined],
    [undefined, undefined],
  ])('%s → %s', (tag, expected) => {
    expect(canonicalLanguage(tag)).toBe(expected);
  });
});

describe('planAudioTracks', () => {
  it('one source track and no list: no plan (published as before)', () => {
    expect(planAudioTracks(undefined, [eng])).toEqual({ plan: undefined, missing: [] });
    expect(planAudioTracks(undefined, undefined)).toEqual({ plan: undefined, missing: [] });
  });

  it('two source tracks: one rendition each, described by metadata; the first is the default when none says so', () => {
    expect(planAudioTracks(undefined, [eng, spa]).plan).toEqual([
      { track: 0, language: 'en', label: 'English', isDefault: true, suffix: 'en' },
      { track: 1, language: 'es', label: 'Spanish', isDefault: false, suffix: 'es' },
    ]);
  });

  it('the source default disposition and titles count; unknown languages get a numbered name and a track suffix', () => {
    const plan = planAudioTracks(undefined, [{ index: 0, default: false }, { index: 1, language: 'spa', title: 'Español "DD"', default: true }]).plan!;
    expect(plan).toEqual([
      { track: 0, label: 'Audio 1', isDefault: false, suffix: 'track0' },
      { track: 1, language: 'es', label: 'Español DD', isDefault: true, suffix: 'es' },
    ]);
  });

  it('two tracks of one language: names and suffixes stay unique', () => {
    const plan = planAudioTracks(undefined, [eng, { ...spa, language: 'eng' }]).plan!;
    expect(plan.map((p) => [p.label, p.suffix])).toEqual([['English', 'en'], ['English (2)', 'en-track1']]);
  });

  it('a ladder list overrides metadata field by field, picks tracks, and reports tracks the source lacks', () => {
    const choice = planAudioTracks(
      [{ track: 1, name: 'Castellano', default: true }, { track: 0, language: 'en-GB' }, { track: 5, language: 'fr' }],
      [eng, spa],
    );
    expect(choice.missing).toEqual([5]);
    expect(choice.plan).toEqual([
      { track: 1, language: 'es', label: 'Castellano', isDefault: true, suffix: 'es' },
      { track: 0, language: 'en-GB', label: 'British English', isDefault: false, suffix: 'en-gb' },
    ]);
    // The list's own default wins over the source's flag.
    expect(planAudioTracks([{}, { default: true }], [{ ...eng, default: true }, spa]).plan!.map((p) => p.isDefault)).toEqual([false, true]);
    // Nothing the source has: no plan (the first track, as before).
    expect(planAudioTracks([{ track: 3 }], [eng, spa])).toEqual({ plan: undefined, missing: [3] });
  });
});

describe('ladder audioTracks and resolveLadder with several audio tracks', () => {
  const base = { gop: 1, segment: 2, part: 0.5, video: [{ name: '360p', width: 640, height: 360, bitrate: '800k' }], audio: [{ name: 'audio' }] };
  const source = { width: 1280, height: 720, frameRate: 30, hasAudio: true };

  it('validates the list: language tags, names fit a quoted-string, one default, no track twice', () => {
    expect(parseLadder({ ...base, audioTracks: [{ language: 'es-419', name: 'Español' }] }, 'ok.yaml').audioTracks).toEqual([{ language: 'es-419', name: 'Español' }]);
    expect(() => parseLadder({ ...base, audioTracks: [{ language: '../etc' }] }, 'bad.yaml')).toThrow(/audioTracks\.0\.language/);
    expect(() => parseLadder({ ...base, audioTracks: [{ name: 'a "b"' }] }, 'bad.yaml')).toThrow(/double quote/);
    expect(() => parseLadder({ ...base, audioTracks: [{ default: true }, { default: true }] }, 'bad.yaml')).toThrow(/at most one audio track/);
    expect(() => parseLadder({ ...base, audioTracks: [{ track: 1 }, {}, {}] }, 'bad.yaml')).toThrow(/track 1 listed twice/);
  });

  it('a one-track source resolves exactly as before', () => {
    const r = resolveLadder(parseLadder(base, 'l.yaml'), { ...source, audioTracks: [eng] });
    expect(r.audio.map((a) => [a.name, a.track, a.language, a.label, a.isDefault])).toEqual([['audio', 0, undefined, undefined, true]]);
  });

  it('a two-language source: one rendition per language per ladder audio entry, named {name}-{language}', () => {
    const ladder = parseLadder({ ...base, audio: [{ name: 'audio' }, { name: 'lo', bitrate: '48k' }] }, 'l.yaml');
    const r = resolveLadder(ladder, { ...source, audioTracks: [eng, spa] });
    expect(r.audio.map((a) => [a.name, a.group, a.track, a.language, a.label, a.isDefault])).toEqual([
      ['audio-en', 'audio', 0, 'en', 'English', true],
      ['audio-es', 'audio', 1, 'es', 'Spanish', false],
      ['lo-en', 'lo', 0, 'en', 'English', true],
      ['lo-es', 'lo', 1, 'es', 'Spanish', false],
    ]);
    expect(r.decisions.filter((d) => d.kind === 'audio').map((d) => d.reason)).toContain('source audio track 1 (es)');
  });

  it('rendition names stay ids and never take another rendition\'s name', () => {
    expect(languageRenditionName('a'.repeat(64), 'en', 0, new Set())).toHaveLength(64);
    expect(languageRenditionName('audio', 'en', 3, new Set(['audio-en']))).toBe('audio-track3');
  });
});

describe("a channel's audioTracks over the ladder's", () => {
  const ladder = parseLadder(
    {
      gop: 1, segment: 2, part: 0.5,
      video: [{ name: '360p', width: 640, height: 360, bitrate: '800k' }],
      audio: [{ name: 'audio' }],
      audioTracks: [{ track: 0, name: 'Ladder English', default: true }, { track: 1, name: 'Ladder Spanish' }],
    },
    'l.yaml',
  );
  const source = { width: 1280, height: 720, frameRate: 30, hasAudio: true, audioTracks: [eng, spa] };
  const described = (l: typeof ladder) => resolveLadder(l, source).audio.map((a) => [a.name, a.track, a.language, a.label, a.isDefault]);

  it("without a channel list the ladder's applies (the same ladder object)", () => {
    expect(withChannelAudioTracks(ladder, undefined)).toBe(ladder);
    expect(described(withChannelAudioTracks(ladder, undefined))).toEqual([
      ['audio-en', 0, 'en', 'Ladder English', true],
      ['audio-es', 1, 'es', 'Ladder Spanish', false],
    ]);
  });

  it("the channel's list replaces the ladder's as a whole: its tracks, order, names and default", () => {
    const channel = channelSchema.parse({ id: 'news', key: 'news-key-0123456789', audioTracks: [{ track: 1, language: 'es-419', name: 'Español', default: true }] }).audioTracks;
    const ran = withChannelAudioTracks(ladder, channel);
    expect(ran.audioTracks).toEqual([{ track: 1, language: 'es-419', name: 'Español', default: true }]);
    expect(ladder.audioTracks).toHaveLength(2); // the loaded ladder is left as it was
    // One listed track: one rendition named as in the ladder, carrying source track 1.
    expect(described(ran)).toEqual([['audio', 1, 'es-419', 'Español', true]]);
    expect(described(withChannelAudioTracks(ladder, [{ track: 0 }, { track: 1, default: true }]))).toEqual([
      ['audio-en', 0, 'en', 'English', false],
      ['audio-es', 1, 'es', 'Spanish', true],
    ]);
  });

  it('a channel definition is validated as a ladder list is: language tags, names, one default, no track twice', () => {
    const channel = (audioTracks: unknown) => channelSchema.safeParse({ id: 'news', key: 'news-key-0123456789', audioTracks });
    expect(channel([{ track: 0, language: 'en' }]).success).toBe(true);
    const issues = (audioTracks: unknown) => channel(audioTracks).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues([{ language: '../etc' }])).toEqual([expect.stringMatching(/^audioTracks\.0\.language: must be a language tag/)]);
    expect(issues([{ name: 'a "b"' }])).toEqual([expect.stringMatching(/^audioTracks\.0\.name: .*double quote/)]);
    expect(issues([{ default: true }, { default: true }])).toEqual(['audioTracks: at most one audio track may be the default']);
    expect(issues([{ track: 1 }, {}, {}])).toEqual(['audioTracks.1.track: source audio track 1 listed twice']);
    expect(issues([])).toEqual([expect.stringMatching(/^audioTracks: /)]);
    expect(issues([{ track: 0, lang: 'en' }])).toEqual([expect.stringMatching(/^audioTracks\.0: /)]);
  });
});
