import type { ApiTarget } from './args';
import { CliError } from './io';

/** Calls the deskbridge API; problem+json answers become one readable CliError. */
export async function callApi<T>(target: ApiTarget, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${target.apiUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach the deskbridge API at ${target.apiUrl} (${cause?.code ?? cause?.message ?? String(err)}); set --api-url or DESKBRIDGE_API_URL`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as { title?: string; detail?: string };
    throw new CliError(`${method} ${path} answered ${response.status} ${problem.title ?? response.statusText}${problem.detail ? `: ${problem.detail}` : ''}`);
  }
  return parsed as T;
}
