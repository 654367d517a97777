import { describe, expect, it } from 'vitest';
import { caseClashes } from '../../../src/channels/channel-registry.js';
import { foldId } from '../../../src/core/ids.js';

describe('foldId', () => {
  it.each([
    ['news', 'news'],
    ['LL', 'll'],
    ['Ab_C-9', 'ab_c-9'],
  ])('%s folds to %s', (id, folded) => {
    expect(foldId(id)).toBe(folded);
  });
});

describe('caseClashes', () => {
  it.each<[string[], Array<[string, string]>]>([
    [[], []],
    [['news', 'sport'], []],
    [['LL', 'll'], [['LL', 'll']]],
    [['a', 'News', 'b', 'NEWS', 'news'], [['News', 'NEWS'], ['News', 'news']]],
    [['x_1', 'X_1', 'x-1'], [['x_1', 'X_1']]],
  ])('%j → %j', (ids, clashes) => {
    expect(caseClashes(ids)).toEqual(clashes);
  });
});
