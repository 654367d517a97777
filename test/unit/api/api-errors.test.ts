import { describe, expect, it } from 'vitest';
import { errorBody, httpStatusOf } from '../../../src/api/api-errors.js';
import { ErrorCode } from '../../../src/core/errors.js';

describe('httpStatusOf', () => {
  it.each([
    [ErrorCode.BadRequest, 400],
    [ErrorCode.ConfigInvalid, 400],
    [ErrorCode.Unauthorized, 401],
    [ErrorCode.Forbidden, 403],
    [ErrorCode.NotFound, 404],
    [ErrorCode.Conflict, 409],
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
