/**
 * Backup inputs and the slate (issue 14), through a real `serve`: an RTMP primary and an RTMP
 * backup (`role=backup`, same key) from ffmpeg, hls.js in Chromium playing all along, the LL-HLS
 * rule checker on every playlist read. The primary dies → the backup plays; both die → the slate
 * plays; the primary returns → it plays again; an operator forces the backup and the slate through
 * the ops API. Every switch is seamless: the encoder never restarts (one transcoder run), no
 * discontinuity, the media sequence only grows, no EXT-X-ENDLIST, PROGRAM-DATE-TIME not ahead of
 * the clock, and every switch starts a segment with a keyframe (ffprobe on the stored segments).
 * Then a pulled HLS source (the channel's own origin output) as another channel's backup, which
 * disappears and returns.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { livepipeEdgePdt } from '../helpers/hls/edge-pdt.js';
import { checkMediaPlaylist, PlaylistHistoryChecker } from '../helpers/hls/llhls-rules.js';
import { freePorts } from '../helpers/ports.js';
import { videoFrameStats } from '../helpers/transcode/media.js';
import { launchBrowser, startPlayer, type Player } from '../helpers/player/hls-player.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/notify/webhook-receiver.js';
import { parsePrometheusText, sampleValue } from '../helpers/observability/prometheus-text-parser.js';
import { getText, startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import type { Publisher } from '../helpers/ingest/media.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'inputs-key-0123456789';
const RENDITIONS = ['360p', 'audio'];
const INPUTS = { inputLossMs: 600, failbackSeconds: 2, slateSeconds: 120 };

interface Monitor {
  violations: string[];
  texts: string[];
  /** Per playlist read: how far the edge's PROGRAM-DATE-TIME was ahead of the wall clock (ms; negative: behind). */
  pdtLeads: number[];
  /** With `keepSegments`: the 360p init segment and every 360p segment listed, in media sequence order. */
  segments: Map<string, Buffer>;
  /** Every init segment (EXT-X-MAP) the 360p playlist named. */
  maps: Set<string>;
  stop(): Promise<void>;
}

/**
 * Reads every rendition's playlist until stopped; every text goes through the LL-HLS checks.
 * `keepSegments`: downloads the 360p rendition's segments as they are listed (they leave storage
 * soon after they leave the playlist).
 */
function monitor(serve: ServeFixture, channel: string, options: { keepSegments?: boolean } = {}): Monitor {
  const violations: string[] = [];
  const texts: string[] = [];
  const pdtLeads: number[] = [];
  const segments = new Map<string, Buffer>();
  const maps = new Set<string>();
  const history = new Map(RENDITIONS.map((r) => [r, new PlaylistHistoryChecker()]));
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const rendition of RENDITIONS) {
        const url = `${serve.live(channel)}/${rendition}/playlist.m3u8`;
        const { status, text } = await getText(url);
        if (status !== 200) continue;
        const edge = livepipeEdgePdt(text);
        if (edge !== undefined && rendition === '360p') pdtLeads.push(edge - Date.now());
        const mapUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
        if (mapUri !== undefined && rendition === '360p') maps.add(mapUri);
        texts.push(text);
        for (const v of [...checkMediaPlaylist(text), ...history.get(rendition)!.check(text)]) violations.push(`${rendition}: ${v}`);
        if (options.keepSegments && rendition === '360p') {
          const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
          const uris = [...(map !== undefined ? [map] : []), ...text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'))];
          for (const uri of uris) {
            if (segments.has(uri)) continue;
            const answer = await fetch(new URL(uri, url));
            if (answer.ok) segments.set(uri, Buffer.from(await answer.arrayBuffer()));
          }
        }
      }
      await new Promise((r) => setTimeout(r, 400));
    }
  })();
  return {
    violations,
    texts,
    pdtLeads,
    segments,
    maps,
    async stop() {
      running = false;
      await loop;
    },
  };
}

interface ColourSwitch {
  /** Presentation time of the first frame of the new input, s. */
  at: number;
  /** `grey`: the backup; `colour`: the primary or the slate (a dark blue card). */
  to: 'colour' | 'grey';
  /** That frame is a keyframe of the output. */
  key: boolean;
  /** That frame is the first of a stored segment. */
  startsSegment: boolean;
}

