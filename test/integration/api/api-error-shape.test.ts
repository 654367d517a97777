import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../../src/api/json-body.js';
import { ErrorCode } from '../../../src/core/errors.js';
import { startServeFixture, type ServeFixtureWithTestApi } from '../../helpers/serve/serve-fixture.js';

/**
 * Every answer of the ops API that is an error has the documented shape `{"error":{"code","message"}}`
 * — including those fastify and node:http produce themselves before a route runs (URL and header
 * limits, unknown routes, body parsing) — and none carries an internal message.
 */

interface RawReply {
  status: number;
  contentType: string | undefined;
  text: string;
}

/** One request on its own connection (a refused request may close it), through node:http. */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Internals the answers used to carry: fastify's codes and labels, a V8 stack overflow, node's parser. */
const INTERNALS = /FST_|statusCode|Maximum call stack|RangeError|HPE_|at \w+ \(|node_modules|fastify/i;

function expectErrorShape(reply: RawReply, status: number, code: string, message?: RegExp): void {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.contentType).toMatch(/^application\/json/);
  const json = JSON.parse(reply.text) as { error: { code: string; message: string } };
  expect(Object.keys(json)).toEqual(['error']);
  expect(Object.keys(json.error).sort()).toEqual(['code', 'message']);
  expect(json.error.code).toBe(code);
  expect(typeof json.error.message).toBe('string');
  expect(json.error.message).not.toMatch(INTERNALS);
  if (message !== undefined) expect(json.error.message).toMatch(message);
  // The answer stays small whatever was asked (no echo of a 10,000-character URL).
  expect(reply.text.length).toBeLessThan(400);
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('ops API error answers', () => {
  let api: ServeFixtureWithTestApi;
  let port: number;

  beforeAll(async () => {
    api = await startServeFixture({}, { testApi: {} });
    port = api.testApi.server.port;
  });
  afterAll(async () => {
    await api.close();
  });

  it('413 for a body over the limit', async () => {
    const reply = await send(port, 'POST', '/api/v1/channels', JSON_TYPE, JSON.stringify({ id: 'big', pad: 'x'.repeat(20_000) }));
    expectErrorShape(reply, 413, ErrorCode.BadRequest, /larger than 16384 bytes/);
  });

  it('414 for a 10,000-character channel id (longer than any route parameter)', async () => {
    const reply = await send(port, 'GET', `/api/v1/channels/${'a'.repeat(10_000)}`);
    expectErrorShape(reply, 414, ErrorCode.BadRequest, /URL is too long/);
  });

  it('414 for a request line longer than node:http reads headers', async () => {
    const reply = await send(port, 'GET', `/api/v1/channels/${'a'.repeat(20_000)}`);
    expectErrorShape(reply, 414, ErrorCode.BadRequest, /URL is too long/);
  });

  it('431 for headers over node:http\'s limit', async () => {
    const reply = await send(port, 'GET', '/api/v1/channels', { 'x-padding': 'a'.repeat(20_000) });
    expectErrorShape(reply, 431, ErrorCode.BadRequest, /headers are too large/);
  });

  it('400 for a URL whose percent-encoding is broken', async () => {
    const reply = await send(port, 'GET', '/api/v1/channels/%E0%A4%A');
    expectErrorShape(reply, 400, ErrorCode.BadRequest, /URL is not valid/);
  });

  it('404 for an unknown route, echoing at most 100 characters of it', async () => {
    expectErrorShape(await send(port, 'GET', '/nope'), 404, ErrorCode.NotFound, /no route GET \/nope/);
    expectErrorShape(await send(port, 'GET', `/${'n'.repeat(5_000)}`), 404, ErrorCode.NotFound);
  });

  it('405 for a method a known path does not serve', async () => {
    expectErrorShape(await send(port, 'PUT', '/api/v1/channels'), 405, ErrorCode.BadRequest, /PUT is not allowed/);
  });

  it.each([
    ['arrays', '['.repeat(8_000) + ']'.repeat(8_000)],
    ['objects', '{"a":'.repeat(2_000) + '1' + '}'.repeat(2_000)],
    ['just over the cap', `{"id":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`],
  ])('400 for deeply nested JSON (%s), not a stack overflow', async (_name, body) => {
    const reply = await send(port, 'POST', '/api/v1/channels', JSON_TYPE, body);
    expectErrorShape(reply, 400, ErrorCode.BadRequest, new RegExp(`nests deeper than ${MAX_JSON_DEPTH} levels`));
  });

  it('400 for malformed JSON, with the parser\'s position', async () => {
    expectErrorShape(await send(port, 'POST', '/api/v1/channels', JSON_TYPE, '{bad'), 400, ErrorCode.BadRequest, /not valid JSON/);
  });

  it('400 for an empty JSON body', async () => {
    expectErrorShape(await send(port, 'POST', '/api/v1/channels', JSON_TYPE, ''), 400, ErrorCode.BadRequest, /empty/);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['no content type', {}],
    ['form data', { 'content-type': 'application/x-www-form-urlencoded' }],
  ])('415 for a body that is not JSON (%s)', async (_name, headers: Record<string, string>) => {
    const reply = await send(port, 'POST', '/api/v1/channels', headers, '{"id":"x"}');
    expectErrorShape(reply, 415, ErrorCode.BadRequest, /send application\/json/);
  });

  it('400 for a body shorter than its content-length', async () => {
    const reply = await rawExchange(port, 'POST /api/v1/channels HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5\r\nconnection: close\r\n\r\n{}\r\n\r\n');
    // Either the body is read short and fails to parse, or node refuses it: the shape is what counts.
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expectErrorShape(reply, reply.status, ErrorCode.BadRequest);
  });

  it('400 for bytes that are not HTTP', async () => {
    const reply = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expectErrorShape(reply, 400, ErrorCode.BadRequest, /malformed HTTP request/);
  });
});

/** Writes raw bytes on a TCP connection and parses the one answer (status line, headers, body). */
async function rawExchange(port: number, bytes: string): Promise<RawReply> {
  const { connect } = await import('node:net');
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('end', () => resolve(received));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer; got ${JSON.stringify(received)}`)));
  });
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const contentType = headerLines.find((line) => /^content-type:/i.test(line))?.replace(/^content-type:\s*/i, '');
  return { status: Number(statusLine.split(' ')[1]), contentType, text: body };
}

describe('ops API error answers while closing', () => {
  it('503 CLOSED for a request that completes on an open connection while the server closes', async () => {
    const api = await startServeFixture({}, { testApi: {} });
    const { connect } = await import('node:net');
    const socket = connect(api.testApi.server.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Half a request keeps the connection busy, so close() leaves it open to finish.
    socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((r) => setTimeout(r, 100));
    const closing = api.close();
    await new Promise((r) => setTimeout(r, 100));
    socket.write('\r\n');
    await socketClosed;
    await closing;
    const [head = '', body = ''] = received.split('\r\n\r\n', 2);
    const contentType = /\r\ncontent-type:\s*([^\r]*)/i.exec(head)?.[1];
    expectErrorShape({ status: Number(head.split(' ')[1]), contentType, text: body }, 503, ErrorCode.Closed, /shutting down/);
  }, 20_000);
});
