// m3u8-parser ships no types; the rule checker only needs the parser and a loosely typed manifest.
declare module 'm3u8-parser' {
  export class Parser {
    constructor(options?: Record<string, unknown>);
    push(chunk: string): void;
    end(): void;
    on(event: 'warn' | 'info', listener: (e: { message: string }) => void): void;
    manifest: Record<string, any>;
  }
}
