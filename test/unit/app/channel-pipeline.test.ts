import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DeferredIngestPort } from '../../../src/app/channel-pipeline.js';
import { component } from '../../../src/app/component.js';
import type { IngestServer } from '../../../src/ingest/ingest-server.js';

describe('DeferredIngestPort', () => {
  it('answers "nothing there" until the ingest server is bound, then forwards to it', async () => {
    const port = new DeferredIngestPort();
    expect(port.feed('news')).toBeUndefined();
    expect(port.kick('news')).toBe(false);
    expect(port.publishUrls('news', 'localhost')).toEqual({});
    await expect(port.channelsChanged()).resolves.toBeUndefined();

    const calls: string[] = [];
    const feed = { channel: 'news', open: () => new PassThrough() };
    // The four methods the port forwards, on a plain object.
    const server = {
      feed: (channel: string) => (calls.push(`feed ${channel}`), channel === 'news' ? feed : undefined),
      kick: (channel: string) => (calls.push(`kick ${channel}`), true),
      publishUrls: (channel: string, host: string) => (calls.push(`urls ${channel} ${host}`), { rtmp: `rtmp://${host}/live/${channel}` }),
      channelsChanged: async () => void calls.push('changed'),
    } as unknown as IngestServer;
    port.bind(server);
    expect(port.feed('news')).toBe(feed);
    expect(port.kick('news')).toBe(true);
    expect(port.publishUrls('news', 'example.org')).toEqual({ rtmp: 'rtmp://example.org/live/news' });
    await port.channelsChanged();
    expect(calls).toEqual(['feed news', 'kick news', 'urls news example.org', 'changed']);
  });
});

describe('component()', () => {
  it('keeps the adapted object as `this` and drops return values', async () => {
    const server = {
      listening: false,
      async start() {
        this.listening = true;
        return 8080;
      },
      close() {
        this.listening = false;
        return 'closed';
      },
    };
    const c = component('origin', server);
    expect(c.name).toBe('origin');
    await expect(c.start()).resolves.toBeUndefined();
    expect(server.listening).toBe(true);
    await expect(c.close()).resolves.toBeUndefined();
    expect(server.listening).toBe(false);
  });

  it('has nothing to start without a start', async () => {
    let closed = 0;
    const bus = component('event-bus', { close: () => void closed++ });
    await bus.start();
    await bus.close();
    expect(closed).toBe(1);
  });
});
