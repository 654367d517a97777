import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIngestOptions, runIngest } from '../../../src/cli/ingest-command.js';
import { captureLogs } from '../../helpers/logs/log-capture.js';
import { probeFeed, publish } from '../../helpers/ingest/media.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort } from '../../helpers/ports.js';

describe('livepipe ingest --record', () => {
  it('records a publish to a decodable file and shows publish URLs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'livepipe-ingest-'));
    const logs = captureLogs();
    const port = await freePort();
    const config = parseIngestOptions({ rtmpPort: String(port), channel: ['cam:camkey123'], record: dir });
    const controller = new AbortController();
    const running = runIngest(config, logs.logger, controller.signal);
    try {
      await waitFor(() => logs.entries().some((e) => e.msg === 'publish to'), { timeoutMs: 20_000, message: 'startup' });
      expect(logs.entries().find((e) => e.msg === 'publish to')).toMatchObject({ channel: 'cam', rtmp: `rtmp://127.0.0.1:${port}/live/cam?key={key}` });
      const pub = publish(`rtmp://127.0.0.1:${port}/live/cam?key=camkey123`, 'flv', { seconds: 3 });
      expect(await pub.exited).toBe(0);
      await waitFor(() => logs.entries().some((e) => e.msg === 'recording closed'), { timeoutMs: 20_000, message: 'recording closed' });
    } finally {
      controller.abort();
      await running;
    }
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^cam-.*\.flv$/);
    const probed = await probeFeed(createReadStream(join(dir, files[0]!)), 'flv', 30);
    expect(probed.frames.length).toBeGreaterThanOrEqual(30);
    expect(probed.frames[0]).toMatchObject({ key_frame: 1 });
    expect(probed.stderr).toBe('');
    await rm(dir, { recursive: true });
  });
});
