import type { z } from 'zod';
import type { AdCueRequest } from '../channels/ad-cues.js';
import type { ChannelPatch, ChannelService, ChannelSpec, ChannelView } from '../channels/channel-service.js';
import { ErrorCode, LivepipeError, errorMessage } from '../core/errors.js';
import { generateStreamKey } from '../core/secrets.js';
import {
  channelCreateBodySchema,
  clusterViewSchema,
  channelListSchema,
  channelPatchBodySchema,
  channelViewSchema,
  createdChannelSchema,
  cueAcceptedSchema,
  cueBodySchema,
  inputSelectBodySchema,
  healthSchema,
  nodeViewSchema,
  readinessSchema,
} from './api-schemas.js';
import { readinessStatus, runReadinessChecks, type ReadinessCheck } from './readiness.js';

/**
 * The ops API's routes as data: one table drives both the fastify registration (`api-server.ts`) and
 * the OpenAPI document (`openapi-document.ts`), so the two cannot drift apart.
 */

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export type OperationId =
  | 'listChannels'
  | 'getChannel'
  | 'createChannel'
  | 'updateChannel'
  | 'deleteChannel'
  | 'restartChannel'
  | 'stopChannel'
  | 'startChannel'
  | 'kickChannel'
  | 'cueChannel'
  | 'streamEvents'
  | 'getCluster'
  | 'getNode'
  | 'selectChannelInput'
  | 'getOpenApi'
  | 'getHealth'
  | 'getReadiness'
  | 'getMetrics';

export interface ResponseSpec {
  description: string;
  /** JSON body schema. */
  json?: z.ZodType;
  /** Non-JSON body: its content type. */
  text?: string;
}

export interface ApiRouteSpec {
  operationId: OperationId;
  method: HttpMethod;
  /** OpenAPI-style path (`{id}`); converted to fastify's `:id` at registration. */
  path: string;
  summary: string;
  tag: 'channels' | 'operations';
  /** Requires the bearer token (when one is configured). */
  auth: boolean;
  /** Writes an audit line (every mutating call). */
  audit: boolean;
  /** The route has a `{id}` channel path parameter. */
  channelParam: boolean;
  /** JSON request body, validated before the handler runs. */
  body?: z.ZodType;
  /** Success responses; error responses are added from `auth`, `body` and `channelParam`. */
  responses: Record<number, ResponseSpec>;
}

const CHANNELS = '/api/v1/channels';
const CHANNEL = `${CHANNELS}/{id}`;

const channelResponse = (description: string): Record<number, ResponseSpec> => ({ 200: { description, json: channelViewSchema } });

const action = (operationId: OperationId, verb: string, summary: string): ApiRouteSpec => ({
  operationId,
  method: 'POST',
  path: `${CHANNEL}/${verb}`,
  summary,
  tag: 'channels',
  auth: true,
  audit: true,
  channelParam: true,
  responses: {
    ...channelResponse('The channel after the action'),
    409: { description: 'The action does not apply in the channel\'s current state (e.g. kick with no publisher)' },
  },
});

