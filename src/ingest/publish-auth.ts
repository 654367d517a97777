import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Logger } from '../core/logger.js';
import { isValidId } from '../core/ids.js';

/** SRT settings of one channel: its own listener port, AES passphrase and receive latency. */
export interface ChannelSrtSettings {
  port: number;
  /** SRT passphrase, 10..79 characters (libsrt's bounds). */
  passphrase: string;
  /** SRT latency in milliseconds; default 120 (libsrt's default). */
  latencyMs?: number;
  /** Port of a second listener whose caller is the channel's backup input; none by default. */
  backupPort?: number;
}

/** What ingest needs to know about one configured channel. */
export interface ChannelPublishSettings {
  id: string;
  /** RTMP stream key. A channel without key may only publish when ingest binds to loopback. */
  key?: string;
  srt?: ChannelSrtSettings;
}

/** The narrow view of the channel configuration that ingest reads (the lead's channel config implements it). */
export interface ChannelRegistry {
  getChannel(id: string): ChannelPublishSettings | undefined;
  /** Number of configured channels; 0 with a loopback bind means "open mode". */
  channelCount(): number;
  /** All configured channels (SRT ingest arms one listener per channel with SRT settings). */
  channels(): readonly ChannelPublishSettings[];
  /**
   * In open mode, why a publish to `id` may not create its channel: another channel's id differs
   * only in letter case, or as many channels as allowed exist. Omitted = open mode takes any id.
   */
  openPublishRefusal?(id: string): 'id-case-clash' | 'channel-limit' | undefined;
}

export interface PublishRequest {
  channel: string;
  /** The key the publisher presented, if any. */
  key: string | undefined;
}

export type PublishRefusal =
  /** The channel id is not a valid livepipe id (it would become a storage path segment). */
  | 'invalid-channel-id'
  /** No channel with that id is configured. */
  | 'unknown-channel'
  /** The channel has a key and the publisher sent none. */
  | 'missing-key'
  /** The key does not match. */
  | 'wrong-key'
  /** The channel has no key and ingest is reachable from other hosts. */
  | 'no-key-configured'
  /** Open mode: a channel whose id differs only in letter case exists. */
  | 'id-case-clash'
  /** Open mode: as many channels as `maxChannelDefinitions` allows exist. */
  | 'channel-limit';

export type PublishDecision =
  | { allowed: true; mode: 'key' | 'open' | 'keyless-loopback' }
  | { allowed: false; refusal: PublishRefusal };

/** Whether a bind address only accepts connections from this host (`127.0.0.0/8`, `::1`, `localhost`). */
export function isLoopbackBind(host: string): boolean {
  if (host === 'localhost') return true;
  const family = isIP(host);
  if (family === 4) return host.startsWith('127.');
  if (family === 6) return host === '::1' || host.toLowerCase() === '::ffff:127.0.0.1';
  return false;
}

/**
 * Compares two secrets in constant time: both are hashed first so `timingSafeEqual` always sees
 * equal-length inputs and the comparison leaks neither content nor length.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * The publish decision as a pure function of the request, the registry and the bind address.
 *
 * - Open mode (no channel configured AND a loopback bind): any valid channel id may publish, unless
 *   the registry refuses to create it (an id differing from a running one only in letter case, the
 *   channel limit). Ids are matched exactly: `LL` is not `ll`.
 * - A configured channel with a key requires exactly that key.
 * - A configured channel without a key is accepted only on a loopback bind.
 */
export function decidePublish(
  request: PublishRequest,
  registry: ChannelRegistry,
  bindHost: string,
  /** Open mode on a non-loopback bind too (`allowOpenPublish: true`, an explicit operator choice). */
  openOnAnyBind = false,
): PublishDecision {
  if (!isValidId(request.channel)) return { allowed: false, refusal: 'invalid-channel-id' };
  const loopback = isLoopbackBind(bindHost);
  if (registry.channelCount() === 0 && (loopback || openOnAnyBind)) {
    const refusal = registry.openPublishRefusal?.(request.channel);
    return refusal === undefined ? { allowed: true, mode: 'open' } : { allowed: false, refusal };
  }
  const channel = registry.getChannel(request.channel);
  if (channel === undefined) return { allowed: false, refusal: 'unknown-channel' };
  if (channel.key === undefined || channel.key === '') {
    return loopback ? { allowed: true, mode: 'keyless-loopback' } : { allowed: false, refusal: 'no-key-configured' };
  }
  if (request.key === undefined || request.key === '') return { allowed: false, refusal: 'missing-key' };
  return secretsEqual(request.key, channel.key) ? { allowed: true, mode: 'key' } : { allowed: false, refusal: 'wrong-key' };
}

/** A `ChannelRegistry` over a plain list (tests, CLI, and the lead's config until it has its own). */
export class StaticChannelRegistry implements ChannelRegistry {
  private readonly byId: Map<string, ChannelPublishSettings>;

  constructor(channels: readonly ChannelPublishSettings[]) {
    this.byId = new Map(channels.map((c) => [c.id, c]));
  }

  getChannel(id: string): ChannelPublishSettings | undefined {
    return this.byId.get(id);
  }

  channelCount(): number {
    return this.byId.size;
  }

  channels(): ChannelPublishSettings[] {
    return [...this.byId.values()];
  }
}

/**
 * Applies `decidePublish` and logs it. Refusals are logged with channel, protocol, remote address
 * and reason, never with the key.
 */
export class PublishAuthorizer {
  private readonly log: Logger;
  private warnedOpenMode = false;

  constructor(
    private readonly registry: ChannelRegistry,
    private readonly bindHost: string,
    logger: Logger,
    private readonly openOnAnyBind = false,
  ) {
    this.log = logger.child({ component: 'publish-auth' });
  }

  /** Says once, loudly, that anyone on this host may publish any channel. */
  warnIfOpen(): void {
    if (this.warnedOpenMode || this.registry.channelCount() !== 0) return;
    if (isLoopbackBind(this.bindHost) || this.openOnAnyBind) {
      this.warnedOpenMode = true;
      this.log.warn({ bind: this.bindHost }, 'no channels configured: open mode, any local publisher may push any channel id');
    }
  }

  authorize(request: PublishRequest, context: { protocol: 'rtmp' | 'srt'; remoteAddress?: string }): PublishDecision {
    const decision = decidePublish(request, this.registry, this.bindHost, this.openOnAnyBind);
    if (decision.allowed) {
      if (decision.mode === 'open') this.warnIfOpen();
    } else {
      this.log.warn(
        { channel: request.channel.slice(0, 80), protocol: context.protocol, remoteAddress: context.remoteAddress, refusal: decision.refusal },
        `publish refused: ${refusalMessage(decision.refusal)}`,
      );
    }
    return decision;
  }
}

export function refusalMessage(refusal: PublishRefusal): string {
  switch (refusal) {
    case 'invalid-channel-id':
      return 'channel id is not valid (letters, digits, _ and -, at most 64)';
    case 'unknown-channel':
      return 'no such channel';
    case 'missing-key':
      return 'stream key missing';
    case 'wrong-key':
      return 'stream key does not match';
    case 'no-key-configured':
      return 'channel has no stream key and ingest is not bound to loopback';
    case 'id-case-clash':
      return 'a channel whose id differs only in letter case exists';
    case 'channel-limit':
      return 'as many channels as maxChannelDefinitions allows exist';
  }
}
