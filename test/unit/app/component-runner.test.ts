import { describe, expect, it } from 'vitest';
import { ComponentRunner, ComponentStartError, type ComponentRunnerLog } from '../../../src/app/component-runner.js';
import { component, type Component } from '../../../src/app/component.js';
import { ErrorCode, LivepipeError, isLivepipeError } from '../../../src/core/errors.js';

/** A log that keeps its error lines. */
function recordingLog(): ComponentRunnerLog & { lines: Array<{ fields: Record<string, unknown>; message: string }> } {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return { lines, error: (fields, message) => lines.push({ fields, message }) };
}

/** Plain components that write what happens to them into one shared journal. */
function journaled(journal: string[]) {
  return (name: string, behaviour: { start?: () => Promise<void>; close?: () => Promise<void> } = {}): Component => ({
    name,
    async start() {
      journal.push(`start ${name}`);
      await behaviour.start?.();
    },
    async close() {
      journal.push(`close ${name}`);
      await behaviour.close?.();
    },
  });
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('ComponentRunner', () => {
  it('starts in order and closes in reverse', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    const runner = new ComponentRunner({ logger: recordingLog() });
    await runner.start(make('storage'), make('origin'), make('api'));
    expect(runner.startedNames()).toEqual(['storage', 'origin', 'api']);
    expect(await runner.close()).toEqual([]);
    expect(journal).toEqual(['start storage', 'start origin', 'start api', 'close api', 'close origin', 'close storage']);
  });

  it('closes what several start() calls started, newest first', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    const runner = new ComponentRunner({ logger: recordingLog() });
    await runner.start(make('storage'), make('packager'));
    await runner.start(make('transcoder'));
    await runner.close();
    expect(journal.slice(3)).toEqual(['close transcoder', 'close packager', 'close storage']);
  });

  it('names the component whose start failed, after closing the started ones in reverse', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    const runner = new ComponentRunner({ logger: recordingLog() });
    const failing = make('origin', {
      start: () => Promise.reject(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080')),
    });
    const error = await runner.start(make('storage'), make('registry'), failing, make('api')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ComponentStartError);
    expect((error as ComponentStartError).component).toBe('origin');
    expect((error as Error).message).toBe('origin failed to start: listen EADDRINUSE: address already in use 127.0.0.1:8080');
    expect(isLivepipeError(error, ErrorCode.Unavailable)).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(Error);
    // The failed one is not closed (it did not start), nor is the one after it started.
    expect(journal).toEqual(['start storage', 'start registry', 'start origin', 'close registry', 'close storage']);
    // Closing afterwards closes nothing twice.
    expect(await runner.close()).toEqual([]);
    expect(journal).toHaveLength(5);
    await expect(runner.start(make('late'))).rejects.toMatchObject({ code: ErrorCode.Closed });
  });

  it('keeps the code of a coded start failure', async () => {
    const runner = new ComponentRunner({ logger: recordingLog() });
    const guard = component('publish-guard', {
      start: () => {
        throw new LivepipeError(ErrorCode.ConfigInvalid, 'no channels are configured and the bind address 0.0.0.0 is not loopback');
      },
      close: () => undefined,
    });
    await expect(runner.start(guard)).rejects.toMatchObject({
      code: ErrorCode.ConfigInvalid,
      message: 'publish-guard failed to start: no channels are configured and the bind address 0.0.0.0 is not loopback',
    });
  });

  it('reports a failed close with the component name and goes on closing the others', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    const log = recordingLog();
    const runner = new ComponentRunner({ logger: log });
    await runner.start(make('storage'), make('origin', { close: () => Promise.reject(new Error('socket hang up')) }), make('api'));
    const failures = await runner.close();
    expect(failures).toEqual([{ component: 'origin', reason: 'failed', message: 'socket hang up' }]);
    expect(journal.slice(3)).toEqual(['close api', 'close origin', 'close storage']);
    expect(log.lines).toEqual([{ fields: { component: 'origin', err: 'socket hang up' }, message: 'close failed' }]);
  });

  it('gives up on a close past its deadline, names it, and closes the next one', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    const log = recordingLog();
    const runner = new ComponentRunner({ logger: log, closeTimeoutMs: 50 });
    await runner.start(make('storage'), make('channels', { close: never }), make('api'));
    const began = Date.now();
    const failures = await runner.close();
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(failures).toEqual([{ component: 'channels', reason: 'timeout', message: 'did not close within 50 ms' }]);
    expect(journal.slice(3)).toEqual(['close api', 'close channels', 'close storage']);
    expect(log.lines).toEqual([{ fields: { component: 'channels', timeoutMs: 50 }, message: 'close timed out: closing the next component' }]);
  });

  it('closes once, however often close() is called, concurrently or later', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    const runner = new ComponentRunner({ logger: recordingLog() });
    await runner.start(make('storage'), make('origin'));
    const first = runner.close();
    expect(runner.close()).toBe(first);
    await Promise.all([first, runner.close()]);
    await runner.close();
    expect(journal.filter((line) => line.startsWith('close'))).toEqual(['close origin', 'close storage']);
  });

  it('a close during a start waits for the component being started, closes it, and skips the rest', async () => {
    const journal: string[] = [];
    const make = journaled(journal);
    let release!: () => void;
    const slow = make('origin', { start: () => new Promise<void>((resolve) => (release = resolve)) });
    const runner = new ComponentRunner({ logger: recordingLog() });
    const starting = runner.start(make('storage'), slow, make('api'));
    await new Promise((resolve) => setImmediate(resolve));
    const closing = runner.close();
    release();
    await expect(starting).rejects.toMatchObject({ code: ErrorCode.Closed });
    await closing;
    expect(journal).toEqual(['start storage', 'start origin', 'close origin', 'close storage']);
  });

  it('refuses a second start while one is in flight', async () => {
    let release!: () => void;
    const runner = new ComponentRunner({ logger: recordingLog() });
    const first = runner.start(component('slow', { start: () => new Promise<void>((resolve) => (release = resolve)), close: () => undefined }));
    await expect(runner.start(component('other', { close: () => undefined }))).rejects.toMatchObject({ code: ErrorCode.Internal });
    release();
    await first;
    await runner.close();
  });
});
