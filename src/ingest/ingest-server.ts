import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import { IngestFeedRegistry, type IngestFeed, type InputRole } from './ingest-feed.js';
import { PublishAuthorizer, type ChannelRegistry } from './publish-auth.js';
import { RtmpIngest, type RtmpIngestOptions } from './rtmp-ingest.js';
import type { IngestShedMetrics } from './shed-reporter.js';
import { SrtIngest, srtPublisherUrlTemplate, type SrtIngestOptions } from './srt-ingest.js';

export interface IngestServerOptions {
  /** Bind address of RTMP and SRT listeners; default `127.0.0.1` (open mode allowed only there). */
  host?: string;
  /** RTMP settings, or `false` to disable RTMP. */
  rtmp?: Omit<RtmpIngestOptions, 'host'> | false;
  /** SRT settings, or `false` to disable SRT. */
  srt?: Omit<SrtIngestOptions, 'host'> | false;
  /** Open mode (no channels configured) on a non-loopback bind too; default false. */
  openOnAnyBind?: boolean;
}

/**
 * The ingest layer as one component for the composition root: the feed registry, the authorizer,
 * RTMP and SRT. `start()` starts RTMP then SRT (and undoes RTMP if SRT fails); `close()` stops them
 * in reverse order. Feeds are in `feeds`; `PublishStarted`/`PublishEnded` go to the bus.
 */
export class IngestServer {
  readonly feeds: IngestFeedRegistry;
  readonly rtmp: RtmpIngest | undefined;
  readonly srt: SrtIngest | undefined;
  private readonly host: string;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: { bus: EventBus; logger: Logger; channels: ChannelRegistry; metrics?: IngestShedMetrics },
    options: IngestServerOptions = {},
  ) {
    this.host = options.host ?? '127.0.0.1';
    this.feeds = new IngestFeedRegistry(deps.bus, deps.logger);
    const authorizer = new PublishAuthorizer(deps.channels, this.host, deps.logger, options.openOnAnyBind ?? false);
    this.rtmp = options.rtmp === false ? undefined : new RtmpIngest({ registry: this.feeds, authorizer, logger: deps.logger, ...metricsDep(deps.metrics) }, { ...options.rtmp, host: this.host });
    this.srt = options.srt === false ? undefined : new SrtIngest({ registry: this.feeds, logger: deps.logger, ...metricsDep(deps.metrics) }, () => deps.channels.channels(), { ...options.srt, host: this.host });
  }

  async start(): Promise<void> {
    await this.rtmp?.start();
    try {
      await this.srt?.start();
    } catch (err) {
      await this.rtmp?.close();
      throw err;
    }
  }

  /** Stops SRT listeners then RTMP; live publishes end with reason `shutdown`. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.srt?.close();
      await this.rtmp?.close();
    })();
    return this.closing;
  }

  /**
   * The channel list changed (ops API create/update/delete): arms, re-arms or stops SRT listeners to
   * match. RTMP needs nothing: it asks the registry on every publish.
   */
  channelsChanged(): Promise<void> {
    return this.srt?.sync() ?? Promise.resolve();
  }

  feed(channel: string, role: InputRole = 'primary'): IngestFeed | undefined {
    return this.feeds.get(channel, role);
  }

  /** Drops the publisher of input `role`, or of every input of the channel; `refusal` tells it why (RTMP). */
  kick(channel: string, role?: InputRole, refusal?: string): boolean {
    return this.feeds.kick(channel, role, refusal);
  }

  /**
   * Where a broadcaster points an encoder, for display (`publicHost` is the name publishers reach).
   * The RTMP key is a `{key}` placeholder; the SRT URL carries the passphrase because it is the
   * credential itself: show it only to whoever may publish.
   */
  publishUrls(channel: string, publicHost: string): { rtmp?: string; srt?: string } {
    const urls: { rtmp?: string; srt?: string } = {};
    if (this.rtmp !== undefined) urls.rtmp = this.rtmp.publishUrl(channel, publicHost);
    const settings = this.deps.channels.getChannel(channel)?.srt;
    if (this.srt !== undefined && settings !== undefined) urls.srt = srtPublisherUrlTemplate(publicHost, channel, settings.port);
    return urls;
  }
}

/** `exactOptionalPropertyTypes`: pass `metrics` only when there is one. */
function metricsDep(metrics: IngestShedMetrics | undefined): { metrics?: IngestShedMetrics } {
  return metrics === undefined ? {} : { metrics };
}
