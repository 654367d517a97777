import { STATUS_CODES } from 'node:http';
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
  /** Like a taken id, the request conflicts with what exists now: deleting one makes room. */
  [ErrorCode.LimitReached]: 409,
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
  [ErrorCode.Fenced]: 503,
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

/**
 * The answer to a request node:http refuses before fastify sees it (the `clientError` event): a
 * header section over `maxHeaderSize` (431, or 414 when the request line alone is that long), a
 * request not received within `requestTimeout` (408), or anything it cannot parse (400). Pure: `code`
 * is node's error code, `rawPacket` what it had read. The message is ours, never node's.
 */
export function clientErrorAnswer(
  code: string | undefined,
  rawPacket: Buffer | undefined,
  maxHeaderSize: number,
): { status: number; body: ApiErrorBody } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, body: errorBody(ErrorCode.BadRequest, 'request not received in time') };
  if (code === 'HPE_HEADER_OVERFLOW') {
    // Node counts the request line into the header size: a line that fills the limit by itself is a URL too long.
    const lineEnd = rawPacket?.indexOf('\r\n') ?? -1;
    const lineLength = lineEnd < 0 ? (rawPacket?.length ?? 0) : lineEnd;
    if (lineLength >= maxHeaderSize) return { status: 414, body: errorBody(ErrorCode.BadRequest, 'request URL is too long') };
    return { status: 431, body: errorBody(ErrorCode.BadRequest, 'request headers are too large') };
  }
  return { status: 400, body: errorBody(ErrorCode.BadRequest, 'malformed HTTP request') };
}

/** A complete HTTP/1.1 response carrying a JSON error, for writing straight to a socket; it closes the connection. */
export function rawErrorResponse(status: number, body: ApiErrorBody): string {
  const text = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `content-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(text)}\r\n` +
    `connection: close\r\n\r\n${text}`
  );
}
