/**
 * A real webhook receiver for tests: node:http on 127.0.0.1, a random free port. Every request is
 * recorded with its headers and raw body; `respond` decides each answer (a status, or `hang`: never
 * answer until `releaseHung()` or close).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature, type SignatureCheck } from '../../../src/notify/webhook-signing.js';

export interface ReceivedDelivery {
  headers: IncomingMessage['headers'];
  body: string;
  event: { id: string; type: string; time: string; data: Record<string, unknown> };
  receivedAt: number;
}

export type Answer = number | 'hang';

export interface WebhookReceiver {
  url: string;
  received: ReceivedDelivery[];
  /** How the next request is answered (index = how many came before it). Default: 200. */
  respond: (index: number, delivery: ReceivedDelivery) => Answer;
  /** Requests currently hanging. */
  hanging(): number;
  /** Answers every hanging request with `status`. */
  releaseHung(status?: number): void;
  /** The receiver-side signature check of one delivery, with this receiver's clock. */
  verify(delivery: ReceivedDelivery, secret: string): SignatureCheck;
  close(): Promise<void>;
}

export async function startWebhookReceiver(respond: WebhookReceiver['respond'] = () => 200): Promise<WebhookReceiver> {
  const hung = new Set<ServerResponse>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    respond,
    hanging: () => hung.size,
    releaseHung(status = 200) {
      for (const res of hung) if (!res.writableEnded) res.writeHead(status).end();
      hung.clear();
    },
    verify(delivery, secret) {
      const header = (name: string) => {
        const value = delivery.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      return verifyWebhookSignature(secret, { signature: header(SIGNATURE_HEADER), timestamp: header(TIMESTAMP_HEADER) }, delivery.body, Math.floor(Date.now() / 1000));
    },
    close: async () => {
      receiver.releaseHung(503);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const delivery: ReceivedDelivery = { headers: req.headers, body, event: JSON.parse(body) as ReceivedDelivery['event'], receivedAt: Date.now() };
      const index = receiver.received.length;
      receiver.received.push(delivery);
      const answer = receiver.respond(index, delivery);
      if (answer === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/livepipe`;
  return receiver;
}
