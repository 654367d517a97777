import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../src/core/logger.js';

/** A debug-level logger whose JSON lines are kept in memory, to assert on what ingest logs. */
export function captureLogs(): { logger: Logger; lines: string[]; text(): string; entries(): Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      // INGEST_TEST_LOG=1 echoes the log to stderr when debugging a test.
      if (process.env.INGEST_TEST_LOG === '1') process.stderr.write(String(chunk));
      cb();
    },
  });
  const logger = pino<never>({ level: 'debug' }, sink);
  return {
    logger,
    lines,
    text: () => lines.join(''),
    entries: () => lines.flatMap((l) => l.split('\n')).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
