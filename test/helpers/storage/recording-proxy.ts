/**
 * An HTTP proxy in front of s3rver that records every request it forwards — when it arrived (monotonic
 * ms), method, path and the writer's fencing epoch (`x-amz-meta-livepipe-epoch`) — so a test can say
 * which node wrote what, in which order, as storage saw it. One proxy per node: everything a node
 * sends passes its own proxy.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  /** `performance.now()` of the test process when the request's headers arrived. */
  at: number;
  method: string;
  path: string;
  /** `x-amz-meta-livepipe-epoch` of a PUT, when the writer recorded one. */
  epoch?: number;
  /** `performance.now()` when s3rver's answer came back (the write is then done in storage); unset until then. */
  completedAt?: number;
  /** s3rver's status. */
  status?: number;
}

export interface RecordingProxy {
  endpoint: string;
  requests: RecordedRequest[];
  /** Requests that write: PUT (objects) and POST (DeleteObjects). */
  writes(): RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const epoch = req.headers['x-amz-meta-livepipe-epoch'];
    const recorded: RecordedRequest = {
      at: performance.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      ...(typeof epoch === 'string' ? { epoch: Number(epoch) } : {}),
    };
    requests.push(recorded);
    // Forwarded whole even if the client goes away meanwhile (a killed node, a timed-out attempt),
    // as a load balancer or S3 itself would: such a write can still land after its sender is gone.
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        recorded.completedAt = performance.now();
        recorded.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    writes: () => requests.filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'DELETE'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
