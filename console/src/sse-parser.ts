/**
 * An incremental parser of the `text/event-stream` format (HTML living standard, "Server-sent
 * events", "Interpreting an event stream"). The console reads the stream with `fetch` — EventSource
 * cannot send the `Authorization` header — so it parses the bytes itself.
 *
 * Rules kept: lines end with CRLF, LF or CR; a line starting with `:` is a comment; `field: value`
 * loses one leading space of the value; `data` lines are joined with `\n`; an empty line dispatches
 * the message (nothing is dispatched without data); the event name defaults to `message`; an `id`
 * persists across messages; a field without a colon has an empty value.
 */

export interface SseMessage {
  event: string;
  data: string;
  /** The last event id seen (persists until another one arrives). */
  id?: string;
}

export class SseParser {
  private pending = '';
  private data: string[] = [];
  private event = '';
  private lastId: string | undefined;
  /** The reconnection delay the server asked for (`retry`), ms. */
  retryMs: number | undefined;

  /** Feeds decoded text; returns the messages completed by it. */
  push(text: string): SseMessage[] {
    this.pending += text;
    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.pending.length; i++) {
      const ch = this.pending[i];
      if (ch !== '\n' && ch !== '\r') continue;
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (ch === '\r' && i === this.pending.length - 1) break;
      this.line(this.pending.slice(start, i), messages);
      if (ch === '\r' && this.pending[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.pending = this.pending.slice(start);
    return messages;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        const message: SseMessage = { event: this.event === '' ? 'message' : this.event, data: this.data.join('\n') };
        if (this.lastId !== undefined) message.id = this.lastId;
        out.push(message);
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        // Unknown fields are ignored, as the format requires.
        break;
    }
  }
}
