import { z } from 'zod';
import { channelSchema } from '../config/service-config.js';
import { channelPatchSchema } from '../channels/channel-registry.js';
import type { ChannelView } from '../channels/channel-service.js';
import { ErrorCode } from '../core/errors.js';

/**
 * The ops API's request and response bodies as zod schemas: requests are validated with them, channel
 * views are passed through them (unknown fields — a stray `key` — are stripped before anything leaves
 * the process), and the OpenAPI document is generated from them with `z.toJSONSchema`.
 */

/** `POST /api/v1/channels`: a channel spec whose `key` may be omitted (then one is generated and returned once). */
export const channelCreateBodySchema = channelSchema.extend({
  key: channelSchema.shape.key.optional().describe('Publish key, 16-256 characters; omitted = a random key is generated and returned once'),
});

/** `PATCH /api/v1/channels/{id}`. */
export const channelPatchBodySchema = channelPatchSchema;

const renditionStatsSchema = z.object({
  name: z.string(),
  kind: z.enum(['video', 'audio']),
  width: z.number().optional(),
  height: z.number().optional(),
  bitrate: z.number(),
  fps: z.number().optional().describe('Frames per second the encoder achieves'),
  speed: z.number().optional().describe('Encoder speed relative to realtime (1 = realtime)'),
  lastMsn: z.number().optional(),
  lastPart: z.number().optional(),
});

export const channelViewSchema = z.object({
  id: z.string(),
  ladder: z.string(),
  state: z.enum(['idle', 'live', 'reconnecting', 'standby', 'stopped', 'failed']),
  stateReason: z.string().optional().describe('Why the channel is in its state (its last transition, or the encoder failing while live)'),
  keyLast4: z.string().describe('Last 4 characters of the publish key (the key itself is never returned)'),
  publisher: z
    .object({
      protocol: z.enum(['rtmp', 'srt']),
      remoteAddress: z.string().optional(),
      since: z.string().describe('ISO 8601'),
      video: z.object({ codec: z.string(), width: z.number(), height: z.number(), frameRate: z.number().optional() }).optional(),
      audio: z.object({ codec: z.string(), sampleRate: z.number().optional(), channels: z.number().optional() }).optional(),
      bitrate: z.number().optional().describe('Measured ingest bitrate, bits/s'),
      timestampJumps: z.number().optional().describe('Jumps of the publisher\'s timestamps smoothed over since the publish started (RTMP)'),
      audioDelaySeconds: z.number().optional().describe('How long after its video the publisher\'s audio arrives, the most over the last 5 s (SRT; an MPEG-TS muxer packing audio frames)'),
    })
    .optional(),
  transcoder: z.object({
    state: z.enum(['idle', 'starting', 'running', 'restarting', 'stopping', 'stopped', 'failed']),
    runId: z.number(),
    restarts: z.number(),
    crashLooping: z.boolean().describe('The encoder fails fast again and again (3+ in a row); it keeps being restarted'),
    failingSeconds: z.number().optional().describe('Seconds since the encoder\'s first failure without a healthy run after it; absent while healthy'),
    uptimeSeconds: z.number(),
    lastError: z.string().optional(),
    renditions: z.array(renditionStatsSchema),
    dropped: z.array(z.object({ name: z.string(), reason: z.string() })),
    realtime: z
      .object({
        behind: z.boolean().describe('Below realtime: the edge falls further behind arrival (stateReason says `behind: …`)'),
        edgeLagSeconds: z.number().optional().describe('Seconds the encoded edge is behind the arrival of the same media'),
        speed: z.number().optional().describe('Media seconds encoded per wall second over the last 20 s'),
        cores: z.number().optional().describe("The run's measured cost: CPU cores at realtime (CPU s per media s)"),
      })
      .optional()
      .describe('How the running encoder keeps up with its input (docs/capacity.md); absent between runs'),
    ladderAdjustment: z
      .object({
        policy: z.string(),
        presetSteps: z.number().describe('x264 presets this many steps faster than the ladder\'s (bounded at ultrafast)'),
        presets: z.record(z.string(), z.string()).describe('Each rendition\'s x264 preset now'),
        droppedRenditions: z.array(z.string()).describe('Top renditions taken off, highest first'),
      })
      .optional()
      .describe('The behind-realtime policy (cheaper-preset, drop-top-rendition) lightened the ladder while live; absent while it runs as configured'),
  }),
  input: z
    .object({
      active: z.enum(['primary', 'backup', 'slate', 'none']).describe('The input playing out'),
      forced: z.enum(['primary', 'backup', 'slate']).optional().describe('Chosen by an operator (POST .../input)'),
      failback: z.enum(['auto', 'manual']),
      inputs: z.array(
        z.object({
          role: z.enum(['primary', 'backup']),
          kind: z.enum(['rtmp', 'srt', 'pull']),
          connected: z.boolean(),
          healthy: z.boolean().describe('Delivered video within inputLossMs'),
          lastVideoAgeMs: z.number().optional(),
          activations: z.number().describe('Times this input became the active one'),
        }),
      ),
      switches: z.number().describe('Input switches since the channel started its inputs'),
      slateReady: z.boolean(),
      pending: z.enum(['primary', 'backup', 'slate']).optional().describe("A switch decided and waiting for its point: the encoder's next forced keyframe (at most one GOP)"),
      slateSecondsLeft: z.number().optional().describe('While the slate plays with no input connected: seconds before EXT-X-ENDLIST'),
    })
    .optional()
    .describe('Backup input, slate and pulled sources (channels with an inputs block; docs/inputs.md)'),
  mediaSequence: z.number().optional(),
  urls: z.object({ playback: z.string(), rtmp: z.string(), srt: z.string().optional() }),
});

