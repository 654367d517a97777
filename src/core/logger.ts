import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Options for the root logger. Components never create loggers: they take `logger.child({ component })`. */
export interface RootLoggerOptions {
  /** pino level; default `info`, or `LIVEPIPE_LOG_LEVEL`. */
  level?: string;
  /** Write to this file descriptor instead of stdout (2 = stderr, used by CLI commands that print results on stdout). */
  fd?: number;
}

/** Builds the one root pino logger of a process (JSON lines). Secrets are redacted wherever they appear. */
export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? process.env.LIVEPIPE_LOG_LEVEL ?? 'info',
    base: { app: 'livepipe' },
    redact: {
      paths: ['key', 'streamKey', 'passphrase', 'token', 'secret', '*.key', '*.streamKey', '*.passphrase', '*.token', '*.secret'],
      censor: '[redacted]',
    },
  };
  return pino(pinoOptions, pino.destination({ fd: options.fd ?? 1, sync: false }));
}

/** A logger that discards everything: for unit tests and pure code paths that require one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
