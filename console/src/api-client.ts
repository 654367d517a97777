import type { ChannelView, SelectableInput } from './channel-view.js';
import { SseParser, type SseMessage } from './sse-parser.js';

/**
 * The ops API from the browser: the same routes as `curl`, with the bearer token in the
 * `Authorization` header (never a cookie, so another site cannot act with it), and the event stream
 * read through `fetch` (EventSource cannot send headers).
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  /** `token` undefined: the API runs in open mode (loopback, no token). */
  constructor(readonly token: string | undefined) {}

  private headers(json: boolean): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (json) headers['content-type'] = 'application/json';
    return headers;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(path, {
      method,
      headers: this.headers(body !== undefined),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? `${response.status} ${response.statusText}`;
      throw new ApiError(response.status, message);
    }
    return json as T;
  }

  listChannels(): Promise<{ channels: ChannelView[] }> {
    return this.call('GET', '/api/v1/channels');
  }

  getChannel(id: string): Promise<ChannelView> {
    return this.call('GET', channelPath(id));
  }

  action(id: string, verb: 'restart' | 'stop' | 'start' | 'kick'): Promise<ChannelView> {
    return this.call('POST', `${channelPath(id)}/${verb}`);
  }

  update(id: string, patch: { ladder?: string; key?: string }): Promise<ChannelView> {
    return this.call('PATCH', channelPath(id), patch);
  }

  create(spec: { id: string; ladder?: string; key?: string }): Promise<ChannelView & { key?: string }> {
    return this.call('POST', '/api/v1/channels', spec);
  }

  remove(id: string): Promise<void> {
    return this.call('DELETE', channelPath(id));
  }

  selectInput(id: string, input: SelectableInput): Promise<ChannelView> {
    return this.call('POST', `${channelPath(id)}/input`, { input });
  }

  cue(id: string, cue: { type: 'out' | 'in'; durationSeconds?: number }): Promise<{ id: string; type: string; at: string }> {
    return this.call('POST', `${channelPath(id)}/cues`, cue);
  }

  /**
   * Reads `GET /api/v1/events` until it ends, the signal aborts or the network fails; each message goes
   * to `onMessage`. Resolves when the stream ends (the caller reconnects), rejects with `ApiError` when
   * refused.
   */
  async streamEvents(onMessage: (message: SseMessage) => void, signal: AbortSignal): Promise<{ retryMs?: number }> {
    const response = await fetch('/api/v1/events', { headers: { ...this.headers(false), accept: 'text/event-stream' }, signal, credentials: 'omit', cache: 'no-store' });
    if (!response.ok || response.body === null) {
      const text = await response.text().catch(() => '');
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // keep the status line
      }
      throw new ApiError(response.status, message);
    }
    const parser = new SseParser();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const message of parser.push(value)) onMessage(message);
    }
    return parser.retryMs !== undefined ? { retryMs: parser.retryMs } : {};
  }
}

function channelPath(id: string): string {
  return `/api/v1/channels/${encodeURIComponent(id)}`;
}
