import { describe, expect, it } from 'vitest';
import type { ChannelView } from '../../../console/src/channel-view.js';
import { EMPTY_STATE, LOG_LENGTH, applyMessage, describeEvent, sortedChannels, withChannel } from '../../../console/src/console-state.js';

function view(id: string, state: ChannelView['state'] = 'idle', restarts = 0): ChannelView {
  return {
    id,
    ladder: 'default',
    state,
    keyLast4: 'abcd',
    transcoder: { state: 'idle', runId: 0, restarts, crashLooping: false, uptimeSeconds: 0, renditions: [], dropped: [] },
    urls: { playback: `http://127.0.0.1:8080/live/${id}/master.m3u8`, rtmp: `rtmp://127.0.0.1:1935/live/${id}` },
  };
}

const message = (event: string, body: unknown, id = '1') => ({ event, id, data: JSON.stringify({ at: '2026-01-01T00:00:00.000Z', ...(body as object) }) });

describe('console state', () => {
  it('a snapshot replaces every channel', () => {
    const before = withChannel(EMPTY_STATE, 'gone', view('gone'));
    const { state } = applyMessage(before, message('snapshot', { channels: [view('b'), view('a')] }));
    expect(sortedChannels(state).map((c) => c.id)).toEqual(['a', 'b']);
  });

  it('a bus event applies the view it carries and adds a log line', () => {
    const start = applyMessage(EMPTY_STATE, message('snapshot', { channels: [view('a')] })).state;
    const { state } = applyMessage(
      start,
      message('channel:state', { payload: { channel: 'a', state: 'live', previous: 'idle', reason: 'publishing over rtmp' }, view: view('a', 'live') }, '9'),
    );
    expect(state.channels.get('a')?.state).toBe('live');
    expect(state.log).toEqual([{ key: '9', at: '2026-01-01T00:00:00.000Z', channel: 'a', tone: 'good', text: 'idle → live (publishing over rtmp)' }]);
  });

  it('stats refresh active channels, drop deleted ids and name unknown ones', () => {
    const start = applyMessage(EMPTY_STATE, message('snapshot', { channels: [view('a'), view('b'), view('deleted')] })).state;
    const applied = applyMessage(start, message('stats', { ids: ['a', 'b', 'new'], active: [view('b', 'live', 3)] }));
    expect(sortedChannels(applied.state).map((c) => [c.id, c.state, c.transcoder.restarts])).toEqual([
      ['a', 'idle', 0],
      ['b', 'live', 3],
    ]);
    expect(applied.missing).toEqual(['new']);
  });

  it('keeps the newest log lines only, and ignores a message that is not JSON', () => {
    let state = EMPTY_STATE;
    for (let i = 0; i < LOG_LENGTH + 5; i++) {
      state = applyMessage(state, message('channel:ladder-restarted', { payload: { channel: 'a', reason: `r${i}` } }, String(i))).state;
    }
    expect(state.log).toHaveLength(LOG_LENGTH);
    expect(state.log[0]?.text).toBe(`ladder restarted (r${LOG_LENGTH + 4})`);
    expect(applyMessage(state, { event: 'stats', data: 'not json' }).state).toBe(state);
  });

  it('withChannel removes a deleted channel', () => {
    const state = withChannel(withChannel(EMPTY_STATE, 'a', view('a')), 'a', undefined);
    expect(state.channels.size).toBe(0);
  });

  it.each([
    ['transcoder:state', { channel: 'a', state: 'running', previous: 'starting' }, undefined],
    ['transcoder:state', { channel: 'a', state: 'restarting', previous: 'running', reason: 'exit 1' }, { channel: 'a', tone: 'warn', text: 'transcoder restarting: exit 1' }],
    ['ingest:publish-refused', { channel: 'a', protocol: 'rtmp', reason: 'wrong-key' }, { channel: 'a', tone: 'warn', text: 'publish refused (wrong-key)' }],
    ['ingest:publish-ended', { channel: 'a', protocol: 'srt', reason: 'unusable', detail: 'no video' }, { channel: 'a', tone: 'info', text: 'publish ended (unusable: no video)' }],
    ['storage:health', { healthy: false, error: 'timeout' }, { tone: 'bad', text: 'storage failing: timeout' }],
    ['storage:health', { healthy: true }, { tone: 'good', text: 'storage recovered' }],
    ['something:new', { channel: 'a' }, undefined],
  ])('describes %s %j', (event, payload, line) => {
    expect(describeEvent(event, payload)).toEqual(line);
  });
});
