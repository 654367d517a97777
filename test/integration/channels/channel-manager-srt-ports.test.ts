/**
 * SRT ports allocated by the channel manager to channels without an explicit port: the next free one
 * of the range, and sticky while livepipe runs (adding or deleting channels never moves another
 * channel's listener), with a real registry and state file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelManager } from '../../../src/channels/channel-manager.js';
import { ChannelRegistry } from '../../../src/channels/channel-registry.js';
import { EventBus } from '../../../src/core/event-bus.js';
import { silentLogger } from '../../../src/core/logger.js';

const srt = (port?: number) => ({ passphrase: 'a-long-passphrase', latencyMs: 120, ...(port !== undefined ? { port } : {}) });

describe('ChannelManager SRT port allocation', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function manager(configChannels: ConstructorParameters<typeof ChannelRegistry>[0]['configChannels']) {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-manager-'));
    const registry = new ChannelRegistry({ configChannels, stateFile: join(dir, 'channels.json'), logger: silentLogger() });
    await registry.start();
    const changes: number[] = [];
    const m = new ChannelManager({
      registry,
      ingest: { feed: () => undefined, kick: () => false, publishUrls: () => ({}), channelsChanged: async () => void changes.push(1) },
      bus: new EventBus(),
      logger: silentLogger(),
      loadLadder: () => Promise.reject(new Error('not used')),
      createPackager: () => Promise.reject(new Error('not used')),
      publicHost: '127.0.0.1',
      originPort: 8080,
      reconnectGraceSeconds: 1,
      srtPorts: { base: 9000, count: 3 },
    });
    await m.open();
    cleanups.push(async () => {
      await m.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    });
    return { m, changes };
  }

  const ports = (m: ChannelManager) => Object.fromEntries(m.ingestRegistry.channels().map((c) => [c.id, c.srt?.port]));

  it('allocates free ports around explicit ones, in registry order', async () => {
    const { m } = await manager([
      { id: 'a', ladder: 'default', key: 'a-key-0123456789ab', srt: srt() },
      { id: 'b', ladder: 'default', key: 'b-key-0123456789ab', srt: srt(9000) },
      { id: 'c', ladder: 'default', key: 'c-key-0123456789ab' },
      { id: 'd', ladder: 'default', key: 'd-key-0123456789ab', srt: srt() },
    ]);
    expect(ports(m)).toEqual({ a: 9001, b: 9000, c: undefined, d: 9002 });
  });

  it('keeps allocated ports when an earlier channel is deleted or a new one is created, and tells ingest', async () => {
    const { m, changes } = await manager([
      { id: 'a', ladder: 'default', key: 'a-key-0123456789ab', srt: srt() },
      { id: 'b', ladder: 'default', key: 'b-key-0123456789ab', srt: srt() },
    ]);
    expect(ports(m)).toEqual({ a: 9000, b: 9001 });
    await m.remove('a');
    expect(ports(m)).toEqual({ b: 9001 });
    await m.create({ id: 'e', ladder: 'default', key: 'e-key-0123456789ab', srt: srt() });
    expect(ports(m)).toEqual({ b: 9001, e: 9000 });
    await m.create({ id: 'f', ladder: 'default', key: 'f-key-0123456789ab', srt: srt() });
    await m.create({ id: 'g', ladder: 'default', key: 'g-key-0123456789ab', srt: srt() });
    // The range (3 ports) is exhausted: g has no SRT listener rather than a clash.
    expect(ports(m)).toEqual({ b: 9001, e: 9000, f: 9002, g: undefined });
    expect(changes.length).toBe(4);
  });
});
