/**
 * `livepipe serve` under a systemd-style socket unit (docker/systemd/livepipe.socket): the origin
 * takes its listening socket from the service manager (sd_listen_fds), and a request made while the
 * process restarts waits in the socket's queue and is answered by the next process — where a serve
 * that binds its own port refuses it (hls.js does not retry a refused playlist request).
 * The viewer's side of the same restart is in test/e2e/chaos/serve-restart.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServeCli, type ServeCli } from '../helpers/serve/serve-fixture.js';

const CHANNEL = { id: 'sock', ladder: 'low-latency', key: 'socket-unit-key-0123456789' };

/** A GET that reports a refused connection instead of throwing. */
async function get(url: string): Promise<{ status: number } | { refused: string }> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return { status: res.status };
  } catch (err) {
    return { refused: String((err as { cause?: { code?: string } }).cause?.code ?? err) };
  }
}

describe('serve with its origin socket from a service manager', () => {
  let serve: ServeCli | undefined;
  afterEach(async () => {
    await serve?.close();
    serve = undefined;
  });

  it('answers a request made while it restarts, once the next process is up', async () => {
    serve = await startServeCli({ channels: [CHANNEL] }, { socketActivation: true });
    const url = `${serve.originBase}/live/${CHANNEL.id}/master.m3u8`;
    // Nothing published yet: 404, from the process that took the socket.
    expect(await get(url)).toEqual({ status: 404 });
    expect(serve.cli.stderr()).toMatch(/"inheritedFd":3[^\n]*"msg":"origin listening"|"msg":"origin listening"[^\n]*"inheritedFd":3/);

    expect(await serve.cli.stop('SIGTERM', 40_000)).toBe(0);
    // Down: the request is queued, not refused…
    const during = get(url);
    const settledEarly = await Promise.race([during.then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
    expect(settledEarly, 'a request to the socket while no process runs waits').toBe(false);
    // …and the restarted process answers it.
    await serve.restart();
    expect(await during).toEqual({ status: 404 });
    expect(await get(url)).toEqual({ status: 404 });
  }, 120_000);

  it('without a socket unit, the same request is refused while serve is down', async () => {
    serve = await startServeCli({ channels: [CHANNEL] });
    const url = `${serve.originBase}/live/${CHANNEL.id}/master.m3u8`;
    expect(await get(url)).toEqual({ status: 404 });
    await serve.cli.stop('SIGTERM', 40_000);
    expect(await get(url)).toEqual({ refused: 'ECONNREFUSED' });
    await serve.restart();
    expect(await get(url)).toEqual({ status: 404 });
  }, 120_000);
});