export const API_ROUTES: readonly ApiRouteSpec[] = [
  {
    operationId: 'listChannels',
    method: 'GET',
    path: CHANNELS,
    summary: 'List every channel with its state',
    tag: 'channels',
    auth: true,
    audit: false,
    channelParam: false,
    responses: { 200: { description: 'All channels, sorted by id', json: channelListSchema } },
  },
  {
    operationId: 'getChannel',
    method: 'GET',
    path: CHANNEL,
    summary: 'One channel: state, publisher, transcoder and URLs',
    tag: 'channels',
    auth: true,
    audit: false,
    channelParam: true,
    responses: channelResponse('The channel'),
  },
  {
    operationId: 'createChannel',
    method: 'POST',
    path: CHANNELS,
    summary: 'Define a channel (persisted across restarts)',
    tag: 'channels',
    auth: true,
    audit: true,
    channelParam: false,
    body: channelCreateBodySchema,
    responses: {
      201: { description: 'Created; `Location` names the channel. `key` is present only when it was generated', json: createdChannelSchema },
      409: {
        description:
          'CONFLICT: a channel with this id, an id differing only in letter case, or this SRT port exists already; ' +
          'LIMIT_REACHED: as many channels as maxChannelDefinitions allows are defined',
      },
      422: { description: 'The ladder does not exist' },
    },
  },
  {
    operationId: 'updateChannel',
    method: 'PATCH',
    path: CHANNEL,
    summary: 'Change the ladder, rotate the key, or change/remove SRT',
    tag: 'channels',
    auth: true,
    audit: true,
    channelParam: true,
    body: channelPatchBodySchema,
    responses: {
      ...channelResponse('The updated channel'),
      409: { description: 'The SRT port is used by another channel' },
      422: { description: 'The ladder does not exist' },
    },
  },
  {
    operationId: 'deleteChannel',
    method: 'DELETE',
    path: CHANNEL,
    summary: 'Stop and delete a channel',
    tag: 'channels',
    auth: true,
    audit: true,
    channelParam: true,
    responses: { 204: { description: 'Deleted' } },
  },
  {
    operationId: 'cueChannel',
    method: 'POST',
    path: `${CHANNEL}/cues`,
    summary: 'Ad marker: an SCTE-35 splice out/in, as EXT-X-DATERANGE at the first segment boundary at or after `at` in every rendition',
    tag: 'channels',
    auth: true,
    audit: true,
    channelParam: true,
    body: cueBodySchema,
    responses: {
      202: { description: 'Scheduled: the marker appears when the stream reaches that boundary', json: cueAcceptedSchema },
      409: { description: 'The channel is not live, or an in cue with no break open' },
    },
  },
  {
    operationId: 'streamEvents',
    method: 'GET',
    path: '/api/v1/events',
    summary:
      'Server-sent events (text/event-stream): a `snapshot` of every channel, then every bus event (`channel:state`, ' +
      '`ingest:publish-started`…) with the channel\'s view after it, and `stats` every 2 s (the live channels\' views, ' +
      'every channel id; also the heartbeat). A client too slow to read is dropped',
    tag: 'channels',
    auth: true,
    audit: false,
    channelParam: false,
    responses: {
      200: { description: 'The event stream, open until the client leaves or the server shuts down', text: 'text/event-stream' },
      503: { description: 'As many event streams as the server allows are open' },
    },
  },
  {
    operationId: 'getCluster',
    method: 'GET',
    path: '/api/v1/cluster',
    summary: 'Cluster mode: the nodes with a live heartbeat, and for each channel the node holding its writer lease, the lease age and the fencing epoch',
    tag: 'channels',
    auth: true,
    audit: false,
    channelParam: false,
    responses: {
      200: { description: 'The cluster as this node sees it in Redis (docs/cluster.md)', json: clusterViewSchema },
      404: { description: 'This node runs without the cluster setting' },
      503: { description: 'Redis did not answer' },
    },
  },
  {
    operationId: 'getNode',
    method: 'GET',
    path: '/api/v1/node',
    summary: "This node's transcoding capacity: cores, used and free, each running channel's cost and who is behind realtime",
    tag: 'channels',
    auth: true,
    audit: false,
    channelParam: false,
    responses: { 200: { description: 'The capacity (docs/capacity.md)', json: nodeViewSchema } },
  },
  {
    operationId: 'selectChannelInput',
    method: 'POST',
    path: `${CHANNEL}/input`,
    summary: 'Force the input the channel plays out: primary, backup or slate (channels with an inputs block)',
    tag: 'channels',
    auth: true,
    audit: true,
    channelParam: true,
    body: inputSelectBodySchema,
    responses: {
      200: { description: 'Switched; the channel view', json: channelViewSchema },
      409: { description: 'The channel has no inputs block, is not playing, or that input is not healthy' },
    },
  },
  action('restartChannel', 'restart', 'Restart the ladder workers (viewers continue across a discontinuity)'),
  action('stopChannel', 'stop', 'Stop the ladder and refuse publishes until start'),
  action('startChannel', 'start', 'Accept publishes again after stop'),
  action('kickChannel', 'kick', 'Drop the current publisher'),
  {
    operationId: 'getOpenApi',
    method: 'GET',
    path: '/api/v1/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    tag: 'operations',
    auth: false,
    audit: false,
    channelParam: false,
    responses: { 200: { description: 'OpenAPI 3.1 document', text: 'application/json' } },
  },
  {
    operationId: 'getHealth',
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness: the process answers',
    tag: 'operations',
    auth: false,
    audit: false,
    channelParam: false,
    responses: { 200: { description: 'Alive', json: healthSchema } },
  },
  {
    operationId: 'getReadiness',
    method: 'GET',
    path: '/readyz',
    summary: 'Readiness: storage reachable, ffmpeg present, listeners bound',
    tag: 'operations',
    auth: false,
    audit: false,
    channelParam: false,
    responses: {
      200: { description: 'Every check passed (`ready`), or only checks that degrade the node failed (`degraded`, each named)', json: readinessSchema },
      503: { description: 'At least one check failed; each failing check is named with its reason', json: readinessSchema },
    },
  },
  {
    operationId: 'getMetrics',
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    tag: 'operations',
    auth: false,
    audit: false,
    channelParam: false,
    responses: { 200: { description: 'Metrics', text: 'text/plain; version=0.0.4; charset=utf-8' } },
  },
];

