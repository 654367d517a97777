import { InvalidArgumentError } from 'commander';

/** Commander parser for a TCP port (0 = any free port). */
export function parsePort(value: string): number {
  // Digits only: Number('') is 0, which would silently mean "any free port".
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a TCP port (0–65535)');
  return n;
}

/**
 * Commander parser for a positive number; `what` names it in the error (`must be a positive {what}`).
 * A factory, because commander passes the previous value as the parser's second argument.
 */
export function positive(what = 'number'): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive ${what}`);
    return n;
  };
}
