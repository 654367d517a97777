import { isLivepipeError } from '../../src/core/errors.js';

/** The `LivepipeError` code `promise` rejects with; undefined when it resolves; a description of anything else thrown. */
export async function errorCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return isLivepipeError(err) ? err.code : `not a LivepipeError: ${String(err)}`;
  }
  return undefined;
}
