/**
 * Channel and rendition ids become path segments of storage keys and URLs, so they are restricted to
 * a safe alphabet: letters, digits, `_` and `-`, starting with a letter or digit, at most 64 chars.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}
