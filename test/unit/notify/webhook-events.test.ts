import { describe, expect, it } from 'vitest';
import { LivepipeEvent } from '../../../src/core/event-bus.js';
import { targetProblems } from '../../../src/notify/webhook-dispatcher.js';
import { webhookDataOf, webhookEvent, webhookTypeOf } from '../../../src/notify/webhook-events.js';

describe('webhookTypeOf', () => {
  const cases: Array<[string, LivepipeEvent, object, string | undefined]> = [
    ['a channel going live', LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'live', previous: 'idle', reason: 'x' }, 'channel.live'],
    ['a channel going idle', LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'idle', previous: 'reconnecting', reason: 'x' }, 'channel.idle'],
    ['a channel failing', LivepipeEvent.ChannelStateChanged, { channel: 'a', state: 'failed', previous: 'live', reason: 'x' }, 'channel.failed'],
    ['a publish starting', LivepipeEvent.PublishStarted, { channel: 'a', protocol: 'rtmp' }, 'publish.started'],
    ['a publish ending', LivepipeEvent.PublishEnded, { channel: 'a', protocol: 'srt', reason: 'disconnect' }, 'publish.ended'],
    ['a publish refused', LivepipeEvent.PublishRefused, { channel: 'a', protocol: 'rtmp', reason: 'wrong-key' }, 'publish.refused'],
    ['a transcoder restarting', LivepipeEvent.TranscoderState, { channel: 'a', state: 'restarting', previous: 'running' }, 'transcoder.restarting'],
    ['a transcoder running', LivepipeEvent.TranscoderState, { channel: 'a', state: 'running', previous: 'starting' }, undefined],
    ['an operator restart', LivepipeEvent.LadderRestarted, { channel: 'a', reason: 'operator restart' }, 'transcoder.restarting'],
    ['storage health (not a webhook event)', LivepipeEvent.StorageHealth, { healthy: true, channel: 'a' }, undefined],
  ];
  it.each(cases)('%s → %s', (_what, event, payload, expected) => {
    expect(webhookTypeOf(event as never, payload as never)).toBe(expected);
  });

  it('transcoder.restarting has one data shape, crash or operator', () => {
    expect(webhookDataOf(LivepipeEvent.TranscoderState, { channel: 'a', state: 'restarting', previous: 'running', reason: 'ffmpeg exited (1); restart in 500 ms' })).toEqual({
      channel: 'a',
      cause: 'crash',
      reason: 'ffmpeg exited (1); restart in 500 ms',
    });
    expect(webhookDataOf(LivepipeEvent.LadderRestarted, { channel: 'a', reason: 'ladder changed' })).toEqual({ channel: 'a', cause: 'operator', reason: 'ladder changed' });
    expect(webhookDataOf(LivepipeEvent.PublishStarted, { channel: 'a', protocol: 'srt' })).toEqual({ channel: 'a', protocol: 'srt' });
  });

  it('an event carries the payload as data, a unique id and the time', () => {
    const at = new Date('2026-12-05T04:00:00Z');
    const a = webhookEvent('publish.started', { channel: 'a', protocol: 'rtmp' }, at);
    const b = webhookEvent('publish.started', { channel: 'a', protocol: 'rtmp' }, at);
    expect(a).toMatchObject({ type: 'publish.started', time: '2026-12-05T04:00:00.000Z', data: { channel: 'a', protocol: 'rtmp' } });
    expect(a.id).not.toBe(b.id);
  });
});

describe('targetProblems', () => {
  const secret = 'a-secret-of-sixteen+';
  const cases: Array<[string, { url: string; secret: string; events?: string[] }, string[]]> = [
    ['an https receiver', { url: 'https://hooks.example.com/x?token=abc', secret }, []],
    ['an http receiver with a filter', { url: 'http://127.0.0.1:9999/', secret, events: ['channel.live', 'publish.refused'] }, []],
    ['no URL', { url: 'hooks.example.com', secret }, ['url: not a URL']],
    ['another scheme', { url: 'ftp://hooks.example.com/', secret }, ['url: ftp: is not http: or https:']],
    ['a short secret', { url: 'https://h.example/', secret: 'short' }, ['secret: at least 16 characters']],
    ['an unknown event', { url: 'https://h.example/', secret, events: ['channel.exploded'] }, ['events: unknown event "channel.exploded"']],
  ];
  it.each(cases)('%s', (_what, target, expected) => {
    const found = targetProblems(target);
    expect(found.length).toBe(expected.length);
    expected.forEach((problem, i) => expect(found[i]).toContain(problem));
  });
});
