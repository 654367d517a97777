/**
 * Ops API figures: throughput and latency of the authenticated channel list, of a Prometheus scrape
 * with a full node's worth of series (8 channels × 5 renditions), and of the liveness probe, measured
 * with autocannon against a real ApiServer on loopback, in front of the real channel stack of
 * `livepipe serve` (registry, channel manager, ingest, packager) with idle channels.
 */
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { startServeFixture } from '../test/helpers/serve/serve-fixture.js';
import { runIfMain } from './run-if-main.js';

const TOKEN = 'bench-token-0123456789abcdef';
const CHANNELS = 8;
const RENDITIONS = ['1080p', '720p', '480p', '360p', 'audio'];

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const result = (await autocannon({ url, connections: 10, duration: 3, headers })) as AutocannonResult;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const api = await startServeFixture({}, { testApi: { token: TOKEN, processMetrics: true } });
  const { metrics, server } = api.testApi;
  for (let c = 0; c < CHANNELS; c++) {
    const channel = `channel-${c}`;
    await api.handle.registry.create({ id: channel, key: `bench-key-${c}-0123456789` });
    metrics.setChannelState(channel, 'live');
    metrics.setIngestBitrate(channel, 6e6);
    metrics.setEncoderProgress(channel, { fps: 30, speed: 1.1 });
    for (const rendition of RENDITIONS) {
      for (let i = 0; i < 50; i++) {
        metrics.countPart(channel, rendition);
        metrics.observePartLatency(channel, rendition, 0.3 + (i % 10) / 10);
      }
      metrics.countSegment(channel, rendition);
    }
  }
  try {
    const scrape = await metrics.render();
    return {
      channelList: await load(`${server.url}/api/v1/channels`, { authorization: `Bearer ${TOKEN}` }),
      metricsScrape: await load(`${server.url}/metrics`),
      healthz: await load(`${server.url}/healthz`),
      metricsBodyBytes: Buffer.byteLength(scrape.body),
      metricsSeries: scrape.body.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length,
    };
  } finally {
    await api.close();
  }
}

runIfMain(import.meta.url, run);
