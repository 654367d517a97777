import { Agent } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advance, liveModel } from '../../helpers/origin/playlists.js';
import { startOriginFixture, type OriginFixture } from '../../helpers/origin/fixture.js';
import { httpRequest } from '../../helpers/origin/http.js';
import { waitFor } from '../../helpers/wait.js';

describe('origin under load', () => {
  let f: OriginFixture;
  beforeAll(async () => {
    f = await startOriginFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  it('2,000 concurrent blocked playlist requests on keep-alive sockets are all released with the new part', async () => {
    const N = 2000;
    // Long target duration so no request times out while 2,000 are being set up on a slow machine.
    let model = liveModel({ targetDuration: 10, partTarget: 1 });
    await f.publish(model);
    const agent = new Agent({ keepAlive: true, maxSockets: N });
    const encodings = ['identity', 'gzip', 'br'];
    const pending = Array.from({ length: N }, (_, i) =>
      httpRequest(`${f.base}/live/news/v0/playlist.m3u8?_HLS_msn=3&_HLS_part=${1 + (i % 2)}${i % 3 === 0 ? '&_HLS_skip=YES' : ''}`, {
        agent,
        headers: { 'Accept-Encoding': encodings[i % 3]! },
      }),
    );
    await waitFor(() => f.server.heldCount === N, { timeoutMs: 60_000, intervalMs: 5, message: `${N} held requests` });
    model = advance(model);
    await f.publish(model);
    // Half waited for part 3-1 (now there), half for 3-2 (still held).
    await waitFor(() => f.server.heldCount === N / 2, { timeoutMs: 60_000, intervalMs: 5, message: 'the part-1 waiters to be released' });
    model = advance(model);
    await f.publish(model);
    const results = await Promise.all(pending);
    expect(results.filter((r) => r.status === 200).length).toBe(N);
    results.forEach((r, i) => {
      expect(r.headers['content-encoding'] ?? 'identity').toBe(encodings[i % 3]);
      if (i % 3 === 0) expect(r.body.toString()).toContain(i % 2 === 0 ? 'part-3-1.m4s' : 'part-3-2.m4s');
    });
    expect(f.server.heldCount).toBe(0);
    agent.destroy();
  });
});
