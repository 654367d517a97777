import type { ChannelView, RenditionStats } from './channel-view.js';

/** Pure formatting of channel figures for the console. */

/** `2 500 000` → `2.50 Mb/s`; undefined → `–`. */
export function formatBitrate(bitsPerSecond: number | undefined): string {
  if (bitsPerSecond === undefined || !Number.isFinite(bitsPerSecond)) return '–';
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(2)} Mb/s`;
  if (bitsPerSecond >= 1e3) return `${Math.round(bitsPerSecond / 1e3)} kb/s`;
  return `${Math.round(bitsPerSecond)} b/s`;
}

/** Encoder speed relative to realtime: `1.02×`; a speed under 0.95 cannot keep up with live. */
export function formatSpeed(speed: number | undefined): string {
  return speed === undefined || !Number.isFinite(speed) ? '–' : `${speed.toFixed(2)}×`;
}

export function formatFps(fps: number | undefined): string {
  return fps === undefined || !Number.isFinite(fps) ? '–' : `${Math.round(fps * 100) / 100} fps`;
}

/** `3725` → `1h 02m 05s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${pad(m)}m ${pad(rest)}s`;
  if (m > 0) return `${m}m ${pad(rest)}s`;
  return `${rest}s`;
}

/** The newest part of a rendition as `segment.part` (LL-HLS media sequence number and part index). */
export function newestPart(rendition: RenditionStats): string {
  if (rendition.lastMsn === undefined) return '–';
  return rendition.lastPart === undefined ? `${rendition.lastMsn}` : `${rendition.lastMsn}.${rendition.lastPart}`;
}

/** The input's frame rate: the source's (publisher metadata), else what the top video rendition achieves. */
export function inputFps(view: ChannelView): number | undefined {
  return view.publisher?.video?.frameRate ?? view.transcoder.renditions.find((r) => r.kind === 'video')?.fps;
}

/** The slowest encoder speed of the ladder (the one that decides whether the channel keeps up). */
export function slowestSpeed(view: ChannelView): number | undefined {
  const speeds = view.transcoder.renditions.flatMap((r) => (r.speed !== undefined ? [r.speed] : []));
  return speeds.length === 0 ? undefined : Math.min(...speeds);
}

/**
 * The URL the preview plays: the channel's playback URL, with a wildcard bind address (`0.0.0.0`,
 * `[::]`) replaced by the host the console was loaded from — a browser cannot connect to a wildcard.
 */
export function previewUrl(playback: string, pageHostname: string): string {
  let url: URL;
  try {
    url = new URL(playback);
  } catch {
    return playback;
  }
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]' || url.hostname === '<this-host>') url.hostname = pageHostname;
  return url.toString();
}

/** A publish key for rotation: 32 hex digits (128 bits) from the given random bytes. */
export function keyFromBytes(bytes: Uint8Array): string {
  if (bytes.length < 16) throw new Error('a key needs at least 16 random bytes');
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
