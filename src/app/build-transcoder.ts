import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { Ladder } from '../ladder/ladder-schema.js';
import type { InputSpec } from '../transcode/input-spec.js';
import { TranscoderSupervisor, type TranscoderSupervisorOptions } from '../transcode/transcoder-supervisor.js';
import type { InputPort, RunSink } from './channel-pipeline.js';
import { component, type Component } from './component.js';

export interface TranscoderSettings {
  /** Channel id in logs and events. */
  channel: string;
  ladder: Ladder;
  input: InputSpec;
  /** Where a `stdin` input's bytes come from (each run opens it again). */
  inputPort?: InputPort;
  bus: EventBus;
  logger: Logger;
  /** Each run's outputs: the packager (`package`) or files (`transcode`). */
  runs: RunSink;
  /** Restart policy; default the supervisor's (a live ladder never gives up). */
  restart?: TranscoderSupervisorOptions['restart'];
}

export interface BuiltTranscoder {
  supervisor: TranscoderSupervisor;
  /**
   * `transcoder`: `start()` probes and spawns the first run (and fails when a restart cannot help);
   * `close()` stops ffmpeg (SIGTERM, then SIGKILL after the grace period) and its restarts.
   */
  component: Component;
}

/**
 * One supervised ladder on a file, URL or stdin input, outside a channel (`package`, `transcode`).
 * `serve`'s ladders are built by each channel around its live feed (`src/channels/channel.ts`).
 */
export function buildTranscoder(settings: TranscoderSettings): BuiltTranscoder {
  const { channel, ladder, input, inputPort, bus, logger, runs, restart } = settings;
  const supervisor = new TranscoderSupervisor({
    channel,
    ladder,
    input,
    ...(inputPort !== undefined ? { openInput: () => inputPort.open() } : {}),
    bus,
    logger,
    onRun: (run) => runs.attachRun(run),
    ...(restart !== undefined ? { restart } : {}),
  });
  return { supervisor, component: component('transcoder', { start: () => supervisor.start(), close: () => supervisor.stop() }) };
}
