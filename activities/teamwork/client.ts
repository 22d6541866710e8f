import type { z } from 'zod';
import { TeamworkError, TeamworkFailure } from './errors';
import {
  companyEnvelopeSchema,
  companyListSchema,
  createdIdSchema,
  peopleListSchema,
  personEnvelopeSchema,
  projectListSchema,
  taskEnvelopeSchema,
  tasklistListSchema,
  taskListSchema,
  v1PersonBody,
  v3CompanyBody,
  v3TaskBody,
  webhookListSchema,
  type CompanyFields,
  type PersonFields,
  type TaskFields,
  type TeamworkCompany,
  type TeamworkPerson,
  type TeamworkProject,
  type TeamworkTask,
  type TeamworkTasklist,
} from './wire';

export interface TeamworkCredentials {
  baseUrl: string;
  apiKey: string;
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
  count?: number;
}

/** The largest page the v3 list endpoints serve: fewest requests for a full sync. */
export const maxPageSize = 500;

/**
 * Remembers each key's rate-limit window from the response headers and holds requests back
 * when the window is spent, so the client waits for the reset instead of collecting 429s.
 */
export class RateGate {
  private remaining = Infinity;
  private resetAt = 0;

  observe(headers: Headers, now = Date.now()): void {
    const remaining = numberHeader(headers, 'x-rate-limit-remaining', 'x-ratelimit-remaining');
    const reset = numberHeader(headers, 'x-rate-limit-reset', 'x-ratelimit-reset');
    if (remaining !== undefined) this.remaining = remaining;
    if (reset !== undefined) this.resetAt = resetToEpochMs(reset, now);
  }

  async wait(now = Date.now()): Promise<void> {
    if (this.remaining > 0 || now >= this.resetAt) return;
    await new Promise((resolve) => setTimeout(resolve, this.resetAt - now));
    this.remaining = Infinity;
  }

  take(): void {
    this.remaining -= 1;
  }
}

function numberHeader(headers: Headers, ...names: string[]): number | undefined {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  }
  return undefined;
}

/** The reset header is documented ambiguously: small values are seconds from now, large ones epoch seconds. */
export function resetToEpochMs(reset: number, now = Date.now()): number {
  return reset > 1_000_000_000 ? reset * 1000 : now + reset * 1000;
}

export class TeamworkClient {
  constructor(
    private readonly credentials: TeamworkCredentials,
    private readonly gate: RateGate = new RateGate(),
    private readonly timeoutMs = 30_000,
  ) {}

  async listCompanies(query: { page: number; pageSize?: number; updatedAfter?: string; searchTerm?: string }): Promise<Page<TeamworkCompany>> {
    const body = await this.request('GET', '/projects/api/v3/companies.json', companyListSchema, {
      query: { page: query.page, pageSize: query.pageSize ?? maxPageSize, updatedAfter: query.updatedAfter, orderBy: 'id', orderMode: 'asc', showDeleted: query.updatedAfter ? true : undefined, searchTerm: query.searchTerm },
    });
    return { items: body.companies, hasMore: body.meta.page.hasMore, count: body.meta.page.count };
  }

  async listPeople(query: { page: number; pageSize?: number; updatedAfter?: string; searchTerm?: string }): Promise<Page<TeamworkPerson>> {
    const body = await this.request('GET', '/projects/api/v3/people.json', peopleListSchema, {
      query: { page: query.page, pageSize: query.pageSize ?? maxPageSize, updatedAfter: query.updatedAfter, orderBy: 'id', orderMode: 'asc', showDeleted: query.updatedAfter ? true : undefined, searchTerm: query.searchTerm },
    });
    return { items: body.people, hasMore: body.meta.page.hasMore, count: body.meta.page.count };
  }

  async getCompany(id: number): Promise<TeamworkCompany> {
    return (await this.request('GET', `/projects/api/v3/companies/${id}.json`, companyEnvelopeSchema)).company;
  }

  async createCompany(fields: CompanyFields): Promise<TeamworkCompany> {
    return (await this.request('POST', '/projects/api/v3/companies.json', companyEnvelopeSchema, { body: { company: v3CompanyBody(fields) } })).company;
  }

  async updateCompany(id: number, fields: CompanyFields): Promise<TeamworkCompany> {
    return (await this.request('PATCH', `/projects/api/v3/companies/${id}.json`, companyEnvelopeSchema, { body: { company: v3CompanyBody(fields) } })).company;
  }

  async getPerson(id: number): Promise<TeamworkPerson> {
    return (await this.request('GET', `/projects/api/v3/people/${id}.json`, personEnvelopeSchema)).person;
  }

  async createContact(fields: PersonFields): Promise<number> {
    const body = { person: { ...v1PersonBody(fields), 'user-type': 'contact' } };
    return (await this.request('POST', '/people.json', createdIdSchema, { body })).id;
  }

  async updatePerson(id: number, fields: PersonFields): Promise<void> {
    await this.request('PUT', `/people/${id}.json`, null, { body: { person: v1PersonBody(fields) } });
  }

  async listWebhooks(): Promise<z.infer<typeof webhookListSchema>['webhooks']> {
    return (await this.request('GET', '/webhooks.json', webhookListSchema)).webhooks;
  }

