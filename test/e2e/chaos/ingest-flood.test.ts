/**
 * Chaos (issue 15, point 4): a flood of 1,000 idle connections plus garbage on the RTMP port, then
 * idle and legacy-handshake SRT callers plus 1,000 garbage datagrams on a channel's SRT port, while
 * the configured publisher of the channel connects (RTMP with its key, SRT with its passphrase). It
 * gets in, hls.js plays it with the flood still going, and every playlist meets the LL-HLS rules.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ServeCli } from '../../helpers/serve/serve-fixture.js';
import { CHAOS_SRT_CHANNEL, CHAOS_SRT_PASSPHRASE, CHAOS_KEY, floodWhilePublishing, summarize, useChaosStage } from '../../helpers/serve/chaos.js';
import { freePort } from '../../helpers/ports.js';

describe('chaos: floods on the ingest ports while a configured publisher connects', () => {
  const chaos = useChaosStage();
  let serve: ServeCli | undefined;
  let srtPort: number;

  beforeAll(async () => {
    srtPort = await freePort('udp');
    serve = await chaos.serve({
      channels: [{ id: CHAOS_SRT_CHANNEL, ladder: 'low-latency', key: `${CHAOS_KEY}-srt`, srt: { port: srtPort, passphrase: CHAOS_SRT_PASSPHRASE } }],
    });
  });

  for (const protocol of ['rtmp', 'srt'] as const) {
    it(`${protocol}: the publisher gets in and plays through the flood`, async () => {
      const figures = await floodWhilePublishing(chaos.browser, serve!, protocol, 1000, 8000, srtPort);
      console.log(summarize(figures), JSON.stringify(figures.details));
      expect(figures.details.publisherGotIn).toBe(true);
      expect(figures.details.floodSent).toBeGreaterThanOrEqual(1000);
      expect(figures.player.fatalErrors).toEqual([]);
      expect(figures.player.playedSeconds).toBeGreaterThan(3);
      expect(figures.edge.violations).toEqual([]);
      expect(figures.edge.failedPolls).toEqual({});
    });
  }
});
