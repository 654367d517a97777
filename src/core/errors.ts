/**
 * The one catalogue of livepipe's coded errors. Modules throw `LivepipeError` with a code from here;
 * only `src/origin` and `src/api` map codes to HTTP statuses (see `httpStatusOf` users there).
 */
export const ErrorCode = {
  /** A config or ladder file failed validation. */
  ConfigInvalid: 'CONFIG_INVALID',
  /** A ladder name that no file in ladders/ defines. */
  LadderNotFound: 'LADDER_NOT_FOUND',
  /** The input could not be probed, or has no video stream. */
  InputUnusable: 'INPUT_UNUSABLE',
  /** The node-wide cap on concurrent ladders is reached. */
  CapacityExceeded: 'CAPACITY_EXCEEDED',
  /** A required external binary (ffmpeg, ffprobe) is missing. */
  BinaryMissing: 'BINARY_MISSING',
  /** ffmpeg kept crashing: the crash-loop guard gave up. */
  TranscoderFailed: 'TRANSCODER_FAILED',
  /** A fragmented MP4 stream was malformed or truncated. */
  MediaMalformed: 'MEDIA_MALFORMED',
  /** A storage operation failed (after retries). */
  StorageUnavailable: 'STORAGE_UNAVAILABLE',
  /** An object or channel does not exist. */
  NotFound: 'NOT_FOUND',
  /** A request was well-formed HTTP but not acceptable (bad query, bad path, bad body). */
  BadRequest: 'BAD_REQUEST',
  /** The resource exists already. */
  Conflict: 'CONFLICT',
  /**
   * A configured limit on how many of something may exist is reached (e.g. `maxChannelDefinitions`):
   * unlike `CapacityExceeded`, waiting does not help — remove one, or raise the limit.
   */
  LimitReached: 'LIMIT_REACHED',
  /** Authentication failed (publish key, API token). */
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  /** A held request waited too long, or too many are held. */
  Unavailable: 'UNAVAILABLE',
  /** The component is closed. */
  Closed: 'CLOSED',
  /**
   * Cluster mode: a write refused because this node does not hold the channel's writer lease (or its
   * renewal is overdue): another node may be writing the channel.
   */
  Fenced: 'FENCED',
  /** A bug: something that should not happen did (details are in the log, not the response). */
  Internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class LivepipeError extends Error {
  readonly code: ErrorCode;
  /** Structured context for logs and API error bodies; never secrets. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LivepipeError';
    this.code = code;
    this.details = options.details;
  }
}

export function isLivepipeError(err: unknown, code?: ErrorCode): err is LivepipeError {
  return err instanceof LivepipeError && (code === undefined || err.code === code);
}

/** A readable one-line message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
