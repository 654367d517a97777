import type { IncomingMessage } from 'node:http';
import { ErrorCode, LivepipeError } from '../core/errors.js';
import { headerValue } from './http-negotiation.js';
import { EXPOSED_HEADERS } from './response-headers.js';

/**
 * Which web origins may read the origin's responses: every one (`*`, the default: playlists and
 * media are public, players on any page fetch them), or an exact list (`--cors-origin`). With a
 * list, every response varies on `Origin`, and only a listed one is echoed back.
 */
export class CorsPolicy {
  /** Every origin allowed: responses carry `Access-Control-Allow-Origin: *` (and can be prebuilt). */
  readonly any: boolean;
  private readonly allowed: ReadonlySet<string>;

  constructor(origins: '*' | readonly string[] = '*') {
    this.any = origins === '*';
    this.allowed = new Set(origins === '*' ? [] : origins);
  }

  /** Throws `ConfigInvalid` for a listed origin that is not `http(s)://host[:port]`. */
  validate(): void {
    for (const origin of this.allowed) {
      if (!/^https?:\/\/[^\s/]+$/.test(origin)) throw new LivepipeError(ErrorCode.ConfigInvalid, `origin: invalid CORS origin ${origin}`);
    }
  }

  /** Adds the CORS response headers for `req` (its `Origin`) to `headers`. */
  apply(req: Pick<IncomingMessage, 'headers'>, headers: Record<string, string>): void {
    if (this.any) {
      headers['Access-Control-Allow-Origin'] = '*';
    } else {
      const origin = headerValue(req.headers, 'origin');
      headers.Vary = headers.Vary ? `${headers.Vary}, Origin` : 'Origin';
      if (origin === undefined || !this.allowed.has(origin)) return;
      headers['Access-Control-Allow-Origin'] = origin;
    }
    headers['Access-Control-Expose-Headers'] = EXPOSED_HEADERS;
  }
}
