import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The web console's prebuilt files (`npm run build` → `dist/console/`, Vite's output), held in memory
 * with a gzip twin each: a few hundred kilobytes read once at start, served at `/` by the ops API.
 * Nothing is fetched from elsewhere at run time: hls.js and Preact are in the bundle.
 */

/** `dist/console/` of the package, from `src/api/` (tests) and `dist/api/` (the build) alike. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export interface ConsoleAsset {
  /** URL path, e.g. `/` or `/assets/index-3f2a.js`. */
  path: string;
  contentType: string;
  body: Buffer;
  /** The body gzip-compressed, when that is smaller. */
  gzip?: Buffer;
  etag: string;
  /** Vite names built assets after their content hash: they never change under one name. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Security headers of every console response. The page runs only its own scripts and styles; it
 * connects to its own API and to the origin (another port, whose address the channel views give:
 * `http:`/`https:`), plays media from blob URLs (MSE) and lets hls.js start its transmuxing worker
 * from a blob. No framing (clickjacking), no referrer (URLs carry channel ids).
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; " +
    "connect-src 'self' http: https:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Reads every file under `dir`; undefined when there is no built console (no `index.html`). */
export async function loadConsoleAssets(dir: string = DEFAULT_CONSOLE_DIR): Promise<Map<string, ConsoleAsset> | undefined> {
  let files: string[];
  try {
    files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return undefined;
  }
  const assets = new Map<string, ConsoleAsset>();
  for (const file of files) {
    const name = relative(dir, file).split(sep).join('/');
    const body = await readFile(file);
    const compressed = gzipSync(body, { level: 9 });
    const asset: ConsoleAsset = {
      path: name === 'index.html' ? '/' : `/${name}`,
      contentType: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: name.startsWith('assets/'),
    };
    if (compressed.length < body.length) asset.gzip = compressed;
    assets.set(asset.path, asset);
  }
  return assets.has('/') ? assets : undefined;
}

/** Whether an `Accept-Encoding` header accepts gzip (a `q=0` refuses it). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  return acceptEncoding.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
