/**
 * Encoder failures never strand viewers (issue 15, point 1), on the real channel stack (`serve` in
 * this process: RTMP ingest, channel, supervisor, real ffmpeg, packager, filesystem storage, origin)
 * with a real ffmpeg publisher on the `low-latency` ladder. The encoder's ffmpeg is found in the
 * process list (a child of this process reading the feed on stdin and reporting `-progress`) and
 * SIGKILLed:
 * 1. once: restarted at once (the first restart of a series has no backoff), the playlists continue
 *    after a discontinuity with increasing media sequence numbers;
 * 2. again and again, each new run killed as soon as it exists: the channel stays `live` with its
 *    publisher (never `failed`), says it is crash-looping (view and metrics), keeps retrying, and after
 *    `encoderGiveUpSeconds` (4 s here) ends the stream: EXT-X-ENDLIST, no preload hint, and a blocking
 *    playlist request is answered with the ended playlist instead of waiting for a part;
 * 3. left alone: the encoder recovers and the same playlists continue after a discontinuity, media
 *    sequence numbers still increasing.
 * Every playlist fetched goes through the LL-HLS rule checker and the history checker. Restart
 * timings are measured and printed (the restart benchmark owns speed targets), not asserted.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelView } from '../../../src/channels/channel-service.js';
import type { MediaPlaylist } from '../../../src/hls/playlist-model.js';
import { parseMediaPlaylist } from '../../../src/hls/playlist-parser.js';
import { checkMediaPlaylist, checkRenditionSet, PlaylistHistoryChecker } from '../../helpers/hls/llhls-rules.js';
import { parsePrometheusText, sampleValue } from '../../helpers/observability/prometheus-text-parser.js';
import { getText, lastMsn, startServeFixture, type ServeFixture } from '../../helpers/serve/serve-fixture.js';
import { waitFor } from '../../helpers/wait.js';

const CHANNEL = 'crashy';
const KEY = 'crashy-key-0123456789';
const RENDITIONS = ['360p', 'audio'];
const GIVE_UP_SECONDS = 4;

interface Sample {
  at: number;
  rendition: string;
  model: MediaPlaylist;
  text: string;
}

/** Discontinuities so far (sequence + tags) and whether a part follows the last tag. */
function discontinuities(model: MediaPlaylist): { count: number; partAfterLast: boolean } {
  let count = model.discontinuitySequence;
  let partAfterLast = false;
  for (const s of model.segments) {
    if (s.discontinuity) {
      count++;
      partAfterLast = false;
    }
    if (s.parts.length > 0 || s.duration > 0) partAfterLast = true;
  }
  if (model.pending !== undefined) {
    if (model.pending.discontinuity) {
      count++;
      partAfterLast = false;
    }
    if (model.pending.parts.length > 0) partAfterLast = true;
  }
  return { count, partAfterLast };
}

/** The encoder ffmpeg of this process's serve: reads the feed on stdin and reports `-progress` (the publisher pushes RTMP). */
function encoderPids(): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child
  }
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && /\bffmpeg\b/.test(m[2]!) && m[2]!.includes('-progress') && !m[2]!.includes('rtmp://'))
    .map((m) => Number(m[1]));
}

/**
 * Polls every rendition's playlist until stopped, checking each with the rule and history checkers
 * once `check()` was called (the stream's first playlists, before every rendition has media and the
 * multivariant playlist exists, lack rendition reports).
 */
