import { describe, expect, it } from 'vitest';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import {
  PublishAuthorizer,
  StaticChannelRegistry,
  decidePublish,
  isLoopbackBind,
  secretsEqual,
  type PublishDecision,
} from '../../../src/ingest/publish-auth.js';

const configured = new StaticChannelRegistry([
  { id: 'news', key: 's3cret-key' },
  { id: 'nokey' },
]);
const empty = new StaticChannelRegistry([]);

describe('decidePublish', () => {
  const table: Array<[string, StaticChannelRegistry, string, string | undefined, string, PublishDecision]> = [
    ['right key', configured, 'news', 's3cret-key', '0.0.0.0', { allowed: true, mode: 'key' }],
    ['right key on loopback', configured, 'news', 's3cret-key', '127.0.0.1', { allowed: true, mode: 'key' }],
    ['wrong key', configured, 'news', 's3cret-kez', '0.0.0.0', { allowed: false, refusal: 'wrong-key' }],
    ['key prefix', configured, 'news', 's3cret', '0.0.0.0', { allowed: false, refusal: 'wrong-key' }],
    ['key with suffix', configured, 'news', 's3cret-key ', '0.0.0.0', { allowed: false, refusal: 'wrong-key' }],
    ['missing key', configured, 'news', undefined, '0.0.0.0', { allowed: false, refusal: 'missing-key' }],
    ['empty key', configured, 'news', '', '127.0.0.1', { allowed: false, refusal: 'missing-key' }],
    ['unknown channel', configured, 'sports', 's3cret-key', '0.0.0.0', { allowed: false, refusal: 'unknown-channel' }],
    ['unknown channel on loopback', configured, 'sports', 'x', '127.0.0.1', { allowed: false, refusal: 'unknown-channel' }],
    ['invalid channel id', configured, '../etc', 's3cret-key', '0.0.0.0', { allowed: false, refusal: 'invalid-channel-id' }],
    ['keyless channel on loopback', configured, 'nokey', undefined, '127.0.0.1', { allowed: true, mode: 'keyless-loopback' }],
    ['keyless channel exposed', configured, 'nokey', undefined, '0.0.0.0', { allowed: false, refusal: 'no-key-configured' }],
    ['open mode on loopback', empty, 'anything', undefined, '127.0.0.1', { allowed: true, mode: 'open' }],
    ['open mode on ::1', empty, 'anything', 'whatever', '::1', { allowed: true, mode: 'open' }],
    ['open mode refuses invalid ids', empty, 'a/b', undefined, '127.0.0.1', { allowed: false, refusal: 'invalid-channel-id' }],
    ['no channels but exposed bind', empty, 'anything', undefined, '0.0.0.0', { allowed: false, refusal: 'unknown-channel' }],
    ['ids match exactly, case included', configured, 'NEWS', 's3cret-key', '0.0.0.0', { allowed: false, refusal: 'unknown-channel' }],
  ];
  it.each(table)('%s', (_name, registry, channel, key, bind, expected) => {
    expect(decidePublish({ channel, key }, registry, bind)).toEqual(expected);
  });

  describe('open mode asks the registry whether it may create the channel', () => {
    // As the channel manager answers: "LL" runs, and at most two channels may exist.
    const running = ['LL', 'other'];
    const openRegistry = Object.assign(new StaticChannelRegistry([]), {
      openPublishRefusal: (id: string): 'id-case-clash' | 'channel-limit' | undefined => {
        if (running.includes(id)) return undefined;
        if (running.some((r) => r.toLowerCase() === id.toLowerCase())) return 'id-case-clash';
        return running.length >= 2 ? 'channel-limit' : undefined;
      },
    });
    it.each<[string, string, PublishDecision]>([
      ['a running channel publishes again', 'LL', { allowed: true, mode: 'open' }],
      ['an id differing only in case is refused', 'll', { allowed: false, refusal: 'id-case-clash' }],
      ['a new channel over the limit is refused', 'third', { allowed: false, refusal: 'channel-limit' }],
      ['an invalid id is refused before asking', '../x', { allowed: false, refusal: 'invalid-channel-id' }],
    ])('%s', (_name, channel, expected) => {
      expect(decidePublish({ channel, key: undefined }, openRegistry, '127.0.0.1')).toEqual(expected);
    });
  });
});

describe('isLoopbackBind', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.10', false],
    ['example.com', false],
  ])('%s → %s', (host, expected) => expect(isLoopbackBind(host)).toBe(expected));
});

describe('secretsEqual', () => {
  it('compares content, whatever the lengths', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abd')).toBe(false);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    expect(secretsEqual('', 'a')).toBe(false);
  });
});

describe('PublishAuthorizer', () => {
  const capture = captureLogs;

  it('logs refusals with the reason and never the key', async () => {
    const { lines, logger } = capture();
    const auth = new PublishAuthorizer(configured, '0.0.0.0', logger);
    const decision = auth.authorize({ channel: 'news', key: 'guessed-key-123' }, { protocol: 'rtmp', remoteAddress: '10.0.0.9:5000' });
    expect(decision).toEqual({ allowed: false, refusal: 'wrong-key' });
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    expect(text).toContain('wrong-key');
    expect(text).toContain('10.0.0.9:5000');
    expect(text).not.toContain('guessed-key-123');
    expect(text).not.toContain('s3cret-key');
  });

  it('warns once about open mode', async () => {
    const { lines, logger } = capture();
    const auth = new PublishAuthorizer(empty, '127.0.0.1', logger);
    auth.authorize({ channel: 'a', key: undefined }, { protocol: 'rtmp' });
    auth.authorize({ channel: 'b', key: undefined }, { protocol: 'rtmp' });
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.includes('open mode'))).toHaveLength(1);
  });
});
