import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseRtmpPublishTarget } from '../../../src/ingest/rtmp-stream-name.js';

describe('parseRtmpPublishTarget', () => {
  it.each([
    // [app, stream name, channel, key]
    ['live', 'news?key=K1', 'news', 'K1'],
    ['live', 'news?foo=1&key=K1', 'news', 'K1'],
    ['live', 'news?key=a%2Fb', 'news', 'a/b'],
    ['live', 'news/K1', 'news', 'K1'],
    ['live', 'news', 'news', undefined],
    ['live', 'news?other=1', 'news', undefined],
    ['live/news', 'K1', 'news', 'K1'],
    ['live/news/', 'K1', 'news', 'K1'],
    ['live/news', 'news?key=K1', 'news', 'K1'],
    ['live?x=1', 'news?key=K1', 'news', 'K1'],
    ['/live', 'news?key=K1', 'news', 'K1'],
  ])('app %s, name %s → channel %s, key %s', (app, name, channel, key) => {
    expect(parseRtmpPublishTarget(app, name)).toEqual({ ok: true, channel, key, role: 'primary' });
  });

  it.each([
    ['live', 'news?key=K1&role=backup', 'backup'],
    ['live', 'news?role=primary&key=K1', 'primary'],
    ['live/news', 'K1?role=backup', 'backup'],
    ['live?role=backup', 'news?key=K1', 'backup'],
  ])('app %s, name %s → role %s', (app, name, role) => {
    expect(parseRtmpPublishTarget(app, name)).toMatchObject({ ok: true, channel: 'news', key: 'K1', role });
  });

  it('refuses an unknown role', () => {
    expect(parseRtmpPublishTarget('live', 'news?key=K1&role=spare')).toEqual({ ok: false, error: 'role must be "primary" or "backup", not "spare"' });
  });

  it.each([
    ['app', 'news?key=K'],
    ['', 'news'],
    ['live', ''],
    ['live', '?key=K'],
    ['live', 'news/K1/extra'],
    ['live', 'news/K1?key=K2'],
    ['live', 'news//K1'],
    ['live/news', 'K1/K2'],
    ['live/news', 'K1?key=K2'],
    ['live/news/extra', 'K1'],
    ['livex', 'news'],
  ])('refuses app %s, name %s', (app, name) => {
    const result = parseRtmpPublishTarget(app, name);
    expect(result.ok).toBe(false);
  });

  it('refuses non-string inputs (a malformed publish command)', () => {
    expect(parseRtmpPublishTarget(undefined as unknown as string, 'news').ok).toBe(false);
    expect(parseRtmpPublishTarget('live', 42 as unknown as string).ok).toBe(false);
  });

  it('never throws, and an accepted channel has no slash or query', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (app, name) => {
        const r = parseRtmpPublishTarget(app, name);
        if (r.ok) {
          expect(r.channel).not.toMatch(/[/?]/);
          expect(r.channel.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('round-trips every form for generated ids and keys', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/);
    const key = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
    fc.assert(
      fc.property(id, key, (channel, k) => {
        expect(parseRtmpPublishTarget('live', `${channel}?key=${k}`)).toEqual({ ok: true, channel, key: k, role: 'primary' });
        expect(parseRtmpPublishTarget('live', `${channel}/${k}`)).toEqual({ ok: true, channel, key: k, role: 'primary' });
        expect(parseRtmpPublishTarget(`live/${channel}`, k)).toEqual({ ok: true, channel, key: k, role: 'primary' });
      }),
    );
  });
});
