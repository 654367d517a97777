/**
 * Real playback for tests and benchmarks: hls.js (low-latency mode) inside Debian's Chromium, driven
 * by playwright-core. A tiny loopback server serves the player page and hls.js itself; the stream is
 * fetched cross-origin from whatever server is under test (so CORS is exercised too).
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.LIVEPIPE_CHROMIUM ?? '/usr/bin/chromium';

/** What the page records; read with `Player.stats()`. */
export interface PlayerStats {
  /** Seconds of media played (video.currentTime). */
  currentTime: number;
  /** `Date.now() - hls.playingDate` in seconds, sampled now; NaN before playback starts. */
  latency: number;
  /** All latency samples taken once per 250 ms while playing. */
  latencySamples: number[];
  levels: Array<{ width: number; height: number; bitrate: number; codecs: string }>;
  currentLevel: number;
  /** Media requests the player completed, by kind (hls.js FRAG_LOADED with or without `part`). */
  partsLoaded: number;
  fragmentsLoaded: number;
  fatalErrors: string[];
  nonFatalErrors: string[];
  /** True once the playlist advertised parts (hls.js details.partList). */
  sawParts: boolean;
  /** Times the video element reported `waiting` after playback had started. */
  stalls: number;
  /** Wall-clock ms spent stalled after playback had started. */
  stalledMs: number;
  paused: boolean;
  /**
   * hls.js's live target latency, s: PART-HOLD-BACK (or HOLD-BACK) plus 1 s per buffer stall it saw
   * (capped at TARGETDURATION): a player that stalled while starting keeps that second for good.
   */
  targetLatency: number;
  /** EXT-X-DATERANGEs hls.js parsed (the latest LEVEL_UPDATED details' `dateRanges`), by ID. */
  dateRanges: Array<{ id: string; startDate: number; plannedDuration?: number; duration?: number; scte35Out?: string; scte35In?: string }>;
  /** hls.js's audio tracks (EXT-X-MEDIA TYPE=AUDIO) and the selected one. */
  audioTracks: Array<{ name: string; lang?: string; default: boolean; autoselect: boolean }>;
  audioTrack: number;
  /** The video element's text tracks (hls.js renders CEA-608 captions there): cue texts seen so far. */
  textTracks: Array<{ kind: string; label: string; language: string; cues: string[] }>;
  /** Wall-clock ms (Date.now()) when the page asked the player to load the stream. */
  loadStartedAtMs: number;
  /** Wall-clock ms of the first `playing` event (first frame); NaN before. */
  firstFrameAtMs: number;
  /** The first latency sample (s), taken at the first frame: where the player positioned itself. */
  startLatency: number;
  /** video.playbackRate now (a live-sync catch-up runs above 1). */
  playbackRate: number;
  /**
   * Bytes of audio and of video the element has decoded so far (Chromium's
   * `webkitAudioDecodedByteCount` / `webkitVideoDecodedByteCount`): both grow when both tracks play,
   * whether they come from an audio group or muxed in the variant's own media.
   */
  decodedBytes: { audio: number; video: number };
  /** The video element's buffered ranges now, s (hls.js harness only: what a stall sat in front of). */
  buffered?: Array<[number, number]>;
  /** The last few main media loads, oldest first: `sn.part cc` (hls.js harness only; for diagnosing stalls). */
  recentLoads?: string[];
  /**
   * At each stall, how much media each SourceBuffer held ahead of the playhead, s (hls.js harness
   * only): which track ran out — e.g. audio that a publisher's muxer sends in batches.
   */
  stallBuffers?: Array<{ at: number; audioAhead?: number; videoAhead?: number; audioListedAhead?: number; videoListedAhead?: number }>;
}

