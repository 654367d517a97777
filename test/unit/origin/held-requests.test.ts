import { describe, expect, it, vi } from 'vitest';
import { EmbeddedSource } from '../../../src/origin/embedded-source.js';
import { HeldRequests, type HoldHandlers } from '../../../src/origin/held-requests.js';
import type { PlaylistSnapshot } from '../../../src/origin/origin-source.js';
import { advance, liveModel } from '../../helpers/origin/playlists.js';

const PATH = 'v0/playlist.m3u8';

function recorder(log: string[], name: string, release?: (s: PlaylistSnapshot | undefined) => void): HoldHandlers {
  return {
    release: (s) => {
      log.push(`${name}:release`);
      release?.(s);
    },
    timeout: () => log.push(`${name}:timeout`),
    abort: () => log.push(`${name}:abort`),
  };
}

async function setup() {
  const source = new EmbeddedSource();
  await source.start();
  let model = liveModel();
  source.publish('news', 'v0', model);
  const errors: unknown[] = [];
  const held = new HeldRequests(source, 100, (err) => errors.push(err));
  const pendingMsn = model.pending!.msn;
  const waitFor = (partCount: number, handlers: HoldHandlers) =>
    held.hold({
      channel: 'news',
      path: PATH,
      conditionKey: `p:${pendingMsn}.${partCount}`,
      test: (s) => s === undefined || (s.model.pending?.parts.length ?? 0) >= partCount + 1 || s.model.pending?.msn !== pendingMsn,
      testedVersion: source.peek('news', PATH)!.version,
      timeoutMs: 60_000,
      handlers,
    });
  const step = () => {
    model = advance(model);
    source.publish('news', 'v0', model);
  };
  return { source, held, errors, waitFor, step };
}

describe('HeldRequests', () => {
  it('releases a whole group in one pass when its condition holds, and only that group', async () => {
    const { held, waitFor, step, source } = await setup();
    const log: string[] = [];
    for (const name of ['a', 'b', 'c']) waitFor(1, recorder(log, name));
    waitFor(2, recorder(log, 'later'));
    expect(held.size).toBe(4);
    step(); // part 1 appears
    expect(log).toEqual(['a:release', 'b:release', 'c:release']);
    expect(held.size).toBe(1);
    step(); // part 2 appears
    expect(log).toEqual(['a:release', 'b:release', 'c:release', 'later:release']);
    expect(held.size).toBe(0);
    held.abortAll();
    await source.close();
  });

  it('a handler that throws neither stops the other releases nor reaches the publisher', async () => {
    const { held, errors, waitFor, step, source } = await setup();
    const log: string[] = [];
    waitFor(1, recorder(log, 'a'));
    waitFor(1, recorder(log, 'b', () => {
      throw new Error('handler bug');
    }));
    waitFor(1, recorder(log, 'c'));
    expect(() => step()).not.toThrow();
    expect(log).toEqual(['a:release', 'b:release', 'c:release']);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('handler bug');
    expect(held.size).toBe(0);
    await source.close();
  });

  it('a cancel after release changes nothing, and a released group does not time out', async () => {
    vi.useFakeTimers();
    try {
      const { held, waitFor, step, source } = await setup();
      const log: string[] = [];
      const ticket = waitFor(1, recorder(log, 'a'))!;
      waitFor(1, recorder(log, 'b'));
      step();
      ticket.cancel();
      expect(held.size).toBe(0);
      vi.advanceTimersByTime(120_000);
      expect(log).toEqual(['a:release', 'b:release']);
      // A new waiter on the same condition forms a new group.
      waitFor(2, recorder(log, 'c'));
      expect(held.size).toBe(1);
      held.abortAll();
      expect(log).toEqual(['a:release', 'b:release', 'c:abort']);
      await source.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
