import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parsePort, positive } from '../../../src/cli/option-parsers.js';

describe('parsePort', () => {
  it.each([['0', 0], ['8080', 8080], ['65535', 65535]])('%s → %d', (value, port) => expect(parsePort(value)).toBe(port));
  it.each(['-1', '65536', '80.5', 'abc', '', ' ', '1e3'])('rejects %j', (value) => {
    expect(() => parsePort(value)).toThrow(InvalidArgumentError);
    expect(() => parsePort(value)).toThrow('must be a TCP port (0–65535)');
  });
});

describe('positive', () => {
  it('accepts positive numbers', () => expect(positive()('2.5')).toBe(2.5));
  it.each(['0', '-3', 'abc', 'Infinity'])('rejects %j naming what it wanted', (value) => {
    expect(() => positive('number of seconds')(value)).toThrow('must be a positive number of seconds');
    expect(() => positive()(value)).toThrow('must be a positive number');
  });
});
