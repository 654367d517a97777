import { mkdir } from 'node:fs/promises';
import { EventBus, type TranscoderStateName } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { Ladder } from '../ladder/ladder-schema.js';
import type { InputSpec } from '../transcode/input-spec.js';
import type { TranscoderStateSnapshot } from '../transcode/transcoder-supervisor.js';
import { buildTranscoder } from './build-transcoder.js';
import { RenditionFileSink, stdinInput, type RenditionFile } from './channel-pipeline.js';
import { ComponentRunner } from './component-runner.js';
import { component } from './component.js';

/**
 * `livepipe transcode`, composed: one supervised ladder whose runs go to files
 * (`RenditionFileSink`: `<dir>/<rendition>.mp4`). Start order: event bus → transcoder.
 */
export interface TranscodeSettings {
  channel: string;
  ladder: Ladder;
  input: InputSpec;
  /** Output directory (created if missing). */
  outDir: string;
}

export interface TranscodeSummary {
  state: TranscoderStateName;
  restarts: number;
  lastError: string | undefined;
  decisions: TranscoderStateSnapshot['decisions'];
  files: RenditionFile[];
}

/**
 * Runs the ladder until the input ends, its duration passes or `signal` aborts (the segment being
 * written is finished); resolves once every file is flushed and the transcoder is closed.
 */
export async function runTranscode(settings: TranscodeSettings, logger: Logger, signal: AbortSignal): Promise<TranscodeSummary> {
  await mkdir(settings.outDir, { recursive: true });
  const bus = new EventBus();
  const files = new RenditionFileSink(settings.outDir, logger);
  const { supervisor, component: transcoder } = buildTranscoder({
    channel: settings.channel,
    ladder: settings.ladder,
    input: settings.input,
    ...(settings.input.kind === 'stdin' ? { inputPort: stdinInput() } : {}),
    bus,
    logger,
    runs: files,
    // A one-shot job gives up on an encoder that keeps failing (a live channel never does).
    restart: { maxRestarts: 5, windowMs: 60_000 },
  });
  const onAbort = (): void => void supervisor.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  const runner = new ComponentRunner({ logger });
  try {
    await runner.start(component('event-bus', { close: () => bus.removeAllListeners() }), transcoder);
    const state = await supervisor.finished();
    await files.written();
    const snapshot = supervisor.state();
    return { state, restarts: snapshot.restarts, lastError: snapshot.lastError, decisions: snapshot.decisions, files: files.files };
  } finally {
    signal.removeEventListener('abort', onAbort);
    await runner.close();
  }
}
