/**
 * Real playback with Shaka Player (the npm `shaka-player` compiled build) in the same Chromium as the
 * hls.js harness, recording the same `PlayerStats` (latency = `Date.now() - getPlayheadTimeAsDate()`,
 * i.e. against EXT-X-PROGRAM-DATE-TIME) and the same request trace. Shaka 5's defaults already set
 * `streaming.lowLatencyMode: true`; `config` goes to `player.configure()` as given.
 */
import type { Browser } from 'playwright-core';
import { openPlayerPage, type Player } from './hls-player.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>livepipe Shaka test player</title>
<video id="v" muted autoplay playsinline style="width:640px"></video>
<script src="/shaka.js"></script>
<script>
window.lp = { stackDepth: 2, latencySamples: [], partsLoaded: 0, fragmentsLoaded: 0, fatalErrors: [], nonFatalErrors: [],
  sawParts: false, stalls: 0, stalledMs: 0, started: false, waitingSince: 0, loadStartedAtMs: NaN, firstFrameAtMs: NaN, startLatency: NaN };
const latencyNow = () => {
  const date = window.player && window.player.getPlayheadTimeAsDate();
  return date ? (Date.now() - date.getTime()) / 1000 : NaN;
};
window.startPlayback = (url, config) => {
  shaka.polyfill.installAll();
  const video = document.getElementById('v');
  const player = new shaka.Player();
  window.player = player;
  player.configure(config || {});
  player.addEventListener('error', (e) => {
    const d = e.detail;
    // NETWORK errors carry the request: data[0] the URI, data[1] the HTTP status (BAD_HTTP_STATUS).
    const text = d && d.category !== undefined
      ? 'shaka/' + d.category + '/' + d.code + (d.category === shaka.util.Error.Category.NETWORK && d.data ? ' ' + d.data[1] + ' ' + d.data[0] : '')
      : 'shaka/other ' + String(d && (d.message || d.type) || d) + (d && d.stack ? ' at ' + String(d.stack).split('\\n').slice(1, lp.stackDepth + 1).join(' < ').trim() : '');
    // Judge the severity once Shaka has decided: for a live stream its default failureCallback runs
    // right after this event, lowers a segment's BAD_HTTP_STATUS to RECOVERABLE and retries.
    setTimeout(() => (d && d.severity === shaka.util.Error.Severity.CRITICAL ? lp.fatalErrors : lp.nonFatalErrors).push(text), 0);
  });
  // Segment and part responses, told apart by the request's byte range or an LL-HLS part name.
  player.getNetworkingEngine().registerResponseFilter((type, response) => {
    if (type !== shaka.net.NetworkingEngine.RequestType.SEGMENT) return;
    if (/[._-]p(art)?\\d+|part/i.test(response.uri)) lp.partsLoaded++; else lp.fragmentsLoaded++;
  });
  video.addEventListener('playing', () => {
    if (!lp.started) { lp.firstFrameAtMs = Date.now(); lp.startLatency = latencyNow(); }
    lp.started = true;
    if (lp.waitingSince) { lp.stalledMs += performance.now() - lp.waitingSince; lp.waitingSince = 0; }
  });
  video.addEventListener('waiting', () => { if (lp.started) { lp.stalls++; lp.waitingSince = performance.now(); } });
  setInterval(() => {
    const latency = latencyNow();
    if (!Number.isNaN(latency) && !video.paused && video.readyState >= 3) lp.latencySamples.push(latency);
  }, 250);
  lp.loadStartedAtMs = Date.now();
  player.attach(video).then(() => player.load(url)).then(() => {
    const m = player.getManifest && player.getManifest();
    lp.sawParts = !!(m && m.isLowLatency);
    video.play().catch(() => {});
  }).catch((e) => lp.fatalErrors.push('load/' + (e && e.code)));
};
window.readStats = () => {
  const video = document.getElementById('v');
  const player = window.player;
  const tracks = player ? player.getVariantTracks() : [];
  const active = tracks.findIndex((t) => t.active);
  return {
    currentTime: video.currentTime,
    latency: latencyNow(),
    latencySamples: lp.latencySamples.slice(),
    levels: tracks.map((t) => ({ width: t.width || 0, height: t.height || 0, bitrate: t.bandwidth, codecs: t.codecs || '' })),
    currentLevel: active,
    partsLoaded: lp.partsLoaded, fragmentsLoaded: lp.fragmentsLoaded,
    fatalErrors: lp.fatalErrors.slice(), nonFatalErrors: lp.nonFatalErrors.slice(),
    sawParts: lp.sawParts, stalls: lp.stalls,
    stalledMs: lp.stalledMs + (lp.waitingSince ? performance.now() - lp.waitingSince : 0),
    paused: video.paused,
    targetLatency: player ? (player.getConfiguration().streaming.liveSync.enabled ? player.getConfiguration().streaming.liveSync.targetLatency : NaN) : NaN,
    loadStartedAtMs: lp.loadStartedAtMs, firstFrameAtMs: lp.firstFrameAtMs, startLatency: lp.startLatency,
    playbackRate: video.playbackRate,
    decodedBytes: { audio: video.webkitAudioDecodedByteCount || 0, video: video.webkitVideoDecodedByteCount || 0 },
  };
};
</script>`;

/**
 * `LIVEPIPE_SHAKA_DEBUG=1` loads Shaka's debug build (readable names in stacks, its own log) instead
 * of the compiled one, keeps 12 stack frames of an error, and copies Shaka's warnings and errors to
 * stderr with the wall-clock time: what to read when Shaka fails in a way its error codes do not say.
 */
const SHAKA_DEBUG = process.env.LIVEPIPE_SHAKA_DEBUG === '1';

/** Opens a page in `browser` that plays `url` with Shaka Player, `config` passed to `player.configure`. */
export async function startShakaPlayer(browser: Browser, url: string, config: Record<string, unknown> = {}): Promise<Player> {
  const build = SHAKA_DEBUG ? 'shaka-player/dist/shaka-player.compiled.debug.js' : 'shaka-player/dist/shaka-player.compiled.js';
  const html = SHAKA_DEBUG ? PAGE.replace('stackDepth: 2', 'stackDepth: 12') : PAGE;
  const player = await openPlayerPage(browser, { html, scripts: { '/shaka.js': build } }, url, config, async (page, index) => {
    await page.evaluate((i) => {
      const player = (globalThis as unknown as { player: { configure(c: unknown): void; getVariantTracks(): unknown[]; selectVariantTrack(t: unknown, clear: boolean): void } }).player;
      player.configure({ abr: { enabled: false } });
      player.selectVariantTrack(player.getVariantTracks()[i], true);
    }, index);
  });
  if (SHAKA_DEBUG) {
    player.page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`[shaka ${new Date().toISOString()}] ${m.type()}: ${m.text()}\n`);
    });
    await player.page.evaluate(traceShakaInternals);
  }
  return player;
}

/**
 * Debug build only (its names are not minified): logs every media playlist Shaka receives and, at
 * each error, the segment index of every stream (count, evicted, first and last reference times) and
 * the media-sequence → start-time map Shaka keeps per content type — the state behind its errors.
 */
function traceShakaInternals(): void {
  type Ref = { startTime: number; endTime: number };
  type Index = { references: Ref[]; numEvicted_: number };
  type Stream = { id: number; type: string; segmentIndex: Index | null };
  type Timeline = { getSegmentAvailabilityStart(): number; getSegmentAvailabilityEnd(): number; getSeekRangeEnd(): number };
  type StreamInfo = { type: string; minTimestamp: number; maxTimestamp: number; stream: Stream };
  const g = globalThis as unknown as {
    shaka: { net: { NetworkingEngine: { RequestType: { MANIFEST: number } } } };
    player: {
      getNetworkingEngine(): { registerResponseFilter(f: (type: number, r: { uri: string; data: ArrayBuffer }) => void): void };
      addEventListener(e: string, f: () => void): void;
      getManifest(): { variants: Array<{ video: Stream | null; audio: Stream | null }>; presentationTimeline: Timeline } | null;
      parser_?: { mediaSequenceToStartTimeByType_?: Map<string, Map<number, number>>; uriToStreamInfosMap_?: Map<string, StreamInfo> } | null;
    };
  };
  const player = g.player;
  player.getNetworkingEngine().registerResponseFilter((type, r) => {
    if (type !== g.shaka.net.NetworkingEngine.RequestType.MANIFEST || r.uri.endsWith('master.m3u8')) return;
    console.warn(`[lp playlist] ${r.uri}\n${new TextDecoder().decode(r.data)}`);
  });
  const logState = (why: string) => {
    const streams = new Map<number, Stream>();
    for (const v of player.getManifest()?.variants ?? []) for (const s of [v.video, v.audio]) if (s) streams.set(s.id, s);
    const indexes = [...streams.values()].map((s) => {
      const refs = s.segmentIndex?.references ?? [];
      const span = (r: Ref | undefined) => (r ? `${r.startTime.toFixed(3)}-${r.endTime.toFixed(3)}` : '-');
      return `${s.type}:${s.id} ${s.segmentIndex ? `n=${refs.length} evicted=${s.segmentIndex.numEvicted_} first=${span(refs[0])} last=${span(refs[refs.length - 1])}` : 'no index'}`;
    });
    const parser = player.parser_;
    const byType = parser?.mediaSequenceToStartTimeByType_;
    const maps = byType ? [...byType].filter(([, m]) => m.size > 0).map(([type, m]) => `${type}: ${[...m].slice(-5).map(([msn, t]) => `${msn}@${t.toFixed(3)}`).join(' ')}`) : [];
    const infos = [...(parser?.uriToStreamInfosMap_?.values() ?? [])].filter((i) => i.stream.segmentIndex).map((i) => `${i.type} ${i.minTimestamp?.toFixed(3)}..${i.maxTimestamp?.toFixed(3)}`);
    const t = player.getManifest()?.presentationTimeline;
    const video = (globalThis as unknown as { document: { querySelector(q: string): { currentTime: number } } }).document.querySelector('video');
    const window = t ? `avail ${t.getSegmentAvailabilityStart().toFixed(3)}..${t.getSegmentAvailabilityEnd().toFixed(3)} seekEnd ${t.getSeekRangeEnd().toFixed(3)}` : '';
    console.warn(`[lp state ${why}] playhead ${video.currentTime.toFixed(3)} ${window} || ${indexes.join(' | ')} || ${infos.join(' | ')} || ${maps.join(' | ')}`);
  };
  player.addEventListener('error', () => logState('error'));
  setInterval(() => logState('tick'), 500);
}
