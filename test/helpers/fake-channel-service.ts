/**
 * TEST-ONLY: an in-memory `ChannelService` for the ops API tests. The real one is the channel manager
 * (ingest → transcoder → packager per channel). This one keeps the channel definitions in a real
 * `ChannelRegistry` and fakes only the runtime part (state, publisher, transcoder counters), so the
 * API's behaviour around definitions — validation, conflicts, persistence — is the real thing.
 */
import type { ChannelRegistry } from '../../src/channels/channel-registry.js';
import type { ChannelPatch, ChannelService, ChannelSpec, ChannelState, ChannelView } from '../../src/channels/channel-service.js';
import type { ChannelConfig } from '../../src/config/service-config.js';
import { ErrorCode, LivepipeError } from '../../src/core/errors.js';

interface Runtime {
  state: ChannelState;
  runId: number;
  restarts: number;
  publisher?: ChannelView['publisher'];
}

export class FakeChannelService implements ChannelService {
  private readonly runtime = new Map<string, Runtime>();
  /** Every call, in order, for assertions (`restart:news`, `create:news`…). */
  readonly calls: string[] = [];

  constructor(private readonly registry: ChannelRegistry) {}

  list(): ChannelView[] {
    return this.registry.list().map((spec) => this.view(spec));
  }

  get(id: string): ChannelView | undefined {
    const spec = this.registry.get(id);
    return spec === undefined ? undefined : this.view(spec);
  }

  async create(spec: ChannelSpec): Promise<ChannelView> {
    this.calls.push(`create:${spec.id}`);
    return this.view(await this.registry.create(spec));
  }

  async update(id: string, patch: ChannelPatch): Promise<ChannelView> {
    this.calls.push(`update:${id}`);
    return this.view(await this.registry.update(id, patch));
  }

  async remove(id: string): Promise<void> {
    this.calls.push(`remove:${id}`);
    await this.registry.remove(id);
    this.runtime.delete(id);
  }

  async restart(id: string): Promise<ChannelView> {
    this.calls.push(`restart:${id}`);
    const rt = this.require(id);
    rt.runId += 1;
    rt.restarts += 1;
    return this.get(id)!;
  }

  async stop(id: string): Promise<ChannelView> {
    this.calls.push(`stop:${id}`);
    const rt = this.require(id);
    rt.state = 'stopped';
    delete rt.publisher;
    return this.get(id)!;
  }

  async start(id: string): Promise<ChannelView> {
    this.calls.push(`start:${id}`);
    const rt = this.require(id);
    if (rt.state === 'stopped') rt.state = 'idle';
    return this.get(id)!;
  }

  async kick(id: string): Promise<ChannelView> {
    this.calls.push(`kick:${id}`);
    const rt = this.require(id);
    if (rt.publisher === undefined) throw new LivepipeError(ErrorCode.Conflict, `channel "${id}" has no publisher to kick`);
    delete rt.publisher;
    rt.state = 'reconnecting';
    return this.get(id)!;
  }

  /** Test hook: pretend a publisher is live on the channel. */
  simulatePublisher(id: string): void {
    const rt = this.require(id);
    rt.state = 'live';
    rt.publisher = { protocol: 'rtmp', remoteAddress: '127.0.0.1', since: new Date(0).toISOString(), bitrate: 3_000_000 };
  }

  private require(id: string): Runtime {
    if (!this.registry.has(id)) throw new LivepipeError(ErrorCode.NotFound, `no channel "${id}"`);
    let rt = this.runtime.get(id);
    if (rt === undefined) this.runtime.set(id, (rt = { state: 'idle', runId: 0, restarts: 0 }));
    return rt;
  }

  private view(spec: ChannelConfig): ChannelView {
    const rt = this.require(spec.id);
    const view: ChannelView = {
      id: spec.id,
      ladder: spec.ladder,
      state: rt.state,
      keyLast4: spec.key.slice(-4),
      transcoder: {
        state: rt.state === 'live' ? 'running' : 'idle',
        runId: rt.runId,
        restarts: rt.restarts,
        uptimeSeconds: 0,
        renditions: [],
        dropped: [],
      },
      urls: {
        playback: `http://127.0.0.1:8080/live/${spec.id}/master.m3u8`,
        rtmp: `rtmp://127.0.0.1:1935/live/${spec.id}`,
        ...(spec.srt ? { srt: `srt://127.0.0.1:${spec.srt.port ?? 9000}?streamid=${spec.id}` } : {}),
      },
    };
    if (rt.publisher !== undefined) view.publisher = rt.publisher;
    return view;
  }
}
