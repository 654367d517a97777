import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChannelRegistry, defaultStateFile, type ChannelChange } from '../../../src/channels/channel-registry.js';
import type { ChannelConfig } from '../../../src/config/service-config.js';
import { ErrorCode, isLivepipeError } from '../../../src/core/errors.js';
import { captureLogger } from '../../helpers/logs/api-log-capture.js';
import { errorCodeOf } from '../../helpers/errors.js';

const KEY_A = 'config-key-aaaaaaaaaaaa';
const KEY_B = 'api-key-bbbbbbbbbbbbbbbb';
const KEY_C = 'rotated-key-cccccccccccc';

const CONFIG: ChannelConfig[] = [
  { id: 'from-config', ladder: 'default', key: KEY_A },
  { id: 'srt-config', ladder: 'default', key: KEY_A, srt: { port: 9001, passphrase: 'config-passphrase', latencyMs: 120 } },
];


describe('ChannelRegistry', () => {
  let dir: string;
  let stateFile: string;
  const open: ChannelRegistry[] = [];

  async function registry(
    configChannels: ChannelConfig[] = CONFIG,
    extra: { ladders?: string[]; maxChannels?: number; logger?: ReturnType<typeof captureLogger>['logger'] } = {},
  ): Promise<ChannelRegistry> {
    const r = new ChannelRegistry({
      configChannels,
      stateFile,
      logger: extra.logger ?? captureLogger().logger,
      ...(extra.ladders ? { ladderExists: (name: string) => extra.ladders!.includes(name) } : {}),
      ...(extra.maxChannels !== undefined ? { maxChannels: extra.maxChannels } : {}),
    });
    open.push(r);
    await r.start();
    return r;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livepipe-registry-'));
    stateFile = defaultStateFile(dir);
  });
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('places the state file under <dataDir>/.livepipe/', () => {
    expect(defaultStateFile('/srv/livepipe')).toBe('/srv/livepipe/.livepipe/channels.json');
  });

  it('starts from the config channels when there is no state file, and writes nothing', async () => {
    const r = await registry();
    expect(r.list().map((c) => c.id)).toEqual(['from-config', 'srt-config']);
    expect(r.sourceOf('from-config')).toBe('config');
    await expect(stat(stateFile)).rejects.toThrow(/ENOENT/);
  });

  it('creates, updates and removes, and the changes survive a re-instantiation', async () => {
    const first = await registry();
    await first.create({ id: 'news', key: KEY_B });
    await first.update('from-config', { ladder: 'low-latency' });
    await first.update('news', { key: KEY_C, srt: { passphrase: 'news-passphrase' } });
    await first.remove('srt-config');
    await first.close();

    const second = await registry();
    expect(second.list().map((c) => c.id)).toEqual(['from-config', 'news']);
    expect(second.get('from-config')).toEqual({ id: 'from-config', ladder: 'low-latency', key: KEY_A });
    expect(second.get('news')).toEqual({ id: 'news', ladder: 'default', key: KEY_C, srt: { passphrase: 'news-passphrase', latencyMs: 120 } });
    expect(second.sourceOf('from-config')).toBe('api');
    expect(second.verifyKey('news', KEY_C)).toBe(true);
    expect(second.verifyKey('news', KEY_B)).toBe(false);
  });

  it('writes a documented, valid JSON file with mode 0600 and leaves no temp files', async () => {
    const r = await registry();
    await r.create({ id: 'news', key: KEY_B });
    await r.remove('from-config');
    const body = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(body).toEqual({ version: 1, channels: { news: { id: 'news', ladder: 'default', key: KEY_B } }, removed: ['from-config'] });
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
    expect(await readdir(dirname(stateFile))).toEqual(['channels.json']);
  });

  it('API changes override the config file; a deleted config channel stays deleted until re-created', async () => {
    const first = await registry();
    await first.remove('from-config');
    await first.close();
    const log = captureLogger();
    const second = new ChannelRegistry({ configChannels: CONFIG, stateFile, logger: log.logger });
    open.push(second);
    await second.start();
    expect(second.has('from-config')).toBe(false);
    expect(log.lines().some((line) => line.level === 40 && line.channel === 'from-config')).toBe(true);
    await second.create({ id: 'from-config', key: KEY_B, ladder: 'default' });
    await second.close();
    const third = await registry();
    expect(third.get('from-config')?.key).toBe(KEY_B);
    expect(JSON.parse(await readFile(stateFile, 'utf8')).removed).toEqual([]);
  });

  it('refuses duplicates, unknown ids, invalid specs and taken SRT ports with coded errors', async () => {
    const r = await registry(CONFIG, { ladders: ['default', 'low-latency'] });
    expect(await errorCodeOf(r.create({ id: 'from-config', key: KEY_B }))).toBe(ErrorCode.Conflict);
    expect(await errorCodeOf(r.create({ id: 'x', key: KEY_B, srt: { port: 9001, passphrase: 'other-passphrase' } }))).toBe(ErrorCode.Conflict);
    expect(await errorCodeOf(r.create({ id: 'bad id', key: KEY_B }))).toBe(ErrorCode.BadRequest);
    expect(await errorCodeOf(r.create({ id: 'x', key: 'short' }))).toBe(ErrorCode.BadRequest);
    expect(await errorCodeOf(r.create({ id: 'x', key: KEY_B, extra: 1 }))).toBe(ErrorCode.BadRequest);
    expect(await errorCodeOf(r.create({ id: 'x', key: KEY_B, ladder: 'missing' }))).toBe(ErrorCode.LadderNotFound);
    expect(await errorCodeOf(r.update('ghost', { ladder: 'default' }))).toBe(ErrorCode.NotFound);
    expect(await errorCodeOf(r.update('from-config', { id: 'renamed' }))).toBe(ErrorCode.BadRequest);
    expect(await errorCodeOf(r.update('from-config', { srt: { port: 9001, passphrase: 'other-passphrase' } }))).toBe(ErrorCode.Conflict);
    expect(await errorCodeOf(r.remove('ghost'))).toBe(ErrorCode.NotFound);
    // Nothing of the refused calls reached the state file.
    await expect(stat(stateFile)).rejects.toThrow(/ENOENT/);
  });

  it('emits created/updated/removed with the changed fields; a no-op update emits nothing', async () => {
    const r = await registry();
    const changes: ChannelChange[] = [];
    r.onChange((change) => changes.push(change));
    await r.create({ id: 'news', key: KEY_B });
    await r.update('news', { key: KEY_C, ladder: 'other' });
    await r.update('news', { key: KEY_C });
    await r.update('news', { srt: { passphrase: 'news-passphrase' } });
    await r.update('news', { srt: null });
    await r.update('news', { audioTracks: [{ track: 1, language: 'es', default: true }] });
    await r.update('news', { audioTracks: [{ track: 1, language: 'es', default: true }] });
    expect(r.get('news')?.audioTracks).toEqual([{ track: 1, language: 'es', default: true }]);
    expect(await errorCodeOf(r.update('news', { audioTracks: [{ default: true }, { default: true }] }))).toBe(ErrorCode.BadRequest);
    await r.update('news', { audioTracks: null });
    expect(r.get('news')?.audioTracks).toBeUndefined();
    await r.remove('news');
    expect(changes.map((c) => [c.type, c.channel.id, c.type === 'updated' ? c.changed : []])).toEqual([
      ['created', 'news', []],
      ['updated', 'news', ['ladder', 'key']],
      ['updated', 'news', ['srt']],
      ['updated', 'news', ['srt']],
      ['updated', 'news', ['audioTracks']],
      ['updated', 'news', ['audioTracks']],
      ['removed', 'news', []],
    ]);
  });

  it('keeps a change when a listener throws, and logs it', async () => {
    const log = captureLogger();
    const r = new ChannelRegistry({ configChannels: [], stateFile, logger: log.logger });
    open.push(r);
    await r.start();
    r.onChange(() => {
      throw new Error('listener bug');
    });
    await r.create({ id: 'news', key: KEY_B });
    expect(r.has('news')).toBe(true);
    expect(log.lines().some((line) => line.level === 50 && line.err === 'listener bug')).toBe(true);
  });

  it('serializes concurrent mutations: exactly one of two racing creates wins', async () => {
    const r = await registry([]);
    const results = await Promise.allSettled([r.create({ id: 'news', key: KEY_B }), r.create({ id: 'news', key: KEY_C })]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected']);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => r.create({ id: `ch-${i}`, key: KEY_B })));
    expect(many).toHaveLength(20);
    const body = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(Object.keys(body.channels)).toHaveLength(21);
  });

  it('refuses to start on a corrupt or invalid state file, naming it, and never overwrites it', async () => {
    await mkdir(dirname(stateFile), { recursive: true });
    for (const [content, reason] of [
      ['{"version": 1, "channels": {', /not valid JSON/],
      ['{"version": 2, "channels": {}, "removed": []}', /version/],
      [JSON.stringify({ version: 1, channels: { a: { id: 'b', ladder: 'default', key: KEY_B } }, removed: [] }), /channels\.a\.id/],
      [JSON.stringify({ version: 1, channels: { a: { id: 'a', ladder: 'default', key: 'short' } }, removed: [] }), /channels\.a\.key/],
    ] as const) {
      await writeFile(stateFile, content);
      const r = new ChannelRegistry({ configChannels: CONFIG, stateFile, logger: captureLogger().logger });
      let error: unknown;
      try {
        await r.start();
      } catch (err) {
        error = err;
      }
      expect(isLivepipeError(error, ErrorCode.ConfigInvalid), String(error)).toBe(true);
      expect((error as Error).message).toContain(stateFile);
      expect((error as Error).message).toMatch(reason);
      expect(await readFile(stateFile, 'utf8')).toBe(content);
    }
  });

  it('reports a failed write as StorageUnavailable and keeps the previous state', async () => {
    const r = await registry([]);
    await r.create({ id: 'news', key: KEY_B });
    // Replace the state directory by a plain file: every write now fails, even for root.
    await rm(dirname(stateFile), { recursive: true });
    await writeFile(dirname(stateFile), 'not a directory');
    expect(await errorCodeOf(r.create({ id: 'other', key: KEY_B }))).toBe(ErrorCode.StorageUnavailable);
    expect(await errorCodeOf(r.remove('news'))).toBe(ErrorCode.StorageUnavailable);
    expect(r.has('other')).toBe(false);
    expect(r.has('news')).toBe(true);
  });

  it('fails mutations after close with Closed; close is idempotent', async () => {
    const r = await registry([]);
    await r.close();
    await r.close();
    expect(await errorCodeOf(r.create({ id: 'news', key: KEY_B }))).toBe(ErrorCode.Closed);
  });

  describe('verifyKey', () => {
    it('accepts only the exact key of that channel', async () => {
      const r = await registry();
      expect(r.verifyKey('from-config', KEY_A)).toBe(true);
      expect(r.verifyKey('from-config', KEY_B)).toBe(false);
      expect(r.verifyKey('from-config', `${KEY_A}x`)).toBe(false);
      expect(r.verifyKey('from-config', KEY_A.slice(0, -1))).toBe(false);
      expect(r.verifyKey('from-config', '')).toBe(false);
      expect(r.verifyKey('ghost', KEY_A)).toBe(false);
      expect(r.verifyKey('ghost', '')).toBe(false);
    });
  });

  it('refuses a channel beyond maxChannels with LimitReached, naming the limit; a delete makes room', async () => {
    const r = await registry(CONFIG, { maxChannels: 3 });
    await r.create({ id: 'third', key: KEY_B });
    const refused = await r.create({ id: 'fourth', key: KEY_B }).catch((err: unknown) => err);
    expect(isLivepipeError(refused, ErrorCode.LimitReached)).toBe(true);
    expect((refused as Error).message).toMatch(/3 channels are defined.*maxChannelDefinitions/);
    expect((refused as { details?: unknown }).details).toEqual({ limit: 3 });
    expect(r.list().map((c) => c.id)).toEqual(['from-config', 'srt-config', 'third']);
    // Config-file channels count too; deleting one of them (a tombstone) makes room as well.
    await r.remove('from-config');
    await r.create({ id: 'fourth', key: KEY_B });
    expect(r.list()).toHaveLength(3);
  });

  it('refuses an id that differs from a defined one only in letter case, and keeps lookups exact', async () => {
    const r = await registry([{ id: 'LL', ladder: 'default', key: KEY_A }]);
    for (const id of ['ll', 'Ll', 'lL']) {
      const refused = await r.create({ id, key: KEY_B }).catch((err: unknown) => err);
      expect(isLivepipeError(refused, ErrorCode.Conflict), id).toBe(true);
      expect((refused as Error).message).toMatch(/channel "LL" exists already: ids that differ only in letter case/);
    }
    expect(r.get('ll')).toBeUndefined();
    expect(r.verifyKey('ll', KEY_A)).toBe(false);
    expect(r.caseClashOf('ll')).toBe('LL');
    expect(r.caseClashOf('LL')).toBeUndefined();
    // Once "LL" is gone, "ll" is free.
    await r.remove('LL');
    await r.create({ id: 'll', key: KEY_B });
    expect(r.list().map((c) => c.id)).toEqual(['ll']);
  });

  it('loads a state file that breaks the bounds (written before them), warning instead of dropping channels', async () => {
    await mkdir(dirname(stateFile), { recursive: true });
    const entry = (id: string) => ({ id, ladder: 'default', key: KEY_B });
    await writeFile(stateFile, JSON.stringify({ version: 1, channels: { LL: entry('LL'), ll: entry('ll'), x: entry('x') }, removed: [] }));
    const log = captureLogger();
    const r = await registry([], { maxChannels: 2, logger: log.logger });
    expect(r.list().map((c) => c.id)).toEqual(['LL', 'll', 'x']);
    const text = log.text();
    expect(text).toMatch(/differ only in letter case/);
    expect(text).toMatch(/more channels defined than maxChannelDefinitions/);
    expect(await errorCodeOf(r.create({ id: 'y', key: KEY_B }))).toBe(ErrorCode.LimitReached);
  });

  it('matches a plain in-memory model over random operation sequences, before and after a restart', async () => {
    // "A" differs from "a" only in case; at most 4 channels may be defined.
    const ids = ['from-config', 'srt-config', 'a', 'b', 'A'];
    const limit = 4;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), id: fc.constantFrom(...ids), key: fc.constantFrom(KEY_A, KEY_B, KEY_C) }),
      fc.record({ kind: fc.constant('update' as const), id: fc.constantFrom(...ids), key: fc.constantFrom(KEY_A, KEY_B, KEY_C), ladder: fc.constantFrom('default', 'other') }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...ids) }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        stateFile = join(dir, `model-${run++}`, 'channels.json');
        const model = new Map<string, ChannelConfig>(CONFIG.map((c) => [c.id, c]));
        const r = await registry(CONFIG, { maxChannels: limit });
        for (const o of ops) {
          const current = model.get(o.id);
          if (o.kind === 'create') {
            const result = await errorCodeOf(r.create({ id: o.id, key: o.key }));
            const clash = [...model.keys()].some((id) => id !== o.id && id.toLowerCase() === o.id.toLowerCase());
            if (current || clash) expect(result).toBe(ErrorCode.Conflict);
            else if (model.size >= limit) expect(result).toBe(ErrorCode.LimitReached);
            else {
              expect(result).toBeUndefined();
              model.set(o.id, { id: o.id, ladder: 'default', key: o.key });
            }
          } else if (o.kind === 'update') {
            const result = await errorCodeOf(r.update(o.id, { key: o.key, ladder: o.ladder }));
            if (!current) expect(result).toBe(ErrorCode.NotFound);
            else {
              expect(result).toBeUndefined();
              model.set(o.id, { ...current, key: o.key, ladder: o.ladder });
            }
          } else {
            const result = await errorCodeOf(r.remove(o.id));
            if (!current) expect(result).toBe(ErrorCode.NotFound);
            else {
              expect(result).toBeUndefined();
              model.delete(o.id);
            }
          }
        }
        const expected = [...model.values()].sort((x, y) => (x.id < y.id ? -1 : 1));
        expect(r.list()).toEqual(expected);
        await r.close();
        const reopened = await registry(CONFIG, { maxChannels: limit });
        expect(reopened.list()).toEqual(expected);
        for (const channel of expected) expect(reopened.verifyKey(channel.id, channel.key)).toBe(true);
        await reopened.close();
      }),
      { numRuns: 40 },
    );
  });
});
