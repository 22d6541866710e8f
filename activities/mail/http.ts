import http from 'node:http';
import https from 'node:https';

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Posts an `application/x-www-form-urlencoded` body (OAuth token endpoints) and reads a JSON
 * answer. Node's https is used so an extra CA (the local Microsoft emulator's) can be trusted
 * without touching process-wide TLS settings.
 */
export function postForm(url: string, form: Record<string, string>, options: { ca?: string; timeoutMs?: number } = {}): Promise<JsonResponse> {
  const body = new URLSearchParams(form).toString();
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
        ...(options.ca && target.protocol === 'https:' ? { ca: options.ca } : {}),
        timeout: options.timeoutMs ?? 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { error: 'invalid_response' };
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`token endpoint timed out: ${target.origin}`)));
    request.on('error', reject);
    request.end(body);
  });
}