  async createWebhook(event: string, url: string, token: string): Promise<number> {
    const body = { webhook: { event, url, version: '2', contentType: 'application/json', token } };
    return (await this.request('POST', '/webhooks.json', createdIdSchema, { body })).id;
  }

  async listProjects(query: { page: number; pageSize?: number }): Promise<Page<TeamworkProject>> {
    const body = await this.request('GET', '/projects/api/v3/projects.json', projectListSchema, { query: { page: query.page, pageSize: query.pageSize ?? maxPageSize } });
    return { items: body.projects, hasMore: body.meta.page.hasMore, count: body.meta.page.count };
  }

  async listTasklists(projectId: number, query: { page: number; pageSize?: number }): Promise<Page<TeamworkTasklist>> {
    const body = await this.request('GET', `/projects/api/v3/projects/${projectId}/tasklists.json`, tasklistListSchema, { query: { page: query.page, pageSize: query.pageSize ?? maxPageSize } });
    return { items: body.tasklists, hasMore: body.meta.page.hasMore, count: body.meta.page.count };
  }

  async createTask(tasklistId: number, fields: TaskFields): Promise<TeamworkTask> {
    return (await this.request('POST', `/projects/api/v3/tasklists/${tasklistId}/tasks.json`, taskEnvelopeSchema, { body: { task: v3TaskBody(fields) } })).task;
  }

  async getTask(id: number): Promise<TeamworkTask> {
    return (await this.request('GET', `/projects/api/v3/tasks/${id}.json`, taskEnvelopeSchema)).task;
  }

  async listTasks(query: { page: number; pageSize?: number; ids?: number[]; tasklistIds?: number[]; updatedAfter?: string }): Promise<Page<TeamworkTask>> {
    const body = await this.request('GET', '/projects/api/v3/tasks.json', taskListSchema, {
      query: { page: query.page, pageSize: query.pageSize ?? maxPageSize, ids: query.ids?.join(','), tasklistIds: query.tasklistIds?.join(','), updatedAfter: query.updatedAfter, orderBy: 'id', orderMode: 'asc' },
    });
    return { items: body.tasks, hasMore: body.meta.page.hasMore, count: body.meta.page.count };
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S | null,
    options: { query?: Record<string, string | number | boolean | undefined>; body?: unknown } = {},
  ): Promise<z.infer<S>> {
    const url = new URL(this.credentials.baseUrl.replace(/\/+$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    await this.gate.wait();
    this.gate.take();
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Basic ${Buffer.from(`${this.credentials.apiKey}:x`).toString('base64')}`,
          accept: 'application/json',
          ...(options.body ? { 'content-type': 'application/json' } : {}),
        },
        body: options.body ? JSON.stringify(options.body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new TeamworkError(TeamworkFailure.unavailable, `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.gate.observe(response.headers);
    const text = await response.text();
    if (!response.ok) throw errorFor(method, path, response, text);
    if (!schema) return undefined as z.infer<S>;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new TeamworkError(TeamworkFailure.invalidResponse, `${method} ${path}: response is not JSON`, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new TeamworkError(TeamworkFailure.invalidResponse, `${method} ${path}: unexpected response shape: ${parsed.error.issues[0]?.message}`, response.status);
    return parsed.data;
  }
}

function errorFor(method: string, path: string, response: Response, text: string): TeamworkError {
  const status = response.status;
  const reason = `${method} ${path} answered ${status}: ${reasonOf(text)}`;
  if (status === 429) {
    const reset = numberHeader(response.headers, 'x-rate-limit-reset', 'x-ratelimit-reset', 'retry-after');
    const retryAfterMs = reset === undefined ? 60_000 : Math.max(0, resetToEpochMs(reset) - Date.now());
    return new TeamworkError(TeamworkFailure.rateLimited, reason, status, retryAfterMs);
  }
  if (status === 401 || status === 403) return new TeamworkError(TeamworkFailure.authRejected, reason, status);
  if (status === 404) return new TeamworkError(TeamworkFailure.notFound, reason, status);
  if (status >= 400 && status < 500) return new TeamworkError(TeamworkFailure.rejected, reason, status);
  return new TeamworkError(TeamworkFailure.unavailable, reason, status);
}

/** v3 errors are `{errors:[{title,detail}]}`, v1 errors `{MESSAGE}`; fall back to the raw text. */
function reasonOf(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: { title?: string; detail?: string }[]; MESSAGE?: string };
    const first = body.errors?.[0];
    if (first) return [first.title, first.detail].filter(Boolean).join(': ');
    if (body.MESSAGE) return body.MESSAGE;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || 'no body';
}

/**
 * One rate gate per Teamwork.com key per process: every activity using the same key shares
 * the window it learned from the headers.
 */
export class TeamworkClientFactory {
  private readonly gates = new Map<string, RateGate>();

  forSite(credentials: TeamworkCredentials): TeamworkClient {
    const key = `${credentials.baseUrl}\u0000${credentials.apiKey}`;
    let gate = this.gates.get(key);
    if (!gate) {
      gate = new RateGate();
      this.gates.set(key, gate);
    }
    return new TeamworkClient(credentials, gate);
  }
}