/** `POST /api/v1/channels/{id}/input`: the operator's input choice. */
export const inputSelectBodySchema = z
  .object({ input: z.enum(['primary', 'backup', 'slate']).describe('The input to play out') })
  .strict();

// Compile-time guard: the schema and the ChannelService contract describe the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const viewSchemaMatchesContract: Same<z.infer<typeof channelViewSchema>, ChannelView> = true;
void viewSchemaMatchesContract;

export const createdChannelSchema = channelViewSchema.extend({
  key: z.string().optional().describe('The generated publish key: present only when the request had no key; shown this once'),
});

export const channelListSchema = z.object({ channels: z.array(channelViewSchema) });

export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** `POST /api/v1/channels/{id}/cues`: an ad break starts (out) or ends (in). */
export const cueBodySchema = z
  .object({
    type: z.enum(['out', 'in']).describe('out: an ad break starts; in: the open break ends'),
    durationSeconds: z.number().positive().max(86_400).optional().describe('out only: the planned break length (PLANNED-DURATION, break_duration)'),
    at: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Splice instant (ISO 8601); default now. The marker lands on the first segment boundary at or after it'),
  })
  .strict();

export const cueAcceptedSchema = z.object({
  id: z.string().describe('The EXT-X-DATERANGE ID; an in cue names the break it ends'),
  type: z.enum(['out', 'in']),
  at: z.string().describe('The requested splice instant (ISO 8601)'),
  scte35: z.string().describe('The splice_info_section written for the cue (SCTE35-OUT / SCTE35-IN), hex'),
});

export const healthSchema = z.object({ status: z.literal('ok') });

const costSourceSchema = z.enum(['measured', 'benchmark', 'pixel-rate']);

export const clusterViewSchema = z.object({
  nodeId: z.string().describe("This node's id in the cluster"),
  redis: z.string().describe('State of this node\'s Redis connection'),
  leaseTtlMs: z.number().describe('Writer lease expiry, ms'),
  nodes: z
    .array(
      z.object({
        nodeId: z.string(),
        self: z.boolean().describe('The node that answered'),
        apiPort: z.number(),
        originPort: z.number(),
        startedAt: z.string(),
        channels: z.array(z.string()).describe('Channels whose writer lease the node holds'),
      }),
    )
    .describe('Nodes with a live heartbeat'),
  channels: z
    .array(
      z.object({
        id: z.string(),
        holder: z.string().optional().describe('Node holding the writer lease; absent when nobody writes the channel'),
        epoch: z.number().optional().describe('Fencing epoch of the current lease (increases on every takeover)'),
        leaseAgeMs: z.number().optional().describe('ms since the last renewal'),
      }),
    )
    .describe("This node's channels and who writes each"),
});

export const nodeViewSchema = z.object({
  maxChannels: z.number().describe('Ladders that may run at once (maxChannels)'),
  running: z.number().describe('Ladders running'),
  cores: z.number().optional().describe('CPU cores for ladders (capacity.cores); absent when cost-based admission is off'),
  headroom: z.number().optional().describe('Fraction of the cores admission fills'),
  capacityCores: z.number().optional().describe('cores × headroom'),
  usedCores: z.number().optional().describe('What the running channels cost at realtime'),
  freeCores: z.number().optional().describe('capacityCores − usedCores: a channel whose ladder costs more is refused'),
  behindPolicy: z.enum(['warn', 'refuse-new', 'cheaper-preset', 'drop-top-rendition']).optional(),
  channels: z.array(
    z.object({
      channel: z.string(),
      ladder: z.string(),
      cores: z.number().describe('Cores counted for it: its measurement once it has one, else its ladder\'s estimate'),
      source: costSourceSchema,
      behind: z.boolean(),
      edgeLagSeconds: z.number().optional(),
      speed: z.number().optional(),
    }),
  ),
  ladderCosts: z.record(z.string(), z.object({ cores: z.number(), source: costSourceSchema })).optional().describe('Cores per channel of each known ladder at a 1080p30 source'),
  behindChannels: z.array(z.string()).describe('Channels running below realtime'),
});

export const readinessSchema = z.object({
  status: z.enum(['ready', 'degraded', 'not-ready']),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().optional(), degraded: z.literal(true).optional() })),
});
