import { z } from 'zod';
import { ID_PATTERN } from '../core/ids.js';
import { API_ROUTES, type ApiRouteSpec } from './api-routes.js';
import { errorBodySchema } from './api-schemas.js';

/**
 * The OpenAPI 3.1 document of the ops API, generated from the route table and its zod schemas
 * (`z.toJSONSchema`, JSON Schema 2020-12 — the dialect OpenAPI 3.1 uses), so it describes exactly
 * the routes the server registers.
 */

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const generated = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  delete generated.$schema;
  return generated;
}

const ERROR_RESPONSE = { $ref: '#/components/responses/Error' };

function operation(route: ApiRouteSpec): JsonObject {
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    if (spec.json !== undefined) {
      responses[status] = { description: spec.description, content: { 'application/json': { schema: jsonSchema(spec.json, 'output') } } };
    } else if (spec.text !== undefined) {
      responses[status] = { description: spec.description, content: { [spec.text]: { schema: { type: 'string' } } } };
    } else if (Number(status) >= 400) {
      responses[status] = { description: spec.description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    } else {
      responses[status] = { description: spec.description };
    }
  }
  const errorStatuses: number[] = [];
  if (route.auth) errorStatuses.push(401, 403);
  if (route.channelParam) errorStatuses.push(400, 404);
  if (route.body !== undefined) errorStatuses.push(400, 413, 415);
  if (route.auth) errorStatuses.push(503);
  for (const status of errorStatuses) responses[String(status)] ??= ERROR_RESPONSE;

  const op: JsonObject = {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    responses,
  };
  if (route.channelParam) {
    op.parameters = [
      { name: 'id', in: 'path', required: true, description: 'Channel id', schema: jsonSchema(z.string().regex(ID_PATTERN), 'input') },
    ];
  }
  if (route.body !== undefined) {
    const schema = jsonSchema(route.body, 'input');
    const content: Record<string, unknown> = { 'application/json': { schema } };
    // The server also accepts PATCH bodies as JSON merge patch (RFC 7396: `null` removes a field).
    if (route.method === 'PATCH') content['application/merge-patch+json'] = { schema };
    op.requestBody = { required: true, content };
  }
  op.security = route.auth ? [{ bearerAuth: [] }] : [];
  return op;
}

export function buildOpenApiDocument(version: string, routes: readonly ApiRouteSpec[] = API_ROUTES): JsonObject {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'livepipe ops API',
      version,
      description:
        'Channels, health and metrics of a livepipe node. Authenticate with "Authorization: Bearer <LIVEPIPE_API_TOKEN>". ' +
        'Errors are JSON {"error": {"code", "message"}}.',
    },
    tags: [
      { name: 'channels', description: 'Channel definitions and actions' },
      { name: 'operations', description: 'Health, readiness, metrics and this document' },
    ],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
      responses: {
        Error: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    },
  };
}
