import { describe, expect, it } from 'vitest';
import { parseLadder } from '../../../src/ladder/ladder-loader.js';
import { ErrorCode, isLivepipeError, type LivepipeError } from '../../../src/core/errors.js';

const valid = (extra: Record<string, unknown> = {}) => ({
  gop: 2,
  segment: 2,
  part: 0.5,
  video: [{ name: 'v720', width: 1280, height: 720, bitrate: '2800k' }],
  ...extra,
});

function issuesOf(data: unknown): Array<{ path: string; message: string }> {
  try {
    parseLadder(data, 'test.yaml');
  } catch (err) {
    expect(isLivepipeError(err, ErrorCode.ConfigInvalid)).toBe(true);
    return (err as LivepipeError).details!.issues as Array<{ path: string; message: string }>;
  }
  return [];
}

describe('ladder encoder', () => {
  it.each([
    ['absent', undefined, { kind: 'x264' }],
    ['x264', { kind: 'x264' }, { kind: 'x264' }],
    ['nvenc', { kind: 'nvenc' }, { kind: 'nvenc', gpu: 0, preset: 'p4', rateControl: 'vbr' }],
    ['nvenc, all fields', { kind: 'nvenc', gpu: 1, preset: 'p1', rateControl: 'cbr' }, { kind: 'nvenc', gpu: 1, preset: 'p1', rateControl: 'cbr' }],
    ['vaapi', { kind: 'vaapi' }, { kind: 'vaapi', device: '/dev/dri/renderD128', lowPower: false, rateControl: 'vbr' }],
    ['vaapi, all fields', { kind: 'vaapi', device: '/dev/dri/renderD129', lowPower: true, rateControl: 'cbr' }, { kind: 'vaapi', device: '/dev/dri/renderD129', lowPower: true, rateControl: 'cbr' }],
    ['qsv', { kind: 'qsv' }, { kind: 'qsv', preset: 'veryfast', lowPower: false, rateControl: 'vbr' }],
    ['qsv on a device', { kind: 'qsv', device: '/dev/dri/renderD128', preset: 'medium' }, { kind: 'qsv', device: '/dev/dri/renderD128', preset: 'medium', lowPower: false, rateControl: 'vbr' }],
  ])('accepts %s with defaults applied', (_label, encoder, expected) => {
    const ladder = parseLadder(valid(encoder === undefined ? {} : { encoder }), 'test.yaml');
    expect(ladder.encoder).toEqual(expected);
  });

  it('accepts zerolatency with a hardware encoder', () => {
    expect(parseLadder(valid({ tune: 'zerolatency', encoder: { kind: 'nvenc' } }), 't.yaml').tune).toBe('zerolatency');
  });

  type Case = [string, Record<string, unknown>, string, RegExp];
  const cases: Case[] = [
    ['an unknown kind', { encoder: { kind: 'amf' } }, 'encoder.kind', /./],
    ['a missing kind', { encoder: { gpu: 0 } }, 'encoder.kind', /./],
    ['a string instead of an object', { encoder: 'nvenc' }, 'encoder', /./],
    ['an unknown nvenc key', { encoder: { kind: 'nvenc', device: '/dev/dri/renderD128' } }, 'encoder', /device/],
    ['an x264 key on x264', { encoder: { kind: 'x264', preset: 'fast' } }, 'encoder', /preset/],
    ['an x264 preset on nvenc', { encoder: { kind: 'nvenc', preset: 'veryfast' } }, 'encoder.preset', /./],
    ['an nvenc preset on qsv', { encoder: { kind: 'qsv', preset: 'p4' } }, 'encoder.preset', /./],
    ['a negative GPU', { encoder: { kind: 'nvenc', gpu: -1 } }, 'encoder.gpu', /./],
    ['an unknown rate control', { encoder: { kind: 'vaapi', rateControl: 'cqp' } }, 'encoder.rateControl', /./],
    ['a device outside /dev/dri', { encoder: { kind: 'vaapi', device: '/tmp/x' } }, 'encoder.device', /DRM device path/],
    ['a non-boolean lowPower', { encoder: { kind: 'qsv', lowPower: 'yes' } }, 'encoder.lowPower', /./],
    ['an x264-only tune with nvenc', { tune: 'film', encoder: { kind: 'nvenc' } }, 'tune', /x264 tune; with encoder nvenc only "zerolatency"/],
    ['an x264-only tune with vaapi', { tune: 'grain', encoder: { kind: 'vaapi' } }, 'tune', /with encoder vaapi/],
  ];
  it.each(cases)('rejects %s at %s', (_label, extra, path, reason) => {
    const issues = issuesOf(valid(extra));
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue!.message).toMatch(reason);
  });
});
