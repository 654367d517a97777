/**
 * Channel and rendition ids become path segments of storage keys and URLs, so they are restricted to
 * a safe alphabet: letters, digits, `_` and `-`, starting with a letter or digit, at most 64 chars.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Orders things with ids by id, code unit by code unit (the same order on every machine, no locale). */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The form under which ids are unique: ids that differ only in letter case (`LL`, `ll`) would be two
 * channels to the registry and to URLs, but one directory on a case-insensitive filesystem (macOS,
 * Windows) and easily one stream to a person. livepipe keeps the case an id was created with and
 * refuses a second id with the same folded form. Ids are ASCII (`ID_PATTERN`), so lower-casing is
 * the whole folding.
 */
export function foldId(id: string): string {
  return id.toLowerCase();
}
