/**
 * Open mode (no channels configured, loopback): any channel name publishes, and deleting such a
 * channel through the ops API while its publisher is live removes it for good — the end of the
 * dropped publish used to bring it back as a fresh, idle channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';
import { waitFor } from '../helpers/wait.js';

describe('livepipe serve in open mode', () => {
  let serve: ServeFixture;

  beforeAll(async () => {
    serve = await startServeFixture({});
  });

  afterAll(async () => {
    await serve?.close();
  });

  it('creates a channel on publish, and deleting it while live removes it for good', async () => {
    const publisher = serve.publish(serve.rtmpUrl('popup'), 'flv');
    await waitFor(() => (serve.state('popup') === 'live' ? true : undefined), { timeoutMs: 45_000, message: 'popup live' });

    const deleted = await fetch(`${serve.apiBase}/api/v1/channels/popup`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    await publisher.exited;
    // The dropped publish has ended by now (its feed is gone); the channel must not come back.
    await waitFor(() => (serve.handle.ingest.feed('popup') === undefined ? true : undefined), { message: 'feed gone' });
    await new Promise((r) => setTimeout(r, 500));
    expect(serve.handle.manager.get('popup')).toBeUndefined();
    const list = (await (await fetch(`${serve.apiBase}/api/v1/channels`)).json()) as { channels: Array<{ id: string }> };
    expect(list.channels.map((c) => c.id)).toEqual([]);
  });
});