/**
 * Where the stored 360p segments switch between a colour input (the primary) and a grey one (the
 * backup, `hue=s=0`): ffprobe on the init segment and the segments concatenated, frame by frame
 * (saturation and keyframe flag), and each segment's first frame (a packet's byte position says
 * which segment it is in).
 */
async function colourSwitches(segments: Map<string, Buffer>): Promise<ColourSwitch[]> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-inputs-'));
  try {
    const file = join(dir, '360p.mp4');
    const parts = [...segments.values()];
    await writeFile(file, Buffer.concat(parts));
    const frames = await videoFrameStats(file);
    // Byte offsets of the segments (parts[0] is the init segment).
    const offsets: number[] = [];
    for (let i = 0, at = 0; i < parts.length; at += parts[i]!.length, i++) if (i > 0) offsets.push(at);
    const packets = await promisify(execFile)('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,pos', '-of', 'csv=p=0', file], { maxBuffer: 64 * 1024 * 1024 });
    const firstPts = new Map<number, number>();
    for (const line of packets.stdout.trim().split('\n')) {
      const [pts, pos] = line.split(',').map(Number);
      if (pts === undefined || pos === undefined || Number.isNaN(pts) || Number.isNaN(pos)) continue;
      const segment = offsets.findLastIndex((o) => o <= pos);
      if (segment >= 0 && pts < (firstPts.get(segment) ?? Infinity)) firstPts.set(segment, pts);
    }
    const starts = new Set([...firstPts.values()].map((pts) => pts.toFixed(3)));
    const grey = (f: { saturation: number }) => f.saturation < 10;
    return frames.flatMap((f, i) =>
      i > 0 && grey(f) !== grey(frames[i - 1]!)
        ? [{ at: f.pts, to: grey(f) ? 'grey' : 'colour', key: f.key, startsSegment: starts.has(f.pts.toFixed(3)) }]
        : [],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The distinct sizes of the decoded video frames of the init segment and segments concatenated. */
async function frameSizes(segments: Map<string, Buffer>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'livepipe-inputs-'));
  try {
    const file = join(dir, '360p.mp4');
    await writeFile(file, Buffer.concat([...segments.values()]));
    const { stdout } = await promisify(execFile)('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=width,height', '-of', 'csv=p=0:s=x', file], { maxBuffer: 64 * 1024 * 1024 });
    // One `WxH` per frame (a frame with side data adds a separator after it).
    return [...new Set(stdout.split('\n').flatMap((l) => /^\d+x\d+/.exec(l)?.[0] ?? []))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('backup input and slate (serve)', () => {
  let serve: ServeFixture;
  let browser: Browser;
  let player: Player | undefined;
  let hooks: WebhookReceiver;
  const publishers: Publisher[] = [];

  const view = async (id = 'tv') => (await serve.api('GET', `/api/v1/channels/${id}`)).json;
  const waitActive = (input: string, id = 'tv') =>
    waitFor(async () => ((await view(id))?.input?.active === input ? true : undefined), { timeoutMs: 30_000, message: `${id} plays ${input}` });
  const lastMsn = async (id = 'tv') => ((await view(id))?.mediaSequence as number | undefined) ?? -1;
  const advances = async (id = 'tv') => {
    const from = await lastMsn(id);
    await waitFor(async () => ((await lastMsn(id)) >= from + 2 ? true : undefined), { timeoutMs: 20_000, message: `${id} keeps publishing segments` });
  };
  const publishPrimary = () => serve.publish(serve.rtmpUrl('tv', KEY), 'flv', { seconds: 600 });
  /**
   * Grey (`hue=s=0`), so that its frames can be told from the primary's in the stored segments; and
   * 320x240 (the primary is 640x360): inputs of another size and shape reach the same encoder run.
   */
  const publishBackup = () => serve.publish(`${serve.rtmpUrl('tv', KEY)}&role=backup`, 'flv', { seconds: 600, video: { size: '320x240', rate: 30 }, outputOptions: ['-vf', 'hue=s=0'] });

  beforeAll(async () => {
    hooks = await startWebhookReceiver();
    serve = await startServeFixture({ channels: [{ id: 'tv', key: KEY, ladder: 'constrained', inputs: INPUTS }], webhooks: [{ url: hooks.url, secret: 'inputs-webhook-secret-0123' }] });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await player?.close();
    await browser?.close();
    for (const p of publishers) await p.stop();
    await serve?.close();
    await hooks?.close();
  });

  it('switches primary → backup → slate → primary and on operator command, seamlessly, while hls.js plays', async () => {
    let primary = publishPrimary();
    let backup = publishBackup();
    await waitActive('primary');
    await waitFor(async () => ((await view())?.input?.inputs?.find((i: { role: string; healthy: boolean }) => i.role === 'backup')?.healthy ? true : undefined), {
      timeoutMs: 30_000,
      message: 'backup healthy',
    });
    await advances();
    const watch = monitor(serve, 'tv', { keepSegments: true });
    player = await startPlayer(browser, `${serve.live('tv')}/master.m3u8`);
    // Chromium starts slowly on a loaded machine: a generous wait, then the player must be playing.
    const warm = await player.waitFor((s) => s.currentTime > 1, 90_000);
    expect(warm.currentTime, `player did not start: ${JSON.stringify(warm.fatalErrors)}`).toBeGreaterThan(1);

    // The primary dies: the backup takes over.
    await primary.stop();
    await waitActive('backup');
    await advances();
    // Both die: the slate.
    await backup.stop();
    await waitActive('slate');
    await advances();
    expect((await view()).state).toBe('live');
    // The primary returns: back to it.
    primary = publishPrimary();
    await waitActive('primary');
    await advances();

    // Operator: the backup is not connected → 409; once it is, a forced switch there and to the slate.
    expect((await serve.api('POST', '/api/v1/channels/tv/input', { input: 'backup' })).status).toBe(409);
    backup = publishBackup();
    await waitFor(async () => ((await view())?.input?.inputs?.find((i: { role: string; healthy: boolean }) => i.role === 'backup')?.healthy ? true : undefined), {
      timeoutMs: 30_000,
      message: 'backup healthy again',
    });
    // A forced switch waits for the encoder's next forced keyframe (at most one GOP): `pending` until then.
    const playsOrPends = (answer: { json: { input: { active: string; pending?: string } } }) => answer.json.input.pending ?? answer.json.input.active;
    const forced = await serve.api('POST', '/api/v1/channels/tv/input', { input: 'backup' });
    expect(forced.status).toBe(200);
    expect(playsOrPends(forced)).toBe('backup');
    expect(forced.json.input.forced).toBe('backup');
    await waitActive('backup');
    await advances();
    expect(playsOrPends(await serve.api('POST', '/api/v1/channels/tv/input', { input: 'slate' }))).toBe('slate');
    await waitActive('slate');
    await advances();
    expect(playsOrPends(await serve.api('POST', '/api/v1/channels/tv/input', { input: 'primary' }))).toBe('primary');
    await waitActive('primary');
    await advances();
    expect((await serve.api('POST', '/api/v1/channels/tv/input', { input: 'bogus' })).status).toBe(400);

    const stats = await player.stats();
    await watch.stop();
    publishers.push(primary, backup);

    const final = await view();
    // One encoder run through every switch: none restarted the encoder.
    expect(final.transcoder.runId).toBe(1);
    expect(final.input.switches).toBeGreaterThanOrEqual(6);
    expect(watch.violations).toEqual([]);
    expect(watch.texts.some((t) => t.includes('#EXT-X-ENDLIST'))).toBe(false);
    expect(watch.texts.some((t) => t.includes('#EXT-X-DISCONTINUITY\n'))).toBe(false);
    expect(stats.fatalErrors).toEqual([]);
    expect(stats.currentTime).toBeGreaterThan(warm.currentTime + 10);

    // Visible state: the API's inputs with their health, the metrics, the log lines and the webhooks.
    expect(final.input.active).toBe('primary');
    expect(final.input.inputs).toMatchObject([
      { role: 'primary', kind: 'rtmp', connected: true, healthy: true },
      { role: 'backup', kind: 'rtmp', connected: true, healthy: true },
    ]);
    // Counted per connection: the primary's second publisher was selected twice (after the slate,
    // and by the operator), the backup's second once (by the operator).
    expect(final.input.inputs.map((i: { activations: number }) => i.activations)).toEqual([2, 1]);
    const metrics = parsePrometheusText((await getText(`${serve.apiBase}/metrics`)).text);
    const metric = (name: string, labels: Record<string, string>) => sampleValue(metrics, name, { channel: 'tv', ...labels });
    expect(metric('livepipe_channel_active_input', { input: 'primary' })).toBe(1);
    expect(metric('livepipe_channel_active_input', { input: 'backup' })).toBe(0);
    expect(metric('livepipe_channel_active_input', { input: 'slate' })).toBe(0);
    expect(metric('livepipe_channel_input_healthy', { input: 'primary' })).toBe(1);
    expect(metric('livepipe_channel_input_healthy', { input: 'backup' })).toBe(1);
    expect(metric('livepipe_channel_input_switches_total', { from: 'primary', to: 'backup' })).toBeGreaterThanOrEqual(1);
    expect(metric('livepipe_channel_input_switches_total', { from: 'backup', to: 'slate' })).toBeGreaterThanOrEqual(2);
    expect(metric('livepipe_channel_input_switches_total', { from: 'slate', to: 'primary' })).toBeGreaterThanOrEqual(2);
    const switchLines = serve.logs.entries().filter((l) => l.msg === 'input switched');
    expect(switchLines.length).toBeGreaterThanOrEqual(6);
    const switchHooks = await waitFor(() => {
      const got = hooks.received.filter((d) => d.event.type === 'input.switched').map((d) => d.event.data);
      return got.length >= switchLines.length ? got : undefined;
    }, { timeoutMs: 20_000, message: 'an input.switched webhook per switch' });
    expect(switchHooks.length).toBe(final.input.switches);
    expect(switchHooks).toEqual(switchLines.map((l) => ({ channel: 'tv', from: l.from, to: l.to, reason: l.reason, kind: 'seamless' })));
    // The automatic switches (their exact path depends on the load: a backup a little late when the
    // primary goes is skipped for the slate until it is healthy again), then the operator's.
    const automatic = switchHooks.filter((h) => h.reason !== 'operator');
    expect(automatic, JSON.stringify(switchHooks)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ from: 'primary', reason: expect.stringMatching(/^input-(lost|ended)$/) }),
        expect.objectContaining({ from: 'backup', to: 'slate', reason: expect.stringMatching(/^input-(lost|ended)$/) }),
        expect.objectContaining({ from: 'slate', to: 'primary', reason: 'input-returned' }),
      ]),
    );
    expect(switchHooks.filter((h) => h.reason === 'operator').map((h) => h.to)).toEqual(['backup', 'slate', 'primary']);
    expect(Math.max(...watch.pdtLeads), JSON.stringify(watch.pdtLeads.map(Math.round))).toBeLessThan(300);

    // Every switch waits for the encoder's next forced keyframe — after the lost primary and the lost
    // backup too, the output filled meanwhile with the lost input's last keyframe and silence — so
    // the first frame of the new input is a keyframe of the output and the first of a segment. Told
    // apart in the stored segments: the lost primary → the grey backup, the lost backup → the slate
    // (colour), the forced backup, the forced slate (slate ↔ primary are both colour).
    const switches = await colourSwitches(watch.segments);
    expect(switches.length, JSON.stringify(switches)).toBeGreaterThanOrEqual(4);
    // The 320x240 backup changed the rendition neither in size nor in codec parameters: one init
    // segment all along, every decoded frame one size (and no DISCONTINUITY, above). The size is
    // 640x360 — or 320x240 when the backup's publisher got in first: the ladder never upscales, and
    // its run is sized on the first input it probes.
    expect([...watch.maps]).toHaveLength(1);
    const sizes = await frameSizes(watch.segments);
    expect(sizes).toHaveLength(1);
    expect(['640x360', '320x240']).toContain(sizes[0]);
    // Exact also where the new input has another size: the x264 graph is kept across the size change
    // (`-reinit_filter:v 0`). A rebuilt graph lost the frame its `fps` filter held (the old input's
    // last), and the constant-frame-rate output filled that slot with the new input's first picture,
    // a P-frame one frame before the keyframe (docs/inputs.md).
    expect(switches.filter((s) => !(s.key && s.startsSegment)), JSON.stringify(switches)).toEqual([]);
  }, 300_000);

  it('pulls an HLS source as a backup (channels made through the API), and follows it when it disappears and returns', async () => {
    for (const p of publishers.splice(0)) await p.stop();
    await player?.close();
    player = undefined;
    expect((await serve.api('DELETE', '/api/v1/channels/tv')).status).toBe(204);
    // The pulled source: another channel's own LL-HLS output.
    expect((await serve.api('POST', '/api/v1/channels', { id: 'src', key: `${KEY}-src`, ladder: 'constrained' })).status).toBe(201);
    let source = serve.publish(serve.rtmpUrl('src', `${KEY}-src`), 'flv', { seconds: 600 });
    await waitFor(async () => ((await lastMsn('src')) >= 2 ? true : undefined), { timeoutMs: 60_000, message: 'src publishes' });
    const relayInputs = { ...INPUTS, inputLossMs: 1000, backupSource: `${serve.live('src')}/master.m3u8` };
    const created = await serve.api('POST', '/api/v1/channels', { id: 'relay', key: `${KEY}-relay`, ladder: 'constrained', inputs: relayInputs });
    expect(created.status).toBe(201);
    const relayPrimary = serve.publish(serve.rtmpUrl('relay', `${KEY}-relay`), 'flv', { seconds: 600 });
    await waitActive('primary', 'relay');
    const pulledHealthy = () =>
      waitFor(async () => ((await view('relay'))?.input?.inputs?.find((i: { role: string; healthy: boolean; kind: string }) => i.role === 'backup' && i.kind === 'pull')?.healthy ? true : undefined), {
        timeoutMs: 60_000,
        message: 'the pulled backup is healthy',
      });
    await pulledHealthy();
    const watch = monitor(serve, 'relay');
    await advances('relay');
    const master = `${serve.live('relay')}/master.m3u8`;
    await waitFor(async () => ((await getText(master)).status === 200 ? true : undefined), { timeoutMs: 30_000, message: 'relay master served' }).catch(async (err: Error) => {
      const audio = (await getText(`${serve.live('relay')}/audio/playlist.m3u8`)).text;
      const video = (await getText(`${serve.live('relay')}/360p/playlist.m3u8`)).text;
      const lines = serve.logs.entries().filter((l) => l.channel === 'relay').map((l) => `${l.time} ${l.msg} ${l.from ?? ''}>${l.to ?? ''} ${l.why ?? l.err ?? ''}`);
      throw new Error(`${err.message}\n${JSON.stringify((await view('relay')).input)}\n${audio}\n${video}\n${lines.join('\n')}`);
    });
    player = await startPlayer(browser, master);
    const warm = await player.waitFor((s) => s.currentTime > 1, 90_000);
    expect(warm.currentTime, `player did not start: ${JSON.stringify(warm.fatalErrors)}`).toBeGreaterThan(1);

    await relayPrimary.stop();
    await waitActive('backup', 'relay');
    await advances('relay');
    // The pulled source disappears (its publisher stops): the slate; it returns: the backup again.
    await source.stop();
    await waitActive('slate', 'relay');
    source = serve.publish(serve.rtmpUrl('src', `${KEY}-src`), 'flv', { seconds: 600 });
    await waitActive('backup', 'relay');
    await advances('relay');
    // hls.js plays through the switch to the pulled backup, the slate and back.
    const played = await player.waitFor((s) => s.currentTime > warm.currentTime + 8, 60_000);
    await watch.stop();
    publishers.push(source);
    expect(played.fatalErrors).toEqual([]);
    expect(played.currentTime).toBeGreaterThan(warm.currentTime + 8);

    const relay = await view('relay');
    expect(relay.transcoder.runId).toBe(1);
    expect(relay.input.inputs.find((i: { role: string }) => i.role === 'backup').kind).toBe('pull');
    expect(watch.violations).toEqual([]);
    expect(watch.texts.some((t) => t.includes('#EXT-X-ENDLIST'))).toBe(false);
  }, 300_000);

  /**
   * Issue 14's open points: an SRT primary (its MPEG-TS remuxed to FLV for the selector) and an SRT
   * backup on the channel's second listener (`srt.backupPort`), grey (`hue=s=0`) so that its frames
   * can be told from the primary's in the stored segments. The primary dies → the backup's frames;
   * it returns → failback. hls.js plays through, every playlist passes the rule checker, the edge's
   * PROGRAM-DATE-TIME never runs ahead of the clock, and ffprobe finds a keyframe starting a segment
   * at the first frame of the backup and of the returning primary (both switches land on the
   * encoder's forced keyframes).
   */
  it('switches an SRT primary to an SRT backup and back, both switches on a keyframe, PDT on the clock', async () => {
    for (const p of publishers.splice(0)) await p.stop();
    await player?.close();
    player = undefined;
    for (const id of ['relay', 'src']) await serve.api('DELETE', `/api/v1/channels/${id}`);
    const passphrase = 'inputs-srt-passphrase';
    const [port, backupPort] = await freePorts(2, 'udp');
    const created = await serve.api('POST', '/api/v1/channels', { id: 'srtv', key: `${KEY}-srtv`, ladder: 'constrained', inputs: { ...INPUTS, inputLossMs: 1000 }, srt: { port, passphrase, backupPort } });
    expect(created.status).toBe(201);
    await waitFor(() => ((serve.handle.ingest.srt?.listening().filter((l) => l.channel === 'srtv').length ?? 0) === 2 ? true : undefined), { message: 'both SRT listeners armed' });
    const publishPrimary = () => serve.publish(serve.srtUrl(port!, passphrase, 'srtv'), 'mpegts', { seconds: 600 });
    let primary = publishPrimary();
    const backup = serve.publish(serve.srtUrl(backupPort!, passphrase, 'srtv'), 'mpegts', { seconds: 600, outputOptions: ['-vf', 'hue=s=0'] });
    publishers.push(backup);
    await waitActive('primary', 'srtv');
    await waitFor(async () => ((await view('srtv'))?.input?.inputs?.find((i: { role: string; healthy: boolean; kind: string }) => i.role === 'backup' && i.kind === 'srt')?.healthy ? true : undefined), {
      timeoutMs: 30_000,
      message: 'SRT backup healthy',
    });
    const watch = monitor(serve, 'srtv', { keepSegments: true });
    await advances('srtv');
    player = await startPlayer(browser, `${serve.live('srtv')}/master.m3u8`);
    const warm = await player.waitFor((s) => s.currentTime > 1, 90_000);
    expect(warm.currentTime, `player did not start: ${JSON.stringify(warm.fatalErrors)}`).toBeGreaterThan(1);

    await primary.stop();
    await waitActive('backup', 'srtv');
    await advances('srtv');
    primary = publishPrimary();
    publishers.push(primary);
    await waitActive('primary', 'srtv');
    const storedAtFailback = watch.segments.size;
    await advances('srtv');
    // The monitor stores segments as it reads them listed (every 400 ms, slower under load): until
    // it holds a few past the failback, the failback's segment may be missing.
    await waitFor(() => (watch.segments.size >= storedAtFailback + 3 ? true : undefined), { timeoutMs: 30_000, message: 'segments after the failback stored' });
    const stats = await player.stats();
    await watch.stop();

    const final = await view('srtv');
    expect(final.transcoder.runId).toBe(1);
    expect(final.input.inputs.map((i: { kind: string }) => i.kind)).toEqual(['srt', 'srt']);
    // Two switches at least (three when the backup's publisher got in first and played until the primary's failback).
    const lines = serve.logs.entries().filter((l) => l.msg === 'input switched' && l.channel === 'srtv');
    expect(final.input.switches, JSON.stringify(lines)).toBeGreaterThanOrEqual(2);
    expect(watch.violations).toEqual([]);
    expect(watch.texts.some((t) => t.includes('#EXT-X-ENDLIST') || t.includes('#EXT-X-DISCONTINUITY\n'))).toBe(false);
    expect(stats.fatalErrors).toEqual([]);
    // PROGRAM-DATE-TIME follows the clock: the edge is never ahead of it (a part is listed once it
    // is complete; 300 ms for PDT's millisecond rounding and the reads' own timing).
    expect(Math.max(...watch.pdtLeads), `${JSON.stringify(watch.pdtLeads.map(Math.round))} ${JSON.stringify(lines.map((l) => [l.time, l.from, l.to]))}`).toBeLessThan(300);

    // The stored 360p segments around both switches: colour (primary) → grey (backup) → colour.
    // Both wait for the encoder's forced keyframe — the failback with the backup playing up to it,
    // the switch after the loss with the primary's last keyframe repeated and silence — so the first
    // frame of the new input is a keyframe of the output and starts a segment.
    const switches = await colourSwitches(watch.segments);
    expect(switches.slice(-2), JSON.stringify(switches)).toMatchObject([
      { to: 'grey', key: true, startsSegment: true },
      { to: 'colour', key: true, startsSegment: true },
    ]);
  }, 300_000);
});