/**
 * The methods the route table serves at a concrete path (`/api/v1/channels/news` → GET, PATCH,
 * DELETE), for 405 answers with an `Allow` header. Empty = no such resource.
 */
export function allowedMethods(pathname: string, routes: readonly ApiRouteSpec[] = API_ROUTES): HttpMethod[] {
  const methods = new Set<HttpMethod>();
  for (const route of routes) {
    const pattern = new RegExp(`^${route.path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
    if (pattern.test(pathname)) methods.add(route.method);
  }
  if (methods.has('GET')) methods.add('HEAD' as HttpMethod);
  return [...methods];
}

export interface ApiReply {
  status: number;
  /** JSON body. */
  json?: unknown;
  /** Raw body with its content type. */
  text?: { body: string; contentType: string };
  headers?: Record<string, string>;
  /** The server takes the response over as the event stream (`GET /api/v1/events`). */
  eventStream?: true;
}

export interface ApiCall {
  /** The validated `{id}` path parameter (routes with `channelParam`). */
  id: string;
  /** The validated body (routes with `body`). */
  body: unknown;
  /** Adds fields to this call's audit line (never secrets). */
  note(fields: Record<string, unknown>): void;
}

export type ApiHandler = (call: ApiCall) => Promise<ApiReply>;

export interface ApiHandlerDependencies {
  /** Absent on a server without channel routes (the standalone origin's ops port). */
  channels?: ChannelService;
  metrics: { render(): Promise<{ contentType: string; body: string }> };
  readiness: readonly ReadinessCheck[];
  openApiDocument: () => unknown;
  /** Cluster mode: the cluster as this node sees it in Redis (`GET /api/v1/cluster`). */
  cluster?: () => Promise<unknown>;
}

/** A view as it may leave the process: through the schema, so unknown fields (a stray key) are stripped. */
export function publicView(view: ChannelView): z.infer<typeof channelViewSchema> {
  const parsed = channelViewSchema.safeParse(view);
  if (!parsed.success) {
    throw new Error(`channel service returned a view that breaks the ChannelView contract: ${parsed.error.message}`);
  }
  return parsed.data;
}

function requireView(view: ChannelView | undefined, id: string): ChannelView {
  if (view === undefined) throw new LivepipeError(ErrorCode.NotFound, `no channel "${id}"`);
  return view;
}

export function createApiHandlers(deps: ApiHandlerDependencies): Record<OperationId, ApiHandler> {
  const channels = (): ChannelService => {
    if (deps.channels === undefined) throw new LivepipeError(ErrorCode.NotFound, 'this server manages no channels');
    return deps.channels;
  };
  const ok = (view: ChannelView): ApiReply => ({ status: 200, json: publicView(view) });
  return {
    listChannels: async () => ({ status: 200, json: { channels: channels().list().map(publicView) } }),
    getChannel: async ({ id }) => ok(requireView(channels().get(id), id)),
    createChannel: async ({ body, note }) => {
      const input = body as z.infer<typeof channelCreateBodySchema>;
      const generated = input.key === undefined ? generateStreamKey() : undefined;
      const spec: ChannelSpec = { ...input, key: input.key ?? generated! };
      note({ channel: spec.id, keyGenerated: generated !== undefined });
      const view = publicView(await channels().create(spec));
      return {
        status: 201,
        json: generated === undefined ? view : { ...view, key: generated },
        headers: { location: `${CHANNELS}/${encodeURIComponent(view.id)}` },
      };
    },
    updateChannel: async ({ id, body }) => {
      const patch = body as z.infer<typeof channelPatchBodySchema>;
      if (Object.keys(patch).length === 0) {
        throw new LivepipeError(ErrorCode.BadRequest, 'body: nothing to change (give ladder, key or srt)');
      }
      return ok(await channels().update(id, patch as ChannelPatch));
    },
    deleteChannel: async ({ id }) => {
      await channels().remove(id);
      return { status: 204 };
    },
    restartChannel: async ({ id }) => ok(await channels().restart(id)),
    stopChannel: async ({ id }) => ok(await channels().stop(id)),
    startChannel: async ({ id }) => ok(await channels().start(id)),
    kickChannel: async ({ id }) => ok(await channels().kick(id)),
    cueChannel: async ({ id, body, note }) => {
      const input = body as z.infer<typeof cueBodySchema>;
      if (input.type === 'in' && input.durationSeconds !== undefined) {
        throw new LivepipeError(ErrorCode.BadRequest, 'body: durationSeconds is for out cues only');
      }
      const request: AdCueRequest = { type: input.type };
      if (input.durationSeconds !== undefined) request.durationSeconds = input.durationSeconds;
      if (input.at !== undefined) request.at = Date.parse(input.at);
      const accepted = await channels().cue(id, request);
      note({ cue: accepted.id, type: accepted.type });
      return { status: 202, json: cueAcceptedSchema.parse(accepted) };
    },
    streamEvents: async () => {
      channels();
      return { status: 200, eventStream: true };
    },
    getCluster: async () => {
      channels();
      if (deps.cluster === undefined) throw new LivepipeError(ErrorCode.NotFound, 'this node runs without the cluster setting');
      let view: unknown;
      try {
        view = await deps.cluster();
      } catch (err) {
        throw new LivepipeError(ErrorCode.Unavailable, `redis did not answer: ${errorMessage(err)}`);
      }
      return { status: 200, json: clusterViewSchema.parse(view) };
    },
    getNode: async () => {
      const node = channels().node?.();
      if (node === undefined) throw new LivepipeError(ErrorCode.NotFound, 'this server has no transcoding admission');
      return { status: 200, json: nodeViewSchema.parse(node) };
    },
    selectChannelInput: async ({ id, body, note }) => {
      const { input } = body as z.infer<typeof inputSelectBodySchema>;
      const service = channels();
      if (service.selectInput === undefined) throw new LivepipeError(ErrorCode.Conflict, 'this service cannot switch inputs');
      note({ input });
      return ok(await service.selectInput(id, input));
    },
    getOpenApi: async () => ({ status: 200, json: deps.openApiDocument() }),
    getHealth: async () => ({ status: 200, json: { status: 'ok' } }),
    getReadiness: async () => {
      const checks = await runReadinessChecks(deps.readiness);
      const status = readinessStatus(checks);
      return { status: status === 'not-ready' ? 503 : 200, json: { status, checks } };
    },
    getMetrics: async () => {
      const { contentType, body } = await deps.metrics.render();
      return { status: 200, text: { body, contentType } };
    },
  };
}
