/**
 * The web console (issue 18, point 1) in Chromium through playwright-core, against a real `serve` with
 * an API token and a real ffmpeg RTMP publisher: a wrong token is refused at the login form; the right
 * one shows the channel; the channel going live arrives over the event stream without a reload; the
 * hls.js preview plays; the restart button restarts the ladder, the console shows it, and the preview
 * plays on. The event stream itself refuses callers without the token. A channel with an `inputs:`
 * block shows what it plays, and its buttons force the slate and the primary back.
 *
 * `LIVEPIPE_CONSOLE_SCREENSHOT=docs/console.png npx vitest run test/e2e/console.test.ts` also saves the
 * screenshot shown in the README.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/player/hls-player.js';
import { startServeFixture, type ServeFixture } from '../helpers/serve/serve-fixture.js';

const TOKEN = 'console-e2e-token-0123456789';
const KEY = 'console-e2e-key-0123456789';
const RELAY_KEY = 'console-e2e-relay-key-0123456789';

describe('web console', () => {
  let serve: ServeFixture;
  let browser: Browser;
  let page: Page;
  const card = () => page.locator('article[data-channel="demo"]');
  const videoTime = () => card().locator('video').evaluate((video) => (video as unknown as { currentTime: number }).currentTime);

  beforeAll(async () => {
    serve = await startServeFixture(
      {
        reconnectGraceSeconds: 1,
        channels: [
          { id: 'demo', ladder: 'low-latency', key: KEY },
          { id: 'relay', ladder: 'constrained', key: RELAY_KEY, inputs: { failback: 'manual' } },
        ],
      },
      { token: TOKEN },
    );
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.close();
  });

  it('serves the event stream only with the token', async () => {
    const none = await fetch(`${serve.apiBase}/api/v1/events`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    await none.arrayBuffer();
    const wrong = await fetch(`${serve.apiBase}/api/v1/events`, { headers: { authorization: 'Bearer not-the-token-0123456789' } });
    expect(wrong.status).toBe(403);
    await wrong.arrayBuffer();
  });

  it('refuses a wrong token at the login form', async () => {
    await page.goto(`${serve.apiBase}/`);
    await page.getByLabel('API token').fill('wrong-token-0123456789');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toMatch(/refused this token/);
    expect(await card().count()).toBe(0);
  });

  it('logs in with the token and lists the channel', async () => {
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await card().waitFor({ timeout: 10_000 });
    expect(await card().getByTestId('state').textContent()).toBe('idle');
    await expect.poll(() => page.getByRole('status', { name: 'Live updates' }).textContent(), { timeout: 10_000 }).toBe('Live updates on');
    // The token is kept for this tab only, never as a cookie.
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('livepipe.apiToken'))).toBe(TOKEN);
    expect(await page.context().cookies()).toEqual([]);
  });

  it('shows the channel go live, with its input and renditions, without a reload', async () => {
    await page.evaluate(() => Object.assign(globalThis, { consoleTestMarker: 'no reload' }));
    serve.publish(serve.rtmpUrl('demo', KEY), 'flv', { seconds: 300 });
    await expect.poll(() => card().getByTestId('state').textContent(), { timeout: 60_000, interval: 250 }).toBe('live');
    await expect.poll(() => card().getByTestId('newest-part').first().textContent(), { timeout: 20_000, interval: 250 }).toMatch(/^\d+(\.\d+)?$/);
    await expect.poll(() => card().getByTestId('input-bitrate').textContent(), { timeout: 20_000, interval: 250 }).toMatch(/[kM]b\/s$/);
    expect(await card().getByText('RTMP', { exact: true }).count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as { consoleTestMarker?: string }).consoleTestMarker)).toBe('no reload');
    expect(await page.getByRole('region', { name: 'Activity' }).textContent()).toMatch(/publish started \(rtmp/);
  });

  it('plays the hls.js preview', async () => {
    await page.getByRole('button', { name: 'Show preview of demo' }).click();
    await expect.poll(videoTime, { timeout: 45_000, interval: 250 }).toBeGreaterThan(2);
  });

  it('restarts the ladder from the restart button: the console shows it and the preview plays on', async () => {
    const restartsBefore = Number(await card().getByTestId('restarts').textContent());
    await page.getByRole('button', { name: 'Restart demo' }).click();
    await expect.poll(() => card().getByTestId('restarts').textContent(), { timeout: 20_000 }).toBe(String(restartsBefore + 1));
    await expect.poll(() => page.getByRole('region', { name: 'Activity' }).textContent(), { timeout: 20_000 }).toMatch(/ladder restarted \(operator restart|ladder restarted/);
    // The restart's own answer may come after the event stream already showed it.
    await expect.poll(() => page.getByText(/restart demo: done/).count(), { timeout: 10_000 }).toBe(1);
    const afterRestart = await videoTime();
    await expect.poll(videoTime, { timeout: 30_000, interval: 250 }).toBeGreaterThan(afterRestart + 2);
    expect(await card().getByTestId('state').textContent()).toBe('live');

    const screenshot = process.env.LIVEPIPE_CONSOLE_SCREENSHOT;
    if (screenshot !== undefined && screenshot !== '') await page.screenshot({ path: screenshot });
  });

  it('shows the active input of a channel with backup inputs and forces the slate and the primary back', async () => {
    const relay = page.locator('article[data-channel="relay"]');
    serve.publish(serve.rtmpUrl('relay', RELAY_KEY), 'flv', { seconds: 300 });
    await expect.poll(() => relay.getByTestId('active-input').textContent(), { timeout: 60_000, interval: 250 }).toBe('primary');
    // The slate clip is rendered once the first run knows the picture size; the API says when.
    await expect
      .poll(
        async () => {
          const response = await fetch(`${serve.apiBase}/api/v1/channels/relay`, { headers: { authorization: `Bearer ${TOKEN}` } });
          return ((await response.json()) as { input?: { slateReady?: boolean } }).input?.slateReady;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
    await page.getByRole('button', { name: 'Play slate on relay' }).click();
    await expect.poll(() => relay.getByTestId('active-input').textContent(), { timeout: 15_000, interval: 250 }).toBe('slate');
    expect(await relay.getByText(/forced slate/).count()).toBe(1);
    await page.getByRole('button', { name: 'Play primary on relay' }).click();
    await expect.poll(() => relay.getByTestId('active-input').textContent(), { timeout: 15_000, interval: 250 }).toBe('primary');
    expect(await relay.getByTestId('state').textContent()).toBe('live');
  });
});
