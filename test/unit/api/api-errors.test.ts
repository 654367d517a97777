import { describe, expect, it } from 'vitest';
import { clientErrorAnswer, errorBody, httpStatusOf, rawErrorResponse } from '../../../src/api/api-errors.js';
import { ErrorCode } from '../../../src/core/errors.js';

describe('httpStatusOf', () => {
  it.each([
    [ErrorCode.BadRequest, 400],
    [ErrorCode.ConfigInvalid, 400],
    [ErrorCode.Unauthorized, 401],
    [ErrorCode.Forbidden, 403],
    [ErrorCode.NotFound, 404],
    [ErrorCode.Conflict, 409],
    [ErrorCode.LimitReached, 409],
    [ErrorCode.LadderNotFound, 422],
    [ErrorCode.InputUnusable, 422],
    [ErrorCode.CapacityExceeded, 503],
    [ErrorCode.StorageUnavailable, 503],
    [ErrorCode.Unavailable, 503],
    [ErrorCode.Closed, 503],
    [ErrorCode.TranscoderFailed, 500],
    [ErrorCode.MediaMalformed, 500],
    [ErrorCode.BinaryMissing, 500],
    [ErrorCode.Internal, 500],
  ])('maps %s to %i', (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });

  it('maps every code in the catalogue to an HTTP error status', () => {
    for (const code of Object.values(ErrorCode)) {
      const status = httpStatusOf(code);
      expect(status >= 400 && status <= 599, code).toBe(true);
    }
  });

  it('builds the error body shape', () => {
    expect(errorBody(ErrorCode.NotFound, 'no channel "x"')).toEqual({ error: { code: 'NOT_FOUND', message: 'no channel "x"' } });
    expect(errorBody(ErrorCode.LadderNotFound, 'no ladder', { ladder: 'x' })).toEqual({ error: { code: 'LADDER_NOT_FOUND', message: 'no ladder', details: { ladder: 'x' } } });
  });
});

describe('clientErrorAnswer (requests node:http refuses before routing)', () => {
  const LIMIT = 16_384;
  it.each([
    ['a timeout', 'ERR_HTTP_REQUEST_TIMEOUT', undefined, 408, /not received in time/],
    ['headers over the limit', 'HPE_HEADER_OVERFLOW', Buffer.from(`GET / HTTP/1.1\r\nx-pad: ${'a'.repeat(LIMIT)}`), 431, /headers are too large/],
    ['a request line over the limit, cut', 'HPE_HEADER_OVERFLOW', Buffer.from(`GET /${'a'.repeat(LIMIT)}`), 414, /URL is too long/],
    ['a request line over the limit, whole', 'HPE_HEADER_OVERFLOW', Buffer.from(`GET /${'a'.repeat(LIMIT)} HTTP/1.1\r\nhost: x\r\n`), 414, /URL is too long/],
    ['an overflow without the packet', 'HPE_HEADER_OVERFLOW', undefined, 431, /headers are too large/],
    ['an unparsable request', 'HPE_INVALID_METHOD', Buffer.from('NOT HTTP\r\n'), 400, /malformed HTTP request/],
    ['an unknown error', undefined, undefined, 400, /malformed HTTP request/],
  ])('answers %s', (_name, code, packet, status, message) => {
    const answer = clientErrorAnswer(code, packet, LIMIT);
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(ErrorCode.BadRequest);
    expect(answer.body.error.message).toMatch(message);
    expect(answer.body.error.message).not.toMatch(/HPE_|ERR_/);
  });

  it('writes a complete HTTP/1.1 response that closes the connection', () => {
    const raw = rawErrorResponse(431, errorBody(ErrorCode.BadRequest, 'request headers are too large — é'));
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toMatch(/\r\nconnection: close$/);
    expect(head).toContain(`content-length: ${Buffer.byteLength(body!)}`);
    expect(JSON.parse(body!)).toEqual({ error: { code: 'BAD_REQUEST', message: 'request headers are too large — é' } });
  });
});
