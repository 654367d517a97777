/**
 * Where an RTMP publisher names its channel and key. RTMP splits a URL into an "app" (sent in
 * `connect`) and a "stream name" (sent in `publish`); encoders split it differently, so these forms
 * are accepted (app `live`):
 *
 * | Publisher URL / OBS "Server" + "Stream Key"                         | app          | stream name        |
 * |---------------------------------------------------------------------|--------------|--------------------|
 * | `rtmp://host:1935/live/{channel}?key={key}` (ffmpeg)                 | `live`       | `{channel}?key=K`  |
 * | OBS: Server `rtmp://host:1935/live`, Key `{channel}?key={key}`       | `live`       | `{channel}?key=K`  |
 * | OBS: Server `rtmp://host:1935/live`, Key `{channel}/{key}`           | `live`       | `{channel}/{key}`  |
 * | OBS: Server `rtmp://host:1935/live/{channel}`, Key `{key}`           | `live/{channel}` | `{key}`        |
 * | `rtmp://host:1935/live/{channel}/{key}` (ffmpeg, librtmp)            | `live/{channel}` | `{key}`        |
 * | `rtmp://host:1935/live/{channel}` (open mode / keyless channel)      | `live`       | `{channel}`        |
 *
 * Anything else (another app, extra path segments, a key given twice) is refused.
 */
export const RTMP_APP = 'live';

/**
 * The input a publish feeds: `primary` unless the query says `role=backup` (the same key; a
 * channel's backup encoder, see docs/inputs.md).
 */
export type PublishRole = 'primary' | 'backup';

export type StreamNameParse =
  | { ok: true; channel: string; key: string | undefined; role: PublishRole }
  | { ok: false; error: string };

/** Splits `name?query` and returns the `key` and `role` query parameters (the last one wins if repeated). */
function splitQuery(raw: string): { path: string; key: string | undefined; role: string | undefined; hasQuery: boolean } {
  const q = raw.indexOf('?');
  if (q < 0) return { path: raw, key: undefined, role: undefined, hasQuery: false };
  const params = new URLSearchParams(raw.slice(q + 1));
  const key = params.get('key') ?? undefined;
  const role = params.get('role') ?? undefined;
  return { path: raw.slice(0, q), key, role, hasQuery: true };
}

/** `role=` of the app or stream name query; undefined role = primary. */
function publishRole(...roles: Array<string | undefined>): PublishRole | { error: string } {
  const given = roles.filter((r): r is string => r !== undefined);
  const role = given[given.length - 1] ?? 'primary';
  if (role !== 'primary' && role !== 'backup') return { error: `role must be "primary" or "backup", not "${role.slice(0, 20)}"` };
  return role;
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Parses the app of `connect` and the name of `publish` into a channel and an optional key. */
export function parseRtmpPublishTarget(app: string, streamName: string): StreamNameParse {
  if (typeof app !== 'string' || typeof streamName !== 'string') return { ok: false, error: 'app or stream name missing' };
  // Some clients append the tcUrl query to the app: it carries nothing livepipe reads.
  const appQuery = splitQuery(app);
  const appParts = trimSlashes(appQuery.path).split('/');
  if (appParts[0] !== RTMP_APP) return { ok: false, error: `app must be "${RTMP_APP}" or "${RTMP_APP}/{channel}"` };
  const name = splitQuery(streamName);
  const nameParts = trimSlashes(name.path).split('/');
  if (nameParts.some((p) => p === '')) return { ok: false, error: 'empty stream name' };
  const role = publishRole(appQuery.role, name.role);
  if (typeof role !== 'string') return { ok: false, error: role.error };

  if (appParts.length === 1) {
    // app "live": stream name is "{channel}", "{channel}?key=K" or "{channel}/{key}".
    if (nameParts.length === 1) return { ok: true, channel: nameParts[0]!, key: name.key, role };
    if (nameParts.length === 2) {
      if (name.key !== undefined) return { ok: false, error: 'key given twice (path and ?key=)' };
      return { ok: true, channel: nameParts[0]!, key: nameParts[1], role };
    }
    return { ok: false, error: 'stream name has too many path segments' };
  }
  if (appParts.length === 2) {
    // app "live/{channel}": the stream name is the key (OBS "Stream Key"), optionally "?key=K" only.
    const channel = appParts[1]!;
    if (channel === '') return { ok: false, error: 'empty channel in app' };
    if (nameParts.length !== 1) return { ok: false, error: 'stream name has too many path segments' };
    const pathKey = nameParts[0]!;
    if (name.key !== undefined && pathKey !== channel) return { ok: false, error: 'key given twice (stream name and ?key=)' };
    // "rtmp://host/live/ch/ch?key=K" is the same as "rtmp://host/live/ch?key=K" with an instance.
    return { ok: true, channel, key: name.key ?? pathKey, role };
  }
  return { ok: false, error: 'app has too many path segments' };
}
