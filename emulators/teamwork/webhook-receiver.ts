/**
 * A local webhook endpoint for tests: records every POST it receives (raw body kept for signature
 * checks) and answers with whatever status the test scripts, optionally after a delay.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Resolves once at least `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  /** Status for the n-th request (0-based); 200 when omitted. */
  statusFor?: (index: number) => number;
  /** Delay before answering the n-th request. */
  delayMsFor?: (index: number) => number;
}

/** A malformed body is recorded raw rather than crashing the receiver. */
function parseJson(rawBody: string): unknown {
  try {
    return rawBody ? JSON.parse(rawBody) : undefined;
  } catch {
    return undefined;
  }
}

export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = received.length;
      const rawBody = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, rawBody, body: parseJson(rawBody), receivedAt: Date.now() });
      for (const wake of waiters.splice(0)) wake();
      const answer = () => {
        res.statusCode = options.statusFor?.(index) ?? 200;
        res.end();
      };
      const delayMs = options.delayMsFor?.(index) ?? 0;
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitFor = (count: number, timeoutMs = 5_000) =>
    new Promise<ReceivedWebhook[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} webhooks, got ${received.length}`)),
        timeoutMs,
      );
      const check = () => {
        if (received.length >= count) {
          clearTimeout(timer);
          resolve(received);
        } else waiters.push(check);
      };
      check();
    });

  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    waitFor,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