/** One HTTP request the page made, in wall-clock ms (see `Player.requests`). */
export interface TracedRequest {
  url: string;
  startedAtMs: number;
  /** When the response body finished (or the request failed); NaN while in flight. */
  finishedAtMs: number;
  status: number;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>livepipe test player</title>
<video id="v" muted autoplay playsinline style="width:640px"></video>
<script src="/hls.js"></script>
<script>
window.lp = { dateRanges: [], latencySamples: [], partsLoaded: 0, fragmentsLoaded: 0, fatalErrors: [], nonFatalErrors: [],
  sawParts: false, stalls: 0, stalledMs: 0, started: false, waitingSince: 0, loadStartedAtMs: NaN, firstFrameAtMs: NaN, startLatency: NaN, recentLoads: [], stallBuffers: [], log: [] };
window.startPlayback = (url, config) => {
  const video = document.getElementById('v');
  config = Object.assign({}, config || {});
  if (config.captureLog) {
    // hls.js's own log lines, kept in a ring (see Player.logTail): why a player did what it did.
    delete config.captureLog;
    const keep = (level) => (...args) => {
      lp.log.push((Date.now() % 100000 / 1000).toFixed(3) + ' ' + level + ' ' + args.map(String).join(' '));
      if (lp.log.length > 20000) lp.log.shift();
    };
    config.debug = { log: keep('log'), info: keep('info'), warn: keep('warn'), error: keep('error'), debug: keep('debug'), trace: () => {} };
  }
  const hls = new Hls(Object.assign({ lowLatencyMode: true, backBufferLength: 30 }, config));
  window.hls = hls;
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => {
    if (d.part) lp.partsLoaded++; else lp.fragmentsLoaded++;
    if (d.frag.type === 'main') {
      lp.recentLoads.push(d.frag.sn + (d.part ? '.' + d.part.index : '') + ' cc' + d.frag.cc + (d.frag.gap ? ' gap' : ''));
      if (lp.recentLoads.length > 12) lp.recentLoads.shift();
    }
  });
  hls.on(Hls.Events.LEVEL_UPDATED, (_e, d) => {
    if (d.details.partList && d.details.partList.length) lp.sawParts = true;
    const ranges = d.details.dateRanges || {};
    lp.dateRanges = Object.keys(ranges).map((id) => {
      const r = ranges[id];
      return { id, startDate: r.startDate.getTime(), plannedDuration: r.plannedDuration ?? undefined, duration: r.duration ?? undefined,
        scte35Out: r.attr['SCTE35-OUT'], scte35In: r.attr['SCTE35-IN'] };
    });
  });
  video.textTracks.addEventListener('addtrack', (e) => {
    const track = e.track;
    track.mode = 'hidden'; // cues are loaded (and listed) without being drawn
  });
  hls.on(Hls.Events.ERROR, (_e, d) => {
    const text = d.type + '/' + d.details + (d.response ? ' ' + d.response.code : '') + (d.reason ? ' ' + d.reason : '');
    (d.fatal ? lp.fatalErrors : lp.nonFatalErrors).push(text);
  });
  video.addEventListener('playing', () => {
    if (!lp.started) {
      lp.firstFrameAtMs = Date.now();
      if (hls.playingDate) lp.startLatency = (Date.now() - hls.playingDate.getTime()) / 1000;
    }
    lp.started = true;
    if (lp.waitingSince) { lp.stalledMs += performance.now() - lp.waitingSince; lp.waitingSince = 0; }
  });
  video.addEventListener('waiting', () => {
    if (!lp.started) return;
    lp.stalls++;
    lp.waitingSince = performance.now();
    // What ran out: each SourceBuffer's media ahead of the playhead (hls.js's own buffer controller).
    const ahead = (type) => {
      const track = hls.bufferController && hls.bufferController.tracks && hls.bufferController.tracks[type];
      const b = track && track.buffer && track.buffer.buffered;
      return b && b.length ? +(b.end(b.length - 1) - video.currentTime).toFixed(3) : undefined;
    };
    // And how far each playlist hls.js holds lists beyond the playhead (its LevelDetails' edge).
    const listed = (details) => (details && typeof details.edge === 'number' ? +(details.edge - video.currentTime).toFixed(3) : undefined);
    const audioDetails = hls.audioTracks && hls.audioTracks[hls.audioTrack] && hls.audioTracks[hls.audioTrack].details;
    const videoDetails = hls.levels && hls.levels[hls.currentLevel] && hls.levels[hls.currentLevel].details;
    lp.stallBuffers.push({ at: Date.now(), audioAhead: ahead('audio'), videoAhead: ahead('video'), audioListedAhead: listed(audioDetails), videoListedAhead: listed(videoDetails) });
  });
  setInterval(() => {
    if (hls.playingDate && !video.paused && video.readyState >= 3) lp.latencySamples.push((Date.now() - hls.playingDate.getTime()) / 1000);
  }, 250);
  lp.loadStartedAtMs = Date.now();
  hls.loadSource(url);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch(() => {}); });
};
// What the video element plays, heard through Web Audio (unmuted into a silent gain): the strongest
// frequency now. The first call starts listening; the analyser needs a few hundred ms of sound.
window.listenTone = () => {
  const video = document.getElementById('v');
  if (!lp.analyser) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    const silent = ctx.createGain();
    silent.gain.value = 0;
    ctx.createMediaElementSource(video).connect(analyser);
    analyser.connect(silent);
    silent.connect(ctx.destination);
    video.muted = false;
    lp.analyser = analyser;
    lp.audioContext = ctx;
    ctx.resume();
  }
  const bins = new Float32Array(lp.analyser.frequencyBinCount);
  lp.analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { hz: (best * lp.audioContext.sampleRate) / lp.analyser.fftSize, db: bins[best], state: lp.audioContext.state };
};
window.readLog = () => lp.log.slice();
window.readStats = () => {
  const video = document.getElementById('v');
  const hls = window.hls;
  return {
    currentTime: video.currentTime,
    latency: hls && hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : NaN,
    latencySamples: lp.latencySamples.slice(),
    levels: hls ? hls.levels.map((l) => ({ width: l.width, height: l.height, bitrate: l.bitrate, codecs: l.codecSet || ((l.videoCodec || '') + ',' + (l.audioCodec || '')) })) : [],
    currentLevel: hls ? hls.currentLevel : -1,
    partsLoaded: lp.partsLoaded, fragmentsLoaded: lp.fragmentsLoaded,
    fatalErrors: lp.fatalErrors.slice(), nonFatalErrors: lp.nonFatalErrors.slice(),
    sawParts: lp.sawParts, stalls: lp.stalls,
    stalledMs: lp.stalledMs + (lp.waitingSince ? performance.now() - lp.waitingSince : 0),
    paused: video.paused,
    targetLatency: hls && typeof hls.targetLatency === 'number' ? hls.targetLatency : NaN,
    dateRanges: lp.dateRanges.slice(),
    audioTracks: hls ? hls.audioTracks.map((t) => ({ name: t.name, lang: t.lang, default: !!t.default, autoselect: !!t.autoselect })) : [],
    audioTrack: hls ? hls.audioTrack : -1,
    textTracks: Array.from(video.textTracks).map((t) => ({ kind: t.kind, label: t.label, language: t.language,
      cues: t.cues ? Array.from(t.cues).map((c) => c.text) : [] })),
    loadStartedAtMs: lp.loadStartedAtMs, firstFrameAtMs: lp.firstFrameAtMs, startLatency: lp.startLatency,
    playbackRate: video.playbackRate,
    decodedBytes: { audio: video.webkitAudioDecodedByteCount || 0, video: video.webkitVideoDecodedByteCount || 0 },
    buffered: Array.from({ length: video.buffered.length }, (_, i) => [video.buffered.start(i), video.buffered.end(i)]),
    recentLoads: lp.recentLoads.slice(),
    stallBuffers: lp.stallBuffers.slice(),
  };
};
</script>`;

export interface Player {
  page: Page;
  stats(): Promise<PlayerStats>;
  /** Force a level (rendition) by index, as a user picking a quality would (`hls.currentLevel = i`). */
  setLevel(index: number): Promise<void>;
  /** Polls stats until `predicate` holds or `timeoutMs` passes; returns the last stats either way. */
  waitFor(predicate: (s: PlayerStats) => boolean, timeoutMs: number): Promise<PlayerStats>;
  /** Every request the page made to other origins (the stream), in order, with wall-clock times. */
  requests(): TracedRequest[];
  /** The player's own log lines kept so far (hls.js started with `captureLog: true`; else none). */
  logTail(): Promise<string[]>;
  close(): Promise<void>;
}

export interface PlayerOptions {
  /**
   * Extra hls.js config merged over `{ lowLatencyMode: true }`. `captureLog: true` (not an hls.js
   * option) keeps hls.js's debug log in the page for `logTail`.
   */
  hlsConfig?: Record<string, unknown>;
}

/**
 * A loopback server for a player page: `html` at any path, and each `scripts` path (e.g. `/hls.js`)
 * answered with the file an npm module path resolves to (e.g. `hls.js/dist/hls.min.js`).
 */
async function servePage(html: string, scripts: Record<string, string>): Promise<{ server: Server; origin: string }> {
  const require = createRequire(import.meta.url);
  const bodies = new Map<string, Buffer>();
  for (const [path, modulePath] of Object.entries(scripts)) bodies.set(path, await readFile(require.resolve(modulePath)));
  const server = createServer((req, res) => {
    const script = bodies.get(req.url ?? '');
    if (script) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** The hls.js player: what every player does, plus hls.js's own controls. */
export interface HlsPlayer extends Player {
  /** Switches the audio track by index, as a user picking a language would (`hls.audioTrack = i`). */
  setAudioTrack(index: number): Promise<void>;
  /**
   * The strongest frequency (Hz) in what the video element plays now, heard through Web Audio (the
   * element is unmuted into a silent gain node). The first call starts listening, so call it once
   * early; `db` is the level of that frequency (-Infinity: silence).
   */
  audioTone(): Promise<{ hz: number; db: number; state: string }>;
}

/** Opens a page in `browser` that plays `url` with hls.js. */
export async function startPlayer(browser: Browser, url: string, options: PlayerOptions = {}): Promise<HlsPlayer> {
  const player = await openPlayerPage(browser, { html: PAGE, scripts: { '/hls.js': 'hls.js/dist/hls.min.js' } }, url, options.hlsConfig ?? {}, async (page, i) => {
    await page.evaluate((level) => {
      (globalThis as unknown as { hls: { currentLevel: number } }).hls.currentLevel = level;
    }, i);
  });
  return {
    ...player,
    async setAudioTrack(index: number) {
      await player.page.evaluate((i) => {
        (globalThis as unknown as { hls: { audioTrack: number } }).hls.audioTrack = i;
      }, index);
    },
    audioTone: () => player.page.evaluate(() => (globalThis as unknown as { listenTone(): { hz: number; db: number; state: string } }).listenTone()),
  };
}

/**
 * Opens a player page and starts playback. The page defines `startPlayback(url, config)` and
 * `readStats(): PlayerStats`; `setLevel` forces a rendition the player's own way. Shared by the
 * hls.js and Shaka harnesses so both record the same figures and request trace.
 */
export async function openPlayerPage(
  browser: Browser,
  source: { html: string; scripts: Record<string, string> },
  url: string,
  config: Record<string, unknown>,
  setLevel: (page: Page, index: number) => Promise<void>,
): Promise<Player> {
  const { server, origin } = await servePage(source.html, source.scripts);
  const page = await browser.newPage();
  const traced: TracedRequest[] = [];
  const inFlight = new Map<unknown, TracedRequest>();
  const finish = (request: { url(): string }, finishedAtMs: number, status: number) => {
    const entry = inFlight.get(request);
    if (entry) Object.assign(entry, { finishedAtMs, status });
    inFlight.delete(request);
  };
  page.on('request', (request) => {
    if (request.url().startsWith(origin)) return;
    const entry = { url: request.url(), startedAtMs: Date.now(), finishedAtMs: NaN, status: 0 };
    traced.push(entry);
    inFlight.set(request, entry);
  });
  page.on('requestfinished', (request) => {
    const at = Date.now();
    void request.response().then((r) => finish(request, at, r?.status() ?? 0), () => finish(request, at, 0));
  });
  page.on('requestfailed', (request) => finish(request, Date.now(), -1));
  await page.goto(origin + '/');
  await page.evaluate(([u, c]) => (globalThis as unknown as { startPlayback(u: string, c: unknown): void }).startPlayback(u, c), [url, config] as const);
  const stats = () => page.evaluate(() => (globalThis as unknown as { readStats(): PlayerStats }).readStats());
  return {
    page,
    stats,
    setLevel: (index: number) => setLevel(page, index),
    requests: () => traced.map((r) => ({ ...r })),
    logTail: () => page.evaluate(() => (globalThis as unknown as { readLog?: () => string[] }).readLog?.() ?? []).catch(() => []),
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = await stats();
      while (!predicate(last) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        last = await stats();
      }
      return last;
    },
    async close() {
      await page.close().catch(() => {});
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
