import https from 'node:https';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';

/**
 * The last link of a Graph client middleware chain, standing in for the SDK's HTTPMessageHandler.
 *
 * Why not `fetchOptions`: `@microsoft/microsoft-graph-client` 3.0.7 sends through Node's global
 * `fetch` (undici). That fetch ignores node-style `agent` options, Node 20 offers no runtime API
 * to add a CA to it (only NODE_EXTRA_CA_CERTS at start-up), and an undici `Agent` for its
 * `dispatcher` option needs the `undici` package, which is not a dependency (reaching Node's
 * bundled copy through its global-dispatcher symbol breaks under Jest's sandboxed globals).
 * A transport middleware is public SDK API and keeps every other stock handler (auth, retry with
 * Retry-After, redirect, telemetry) in front of it.
 */
export class CaTrustingHttpHandler implements Middleware {
  private readonly agent: https.Agent;

  constructor(caPem: string) {
    this.agent = new https.Agent({ ca: caPem, keepAlive: true });
  }

  async execute(context: Context): Promise<void> {
    const request = new Request(context.request, context.options as RequestInit);
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : Buffer.from(await request.arrayBuffer());
    context.response = await new Promise<Response>((resolve, reject) => {
      const outgoing = https.request(
        request.url,
        { method: request.method, headers: Object.fromEntries(request.headers), agent: this.agent, signal: request.signal },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(incoming.headers)) {
              for (const item of [value ?? []].flat()) headers.append(name, item);
            }
            const status = incoming.statusCode ?? 500;
            const bodyless = request.method === 'HEAD' || [101, 204, 205, 304].includes(status);
            resolve(new Response(bodyless ? null : Buffer.concat(chunks), { status, statusText: incoming.statusMessage, headers }));
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body ?? undefined);
    });
  }
}
