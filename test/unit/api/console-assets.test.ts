import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, loadConsoleAssets } from '../../../src/api/console-assets.js';

describe('acceptsGzip', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['br, gzip;q=0.5', true],
    ['GZIP', true],
    ['gzip;q=0', false],
    ['identity, *;q=0.1', true],
    ['deflate, br', false],
  ])('%j → %s', (header, accepted) => {
    expect(acceptsGzip(header)).toBe(accepted);
  });
});

describe('loadConsoleAssets', () => {
  it('maps index.html to / and hashed assets to immutable paths, with a gzip twin that inflates to the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'console-assets-'));
    try {
      await mkdir(join(dir, 'assets'));
      const script = 'console.log("livepipe");\n'.repeat(50);
      await writeFile(join(dir, 'index.html'), '<!doctype html><title>x</title>');
      await writeFile(join(dir, 'assets', 'index-abc123.js'), script);
      const assets = (await loadConsoleAssets(dir))!;
      expect([...assets.keys()].sort()).toEqual(['/', '/assets/index-abc123.js']);
      const js = assets.get('/assets/index-abc123.js')!;
      expect(js).toMatchObject({ contentType: 'text/javascript; charset=utf-8', immutable: true });
      expect(gunzipSync(js.gzip!).toString()).toBe(script);
      expect(assets.get('/')).toMatchObject({ contentType: 'text/html; charset=utf-8', immutable: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is undefined without a built console', async () => {
    expect(await loadConsoleAssets(join(tmpdir(), 'no-such-console-dir'))).toBeUndefined();
  });
});
