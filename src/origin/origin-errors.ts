import { ErrorCode, isLivepipeError } from '../core/errors.js';

/** The one place where coded errors become origin HTTP statuses. Anything uncoded is a 500. */
export function httpStatusOf(err: unknown): number {
  if (!isLivepipeError(err)) return 500;
  switch (err.code) {
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.BadRequest:
      return 400;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.Unauthorized:
      return 401;
    case ErrorCode.Unavailable:
    case ErrorCode.StorageUnavailable:
    case ErrorCode.Closed:
    case ErrorCode.CapacityExceeded:
      return 503;
    default:
      return 500;
  }
}
