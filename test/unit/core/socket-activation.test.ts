import { describe, expect, it } from 'vitest';
import { inheritedSocketsFromEnv } from '../../../src/core/socket-activation.js';

const PID = 4242;

describe('inheritedSocketsFromEnv (sd_listen_fds)', () => {
  it('takes named descriptors from fd 3 on', () => {
    const got = inheritedSocketsFromEnv({ LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'api:origin' }, PID);
    expect(got).toEqual({ fds: { api: 3, origin: 4 }, unknown: [] });
  });

  it('ignores the variables when they are meant for another process, or absent', () => {
    expect(inheritedSocketsFromEnv({ LISTEN_PID: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'origin' }, PID)).toEqual({ fds: {}, unknown: [] });
    expect(inheritedSocketsFromEnv({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'origin' }, PID)).toEqual({ fds: {}, unknown: [] });
    expect(inheritedSocketsFromEnv({}, PID)).toEqual({ fds: {}, unknown: [] });
  });

  it('reports names it does not use, and unnamed descriptors as unknown', () => {
    expect(inheritedSocketsFromEnv({ LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'origin:metrics' }, PID)).toEqual({ fds: { origin: 3 }, unknown: ['metrics'] });
    expect(inheritedSocketsFromEnv({ LISTEN_PID: String(PID), LISTEN_FDS: '1' }, PID)).toEqual({ fds: {}, unknown: ['unknown'] });
  });

  it.each([
    [{ LISTEN_PID: 'abc', LISTEN_FDS: '1' }, /LISTEN_PID must be a process id/],
    [{ LISTEN_PID: String(PID), LISTEN_FDS: 'x' }, /LISTEN_FDS must be a count/],
    [{ LISTEN_PID: String(PID), LISTEN_FDS: '1000' }, /LISTEN_FDS must be a count/],
    [{ LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'origin' }, /names 1 descriptors but LISTEN_FDS is 2/],
    [{ LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'origin:origin' }, /names "origin" twice/],
  ])('refuses malformed values with a clear error (%o)', (env, message) => {
    expect(() => inheritedSocketsFromEnv(env, PID)).toThrow(message);
  });
});
