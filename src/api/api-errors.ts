import { ErrorCode } from '../core/errors.js';

/**
 * Where livepipe's error codes become HTTP statuses for the ops API — the only place they do (the
 * origin has its own, media-facing mapping). Codes that describe the caller's request are 4xx; codes
 * that describe the node's condition are 5xx.
 */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.ConfigInvalid]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  /** The request is well-formed but names a ladder that does not exist. */
  [ErrorCode.LadderNotFound]: 422,
  /** The publisher's input cannot be transcoded: the request cannot be carried out on it. */
  [ErrorCode.InputUnusable]: 422,
  [ErrorCode.MediaMalformed]: 500,
  [ErrorCode.TranscoderFailed]: 500,
  [ErrorCode.BinaryMissing]: 500,
  [ErrorCode.Internal]: 500,
  /** The node is full now; another node (or later) may accept the channel. */
  [ErrorCode.CapacityExceeded]: 503,
  [ErrorCode.StorageUnavailable]: 503,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.Closed]: 503,
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export interface ApiErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ApiErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
