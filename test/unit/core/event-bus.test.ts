import { describe, expect, it } from 'vitest';
import { EventBus, LivepipeEvent } from '../../../src/core/event-bus.js';
import { ErrorCode, LivepipeError, isLivepipeError } from '../../../src/core/errors.js';
import { isValidId } from '../../../src/core/ids.js';

describe('EventBus', () => {
  it('delivers typed payloads and unsubscribes', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const off = bus.on(LivepipeEvent.PublishStarted, (p) => seen.push(p.channel));
    bus.emit(LivepipeEvent.PublishStarted, { channel: 'a', protocol: 'rtmp' });
    off();
    bus.emit(LivepipeEvent.PublishStarted, { channel: 'b', protocol: 'rtmp' });
    expect(seen).toEqual(['a']);
  });
});

describe('errors', () => {
  it('carries a code', () => {
    const err = new LivepipeError(ErrorCode.NotFound, 'no such channel');
    expect(isLivepipeError(err, ErrorCode.NotFound)).toBe(true);
    expect(isLivepipeError(err, ErrorCode.Conflict)).toBe(false);
    expect(isLivepipeError(new Error('x'))).toBe(false);
  });
});

describe('ids', () => {
  it.each([
    ['news', true],
    ['a_b-9', true],
    ['', false],
    ['..', false],
    ['a/b', false],
    ['-x', false],
    ['x'.repeat(65), false],
  ])('isValidId(%j) = %s', (id, ok) => {
    expect(isValidId(id)).toBe(ok);
  });
});
