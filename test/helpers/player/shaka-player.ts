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
window.lp = { latencySamples: [], partsLoaded: 0, fragmentsLoaded: 0, fatalErrors: [], nonFatalErrors: [],
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
      : 'shaka/other ' + String(d && (d.message || d.type) || d) + (d && d.stack ? ' at ' + String(d.stack).split('\\n').slice(1, 3).join(' < ').trim() : '');
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

/** Opens a page in `browser` that plays `url` with Shaka Player, `config` passed to `player.configure`. */
export async function startShakaPlayer(browser: Browser, url: string, config: Record<string, unknown> = {}): Promise<Player> {
  return openPlayerPage(browser, { html: PAGE, scripts: { '/shaka.js': 'shaka-player/dist/shaka-player.compiled.js' } }, url, config, async (page, index) => {
    await page.evaluate((i) => {
      const player = (globalThis as unknown as { player: { configure(c: unknown): void; getVariantTracks(): unknown[]; selectVariantTrack(t: unknown, clear: boolean): void } }).player;
      player.configure({ abr: { enabled: false } });
      player.selectVariantTrack(player.getVariantTracks()[i], true);
    }, index);
  });
}
