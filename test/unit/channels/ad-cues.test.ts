import { describe, expect, it } from 'vitest';
import { AdCueBuilder } from '../../../src/channels/ad-cues.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { parseSpliceInfoSection } from '../../../src/scte35/splice-info-parser.js';

const NOW = Date.UTC(2026, 11, 5, 4, 0, 0);
const section = (hex: string) => parseSpliceInfoSection(Buffer.from(hex.slice(2), 'hex'));

describe('AdCueBuilder', () => {
  it('an out cue opens a break with a splice_insert (immediate, program splice, break_duration); the in cue closes it with the same event id and ID', () => {
    const b = new AdCueBuilder('news');
    const out = b.build({ type: 'out', durationSeconds: 30, at: NOW + 5000 }, NOW);
    const eventId = Math.floor(NOW / 1000) % 2 ** 32;
    expect(out.cue).toMatchObject({ id: `splice-${eventId}`, kind: 'out', at: NOW + 5000, plannedDuration: 30 });
    expect(out.accepted).toEqual({ id: `splice-${eventId}`, type: 'out', at: '2026-12-05T04:00:05.000Z', scte35: out.cue.scte35 });
    expect(out.cue.scte35).toMatch(/^0xFC30[0-9A-F]+$/);
    expect(section(out.cue.scte35).command).toEqual({
      type: 'splice_insert',
      spliceEventId: eventId,
      cancel: false,
      outOfNetwork: true,
      eventIdCompliance: true,
      spliceImmediate: true,
      program: { ptsTime: undefined },
      components: [],
      breakDuration: { autoReturn: true, duration: 30 * 90_000 },
      uniqueProgramId: 0,
      availNum: 0,
      availsExpected: 0,
    });
    const inn = b.build({ type: 'in' }, NOW + 30_000);
    expect(inn.cue).toMatchObject({ id: `splice-${eventId}`, kind: 'in', at: NOW + 30_000 });
    expect(section(inn.cue.scte35).command).toMatchObject({ spliceEventId: eventId, outOfNetwork: false, breakDuration: undefined });
  });

  it('event ids keep increasing within one second', () => {
    const b = new AdCueBuilder('news');
    const ids = [0, 1, 2].map(() => b.build({ type: 'out' }, NOW).cue.id);
    expect(new Set(ids).size).toBe(3);
  });

  it.each([
    ['an in cue with no break open', { type: 'in' as const }, ErrorCode.Conflict],
    ['a duration on an in cue', { type: 'in' as const, durationSeconds: 3 }, ErrorCode.BadRequest],
    ['a zero duration', { type: 'out' as const, durationSeconds: 0 }, ErrorCode.BadRequest],
  ])('refuses %s', (_what, request, code) => {
    try {
      new AdCueBuilder('news').build(request, NOW);
      throw new Error('accepted');
    } catch (err) {
      expect(isLivepipeError(err, code), String(err)).toBe(true);
    }
  });
});