function monitor(serve: ServeFixture): { samples: Sample[]; violations: string[]; states: string[]; check(): void; stop(): Promise<void> } {
  const samples: Sample[] = [];
  const violations: string[] = [];
  const states: string[] = [];
  const history = new Map(RENDITIONS.map((r) => [r, new PlaylistHistoryChecker()]));
  let running = true;
  let checking = false;
  const loop = (async () => {
    while (running) {
      const texts: string[] = [];
      for (const rendition of RENDITIONS) {
        const { status, text } = await getText(`${serve.live(CHANNEL)}/${rendition}/playlist.m3u8`);
        if (status !== 200) continue;
        samples.push({ at: Date.now(), rendition, model: parseMediaPlaylist(text), text });
        if (!checking) continue;
        texts.push(text);
        const others = RENDITIONS.filter((r) => r !== rendition);
        for (const v of [...checkMediaPlaylist(text, { otherRenditions: others }), ...history.get(rendition)!.check(text)]) violations.push(`${rendition}: ${v}`);
      }
      if (texts.length === RENDITIONS.length) violations.push(...checkRenditionSet(texts));
      states.push(serve.state(CHANNEL) ?? 'none');
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    samples,
    violations,
    states,
    check: () => (checking = true),
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('a channel whose encoder keeps failing (real publisher, real ffmpeg)', () => {
  let serve: ServeFixture;
  let watch: ReturnType<typeof monitor>;
  const view = async (): Promise<ChannelView> => (await (await fetch(`${serve.apiBase}/api/v1/channels/${CHANNEL}`)).json()) as ChannelView;
  const latest = (rendition: string): Sample | undefined => watch.samples.filter((s) => s.rendition === rendition).at(-1);
  /** Waits for a sample of every rendition taken after `after` that satisfies `predicate`. */
  const allRenditions = (what: string, after: number, predicate: (m: MediaPlaylist, rendition: string) => boolean, timeoutMs = 45_000) =>
    waitFor(() => {
      const found = RENDITIONS.map((r) => latest(r));
      return found.every((s) => s !== undefined && s.at > after && predicate(s.model, s.rendition)) ? (found as Sample[]) : undefined;
    }, { message: what, timeoutMs: timeoutMs });
  /** Kills every encoder run as soon as it exists, until stopped; returns the pids killed. */
  const killer = (): { killed: Set<number>; stop(): Promise<void> } => {
    const killed = new Set<number>();
    let running = true;
    const loop = (async () => {
      while (running) {
        for (const pid of encoderPids()) {
          if (killed.has(pid)) continue;
          killed.add(pid);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // exited already
          }
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    return {
      killed,
      async stop() {
        running = false;
        await loop;
      },
    };
  };
  let crashLoop: ReturnType<typeof killer> | undefined;

  beforeAll(async () => {
    serve = await startServeFixture({
      reconnectGraceSeconds: 30,
      encoderGiveUpSeconds: GIVE_UP_SECONDS,
      channels: [{ id: CHANNEL, ladder: 'low-latency', key: KEY }],
    });
    serve.publish(serve.rtmpUrl(CHANNEL, KEY), 'flv', { seconds: 600 });
    watch = monitor(serve);
    await allRenditions('two segments in every rendition', 0, (m) => m.segments.length >= 2, 60_000);
    watch.check();
  });

  afterAll(async () => {
    await crashLoop?.stop();
    await watch?.stop();
    await serve?.close();
  });

  it('restarts a killed encoder at once and continues the playlists after a discontinuity', async () => {
    const [pid] = await waitFor(() => (encoderPids().length === 1 ? encoderPids() : undefined), { message: 'the encoder ffmpeg' });
    const before = new Map(RENDITIONS.map((r) => [r, discontinuities(latest(r)!.model).count]));
    const msnBefore = Math.max(...RENDITIONS.map((r) => lastMsn(latest(r)!.model)));
    const killedAt = Date.now();
    process.kill(pid!, 'SIGKILL');
    const newPid = await waitFor(() => encoderPids().find((p) => p !== pid), { message: 'the new encoder run' });
    const spawnedMs = Date.now() - killedAt;
    const resumed = await allRenditions('a part after a new discontinuity', killedAt, (m, rendition) => {
      const d = discontinuities(m);
      return d.partAfterLast && d.count > before.get(rendition)!;
    });
    const firstPartMs = Math.max(...resumed.map((s) => s.at)) - killedAt;
    // The service's own clock for the restart path: the run's exit seen → the next ffmpeg spawned.
    const logs = serve.logs.entries().filter((e) => e.channel === CHANNEL && e.component === 'transcoder');
    const exited = logs.find((e) => e.msg === 'ffmpeg run ended');
    const respawned = logs.filter((e) => e.msg === 'ffmpeg spawned').at(-1);
    console.log(
      `encoder SIGKILL: exit → new ffmpeg spawned ${Number(respawned?.time) - Number(exited?.time)} ms (service log); ` +
        `kill → new pid seen ${spawnedMs} ms, → a part of the new run in every rendition ${firstPartMs} ms (polled every 250/150 ms)`,
    );
    // The exit is handled before the new run is spawned, which reuses the working run's probe.
    expect(Number(respawned?.time)).toBeGreaterThanOrEqual(Number(exited?.time));
    expect(newPid).not.toBe(pid);
    for (const s of resumed) {
      expect(s.model.endList, s.rendition).toBe(false);
      expect(lastMsn(s.model), s.rendition).toBeGreaterThanOrEqual(msnBefore);
    }
    // No backoff before the first restart of a series.
    const restarting = serve.logs.entries().filter((e) => e.channel === CHANNEL && e.component === 'transcoder' && e.state === 'restarting');
    expect(restarting).toHaveLength(1);
    expect(restarting[0]!.reason).toMatch(/^ffmpeg killed by SIGKILL; restart in 0 ms$/);
    expect(serve.state(CHANNEL)).toBe('live');
    // While the encoder was down the playlists kept moving: the packager listed the held picture and
    // silence from the killed run's end until the new run's first init segment (its samples went
    // through the rule and in-step checks above like every other), in every rendition.
    const packagerLog = serve.logs.entries().filter((e) => e.channel === CHANNEL && e.component === 'packager').map((e) => String(e.msg));
    const bridgeFrom = packagerLog.findIndex((m) => m.startsWith('encoder down: bridging'));
    expect(bridgeFrom, 'gap bridge started').toBeGreaterThanOrEqual(0);
    const bridge = serve.logs.entries().filter((e) => e.channel === CHANNEL && e.component === 'packager' && String(e.msg).startsWith('encoder down: bridging'))[0]!;
    expect(bridge.gaps, 'renditions bridged with gap parts').toEqual([]);
    expect([...(bridge.filled as string[])].sort()).toEqual([...RENDITIONS].sort());
    expect(packagerLog.slice(bridgeFrom)).toContain('encoder back: gap bridge ended');
    const gapParts = watch.samples.filter((s) => s.at > killedAt).flatMap((s) => [...s.model.segments.flatMap((g) => g.parts), ...(s.model.pending?.parts ?? [])]).filter((p) => p.gap);
    expect(new Set(gapParts.map((p) => p.uri)), 'GAP parts listed while the encoder restarted').toEqual(new Set());
    // Healthy again once the new run has lived 5 s: the failure is over.
    const healthy = await waitFor(async () => {
      const v = await view();
      return v.transcoder.failingSeconds === undefined && v.transcoder.state === 'running' ? v : undefined;
    }, { message: 'the encoder healthy again', timeoutMs: 30_000 });
    expect(healthy).toMatchObject({ state: 'live', transcoder: { crashLooping: false, restarts: 1 } });
  });

  it('keeps a crash-looping encoder retrying with the channel live, then ends the stream so blocking requests are answered', async () => {
    const started = Date.now();
    let sawCrashLoop: ChannelView | undefined;
    let sawCrashLoopMetric = false;
    const ended = (): boolean => RENDITIONS.every((r) => latest(r)?.model.endList === true && latest(r)!.at > started);
    // Every new run dies as soon as it exists (until the end of this test, so that none reopens the
    // stream while it is checked).
    crashLoop = killer();
    const { killed } = crashLoop;
    while (!ended()) {
      expect(Date.now() - started, 'the stream to end').toBeLessThan(90_000);
      if (sawCrashLoop === undefined) {
        const v = await view();
        if (v.transcoder.crashLooping) sawCrashLoop = v;
      }
      if (!sawCrashLoopMetric) {
        const metrics = parsePrometheusText(await (await fetch(`${serve.apiBase}/metrics`)).text());
        sawCrashLoopMetric = sampleValue(metrics, 'livepipe_transcoder_crash_looping', { channel: CHANNEL }) === 1;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const endedAfterMs = Date.now() - started;
    console.log(`crash loop: ${killed.size} runs killed; stream ended ${endedAfterMs} ms after the first kill (give-up ${GIVE_UP_SECONDS} s)`);
    expect(killed.size).toBeGreaterThanOrEqual(3);
    expect(endedAfterMs).toBeGreaterThanOrEqual(GIVE_UP_SECONDS * 1000);

    // The channel said why while it kept retrying, and never failed with its publisher connected.
    expect(sawCrashLoop).toMatchObject({ state: 'live', stateReason: expect.stringMatching(/^encoder crash-looping: \d+ fast failures in a row/) });
    expect(sawCrashLoop!.transcoder.lastError).toBe('ffmpeg killed by SIGKILL');
    expect(sawCrashLoopMetric).toBe(true);
    expect(watch.states).not.toContain('failed');
    expect(serve.handle.ingest.feed(CHANNEL)).toBeDefined();
    const now = await view();
    expect(now.state).toBe('live');
    expect(now.stateReason).toMatch(/stream ended with EXT-X-ENDLIST; still retrying/);
    expect(now.transcoder.restarts).toBeGreaterThanOrEqual(killed.size);
    const metrics = parsePrometheusText(await (await fetch(`${serve.apiBase}/metrics`)).text());
    expect(sampleValue(metrics, 'livepipe_transcoder_restarts_total', { channel: CHANNEL })).toBeGreaterThanOrEqual(killed.size);

    // Ended cleanly: EXT-X-ENDLIST, no preload hint, and the rules hold.
    for (const rendition of RENDITIONS) {
      const { status, text } = await getText(`${serve.live(CHANNEL)}/${rendition}/playlist.m3u8`);
      expect(status).toBe(200);
      expect(text).toContain('#EXT-X-ENDLIST');
      expect(text).not.toContain('#EXT-X-PRELOAD-HINT');
      expect(checkMediaPlaylist(text, { otherRenditions: RENDITIONS.filter((r) => r !== rendition) })).toEqual([]);
      // A blocking request for the next part is answered with the ended playlist (§6.2.5.2), not held to 503.
      const next = lastMsn(parseMediaPlaylist(text)) + 1;
      const blocking = await getText(`${serve.live(CHANNEL)}/${rendition}/playlist.m3u8?_HLS_msn=${next}&_HLS_part=0`);
      expect(blocking.status, rendition).toBe(200);
      expect(blocking.text).toContain('#EXT-X-ENDLIST');
    }
    expect(watch.states).not.toContain('failed');
    await crashLoop.stop();
  });

  it('continues the same playlists after a discontinuity once the encoder works again, media sequence numbers increasing', async () => {
    await crashLoop?.stop();
    const endedModels = RENDITIONS.map((r) => watch.samples.filter((s) => s.rendition === r && s.model.endList).at(-1)!.model);
    const lastEnded = Math.max(...endedModels.map(lastMsn));
    const since = Date.now();
    const resumed = await allRenditions('new segments after the end', since, (m) => !m.endList && m.segments.filter((s) => s.msn > lastEnded).length >= 2, 60_000);
    for (const s of resumed) {
      const firstNew = s.model.segments.find((x) => x.msn > lastEnded)!;
      expect(firstNew.msn, s.rendition).toBe(lastEnded + 1);
      expect(firstNew.discontinuity, s.rendition).toBe(true);
      expect(s.text).toContain('#EXT-X-PRELOAD-HINT');
    }
    const healthy = await waitFor(async () => {
      const v = await view();
      return v.transcoder.failingSeconds === undefined && !v.transcoder.crashLooping ? v : undefined;
    }, { message: 'the encoder healthy again', timeoutMs: 30_000 });
    expect(healthy.state).toBe('live');
    expect(healthy.stateReason).toMatch(/^publishing over rtmp/);

    await watch.stop();
    expect(watch.violations).toEqual([]);
    expect(watch.states).not.toContain('failed');
    for (const rendition of RENDITIONS) {
      const series = watch.samples.filter((s) => s.rendition === rendition);
      expect(series.length, rendition).toBeGreaterThan(50);
      for (let i = 1; i < series.length; i++) {
        const [prev, next] = [series[i - 1]!.model, series[i]!.model];
        expect(next.mediaSequence, `${rendition} sample ${i}`).toBeGreaterThanOrEqual(prev.mediaSequence);
        expect(lastMsn(next), `${rendition} sample ${i}`).toBeGreaterThanOrEqual(lastMsn(prev));
        expect(next.discontinuitySequence, `${rendition} sample ${i}`).toBeGreaterThanOrEqual(prev.discontinuitySequence);
      }
    }
  });
});
