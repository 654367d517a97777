import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OriginMetrics } from '../observability/metrics.js';
import { compress, type AcceptEncodingMemo } from './content-coding.js';
import type { CorsPolicy } from './cors-policy.js';
import type { ErrorResponder } from './error-responder.js';
import { etagMatches, headerValue } from './http-negotiation.js';
import type { EncodedBody, MediaCache, MediaEntry } from './media-cache.js';
import type { OriginResource } from './request-path.js';
import { playlistHeaders } from './response-headers.js';

export interface MultivariantResponderOptions {
  cache: MediaCache;
  codings: AcceptEncodingMemo;
  errors: ErrorResponder;
  cors: CorsPolicy;
  metrics: OriginMetrics | undefined;
  /** Target duration for its 404, s (a multivariant playlist has none). */
  defaultTargetDuration: number;
}

/**
 * The multivariant playlist (`master.m3u8`): the packager writes it to storage when a run starts,
 * so it is read through the media cache and reused for `multivariantRefreshMs`; compressed when
 * accepted (each coding once per read), 304 to a matching `If-None-Match`.
 */
export class MultivariantResponder {
  constructor(private readonly options: MultivariantResponderOptions) {}

  /** A fresh cached entry found by request path: answered synchronously. */
  sendFromMemory(req: IncomingMessage, res: ServerResponse, entry: MediaEntry): void {
    this.options.metrics?.countCacheHit();
    this.send(req, res, entry);
  }

  async serve(req: IncomingMessage, res: ServerResponse, resource: OriginResource): Promise<void> {
    const entry = await this.options.cache.readThrough(`/${resource.key}`, resource, 'multivariant');
    if (!entry) {
      const targetDuration = this.options.defaultTargetDuration;
      return this.options.errors.send(req, res, { requestClass: 'multivariant', status: 404, responseClass: 'multivariant', targetDuration, reason: 'no such channel' });
    }
    this.send(req, res, entry);
  }

  private send(req: IncomingMessage, res: ServerResponse, entry: MediaEntry): void {
    const coding = this.options.codings.codingOf(headerValue(req.headers, 'accept-encoding'));
    let body: EncodedBody = entry;
    if (coding !== 'identity' && entry.encoded) {
      let encoded = entry.encoded.get(coding);
      if (!encoded) {
        const compressed = compress(entry.body, coding);
        encoded = { size: compressed.length, body: compressed, etag: `${entry.etag.slice(0, -1)}-${coding}"` };
        entry.encoded.set(coding, encoded);
      }
      body = encoded;
    }
    const headers = playlistHeaders(entry.contentType, entry.cacheControl, body.etag, entry.lastModified.toUTCString());
    this.options.cors.apply(req, headers);
    if (etagMatches(headerValue(req.headers, 'if-none-match'), body.etag)) {
      res.writeHead(304, headers);
      res.end();
      this.options.metrics?.countOriginRequest('multivariant', 304);
      return;
    }
    if (body !== entry) headers['Content-Encoding'] = coding;
    headers['Content-Length'] = String(body.size);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body.body);
    this.options.metrics?.countOriginRequest('multivariant', 200);
  }
}
