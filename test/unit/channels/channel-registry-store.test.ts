/**
 * The pure parts of the registry's store port: applying one write to a state, the changes between two
 * channel sets (what a node emits after re-reading a shared store), and the change notification.
 */
import { describe, expect, it } from 'vitest';
import { diffChannels } from '../../../src/channels/channel-registry.js';
import { EMPTY_REGISTRY_STATE, applyRegistryWrite } from '../../../src/channels/channel-registry-store.js';
import { parseRegistryNotification } from '../../../src/cluster/redis-registry-store.js';
import type { ChannelConfig } from '../../../src/config/service-config.js';

const KEY = 'unit-key-0123456789abcdef';
const news: ChannelConfig = { id: 'news', ladder: 'default', key: KEY };

describe('applyRegistryWrite', () => {
  it('sets or clears the definition and the tombstone of one id, at the given revision, without touching the input', () => {
    const one = applyRegistryWrite(EMPTY_REGISTRY_STATE, { id: 'news', definition: news, removed: false }, 1);
    expect(one).toEqual({ overrides: new Map([['news', news]]), removed: new Set(), revision: 1 });
    const two = applyRegistryWrite(one, { id: 'from-config', removed: true }, 2);
    expect([...two.removed]).toEqual(['from-config']);
    const three = applyRegistryWrite(two, { id: 'news', removed: false }, 3);
    expect([...three.overrides.keys()]).toEqual([]);
    expect(one.overrides.size).toBe(1);
    expect(EMPTY_REGISTRY_STATE.overrides.size).toBe(0);
  });
});

describe('diffChannels', () => {
  it('names what was created, updated (with the fields) and removed', () => {
    const before = new Map([
      ['news', news],
      ['old', { ...news, id: 'old' }],
    ]);
    const after = new Map([
      ['news', { ...news, ladder: 'constrained', srt: { passphrase: 'passphrase-0123', latencyMs: 120 } }],
      ['fresh', { ...news, id: 'fresh' }],
    ]);
    expect(diffChannels(before, after).map((c) => [c.type, c.channel.id, c.type === 'updated' ? c.changed : []])).toEqual([
      ['updated', 'news', ['ladder', 'srt']],
      ['removed', 'old', []],
      ['created', 'fresh', []],
    ]);
    expect(diffChannels(before, new Map(before))).toEqual([]);
  });
});

describe('parseRegistryNotification', () => {
  it('reads the revision and refuses anything else', () => {
    expect(parseRegistryNotification('{"id":"news","revision":12}')).toBe(12);
    expect(parseRegistryNotification('{"revision":1}')).toBe(1);
    for (const bad of ['', 'x', '{}', '{"revision":0}', '{"revision":-3}', '{"revision":1.5}', '{"revision":"2"}', 'null', '[1]']) {
      expect(parseRegistryNotification(bad), bad).toBeUndefined();
    }
  });
});
