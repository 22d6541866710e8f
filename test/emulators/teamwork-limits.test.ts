import { startTeamworkEmulator, type InstallationHandle, type TeamworkEmulator } from '../../emulators/teamwork';

const RATE_LIMIT_TEXT = 'You have exceeded your rate limit. Please try again in a little while.';
const COMPANIES = '/projects/api/v3/companies.json';

let emulator: TeamworkEmulator;
let site: InstallationHandle;

async function startWith(options: Parameters<typeof startTeamworkEmulator>[0]) {
  emulator = await startTeamworkEmulator(options);
  site = emulator.control.createInstallation({ name: 'acme', apiKey: 'key-acme' });
}
afterEach(() => emulator.close());

const get = (path: string, apiKey = site.apiKey) =>
  fetch(`${site.baseUrl}${path}`, { headers: { Authorization: `Bearer ${apiKey}` } });

/** Wire JSON is read loosely: each test asserts the fields it cares about. */
const json = (response: Response): Promise<any> => response.json();

const rateHeaders = (response: Response) => ({
  limit: response.headers.get('x-rate-limit-limit'),
  remaining: response.headers.get('x-rate-limit-remaining'),
  reset: response.headers.get('x-rate-limit-reset'),
});

describe('rate limiting', () => {
  it('C15 When the key exceeds its rate limit, Then 429 with X-Rate-Limit-* headers until the window ends', async () => {
    await startWith({ rateLimitPerMinute: 3, rateWindowMs: 1_000 });
    const served = [];
    for (let index = 0; index < 3; index += 1) served.push(rateHeaders(await get(COMPANIES)));
    expect(served.map((headers) => headers.remaining)).toEqual(['2', '1', '0']);
    expect(served[0]).toMatchObject({ limit: '3', reset: '1' });

    const refused = await get(COMPANIES);
    expect(refused.status).toBe(429);
    expect(await refused.text()).toBe(RATE_LIMIT_TEXT);
    expect(rateHeaders(refused)).toEqual({ limit: '3', remaining: '0', reset: '1' });

    await new Promise((resolve) => setTimeout(resolve, 1_050));
    const recovered = await get(COMPANIES);
    expect(recovered.status).toBe(200);
    expect(rateHeaders(recovered).remaining).toBe('2');
  });

  it('C15 When two keys are used, Then each has its own window; control calls are never limited', async () => {
    await startWith({ rateLimitPerMinute: 1 });
    emulator.control.addApiKey({ installation: 'acme', apiKey: 'second-key' });
    expect((await get(COMPANIES)).status).toBe(200);
    expect((await get(COMPANIES)).status).toBe(429);
    expect((await get(COMPANIES, 'second-key')).status).toBe(200);
    for (let index = 0; index < 5; index += 1) {
      expect((await fetch(`${emulator.url}/_emulator/requestCounts`)).status).toBe(200);
    }
  });

  it('C15 When resetHeader is epoch, Then X-Rate-Limit-Reset is the window end in epoch seconds', async () => {
    await startWith({ rateLimitPerMinute: 10, resetHeader: 'epoch' });
    const before = Date.now();
    const reset = Number((await get(COMPANIES)).headers.get('x-rate-limit-reset'));
    expect(reset).toBeGreaterThanOrEqual(Math.floor((before + 60_000) / 1000));
    expect(reset).toBeLessThanOrEqual(Math.ceil((Date.now() + 60_000) / 1000));
  });

  it('C15 When the limit is changed at runtime, Then the next request obeys it; 0 removes limit and headers; reset restores it', async () => {
    await startWith({ rateLimitPerMinute: 100 });
    await get(COMPANIES);
    emulator.control.setRateLimit({ perMinute: 1 });
    expect((await get(COMPANIES)).status).toBe(429);
    emulator.control.setRateLimit({ perMinute: 0 });
    const unlimited = await get(COMPANIES);
    expect(unlimited.status).toBe(200);
    expect(unlimited.headers.get('x-rate-limit-limit')).toBeNull();
    emulator.control.reset();
    site = emulator.control.createInstallation({ name: 'acme', apiKey: 'key-acme' });
    expect((await get(COMPANIES)).headers.get('x-rate-limit-limit')).toBe('100');
  });
});

describe('faults', () => {
  beforeEach(() => startWith({ rateLimitPerMinute: 150 }));

  it('C15 When a 429 fault is injected, Then the next request gets 429 with rate headers, then service resumes', async () => {
    emulator.control.injectFaults({ rateLimit429: { next: 1 } });
    const refused = await get(COMPANIES);
    expect(refused.status).toBe(429);
    expect(await refused.text()).toBe(RATE_LIMIT_TEXT);
    expect(rateHeaders(refused)).toMatchObject({ limit: '150', remaining: '0' });
    expect(Number(rateHeaders(refused).reset)).toBeGreaterThanOrEqual(1);
    expect((await get(COMPANIES)).status).toBe(200);
  });

  it('C15 When server errors are injected, Then 500 is JSON and 502/503 come as load-balancer text', async () => {
    emulator.control.injectFaults({ serverError: { next: 1 } });
    const internal = await get(COMPANIES);
    expect(internal.status).toBe(500);
    expect((await json(internal)).errors[0].title).toBe('Internal Server Error');
    emulator.control.injectFaults({ serverError: { next: 1, status: 503 } });
    const unavailable = await get(COMPANIES);
    expect(unavailable.status).toBe(503);
    expect(await unavailable.text()).toBe('Service Unavailable');
    expect((await get(COMPANIES)).status).toBe(200);
  });

  it('C15 When server errors are probabilistic, Then roughly that share fails, reproducibly by seed', async () => {
    const statusesOf = async (target: TeamworkEmulator, apiKey: string) => {
      target.control.injectFaults({ serverError: { probability: 0.5 } });
      const statuses = [];
      for (let index = 0; index < 40; index += 1) {
        const response = await fetch(`${target.url}/acme${COMPANIES}`, { headers: { Authorization: `Bearer ${apiKey}` } });
        statuses.push(response.status);
      }
      return statuses;
    };
    const statuses = await statusesOf(emulator, site.apiKey);
    const failures = statuses.filter((status) => status === 500).length;
    expect(failures).toBeGreaterThan(8);
    expect(failures).toBeLessThan(32);

    const replay = await startTeamworkEmulator({ rateLimitPerMinute: 150 });
    replay.control.createInstallation({ name: 'acme', apiKey: 'replay-key' });
    expect(await statusesOf(replay, 'replay-key')).toEqual(statuses);
    await replay.close();

    emulator.control.clearFaults();
    expect((await get(COMPANIES)).status).toBe(200);
  });

  it('C15 When latency is injected, Then responses are delayed by it', async () => {
    emulator.control.injectFaults({ latencyMs: 150 });
    const startedAt = Date.now();
    expect((await get(COMPANIES)).status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
  });

  it('C15 When a matching request is failed, Then only it fails, the given times, with the given body', async () => {
    emulator.control.injectFaults({
      failRequest: { method: 'POST', pathIncludes: '/people.json', status: 422, body: { MESSAGE: 'Nope', STATUS: 'Error' }, times: 2 },
    });
    const post = () =>
      fetch(`${site.baseUrl}/people.json`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${site.apiKey}` },
        body: JSON.stringify({ person: { 'first-name': 'A', 'email-address': `a${Math.random()}@x.test` } }),
      });
    expect((await get(COMPANIES)).status).toBe(200);
    const first = await post();
    expect(first.status).toBe(422);
    expect(await json(first)).toEqual({ MESSAGE: 'Nope', STATUS: 'Error' });
    expect((await post()).status).toBe(422);
    expect((await post()).status).toBe(201);
    expect(emulator.control.listPeople({ installation: 'acme' })).toHaveLength(2);
  });

  it('I13 When a failure is injected after commit, Then the write happens but the client sees the error', async () => {
    emulator.control.injectFaults({ failRequest: { method: 'POST', pathIncludes: 'companies', status: 502, afterCommit: true } });
    const response = await fetch(`${site.baseUrl}${COMPANIES}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${site.apiKey}` },
      body: JSON.stringify({ company: { name: 'Half Done' } }),
    });
    expect(response.status).toBe(502);
    expect(emulator.control.listCompanies({ installation: 'acme' }).map((company) => company.name)).toContain('Half Done');
  });
});

describe('request log and control over HTTP', () => {
  beforeEach(() => startWith({ rateLimitPerMinute: 0 }));

  it('C1 When requests are made, Then the log has path without the site prefix, query and status, and counts group by route', async () => {
    await get(`${COMPANIES}?page=2&pageSize=10`);
    await get('/projects/api/v3/companies/1.json');
    await get('/projects/api/v3/companies/99.json');
    await get(COMPANIES, 'wrong-key');
    expect(emulator.control.requestLog().map(({ method, path, query, status, installation }) => ({ method, path, query, status, installation }))).toEqual([
      { method: 'GET', path: COMPANIES, query: { page: '2', pageSize: '10' }, status: 200, installation: 'acme' },
      { method: 'GET', path: '/projects/api/v3/companies/1.json', query: {}, status: 200, installation: 'acme' },
      { method: 'GET', path: '/projects/api/v3/companies/99.json', query: {}, status: 404, installation: 'acme' },
      { method: 'GET', path: COMPANIES, query: {}, status: 401, installation: 'acme' },
    ]);
    expect(emulator.control.requestCounts()).toEqual({ [`GET ${COMPANIES}`]: 2, 'GET /projects/api/v3/companies/{id}.json': 2 });
    emulator.control.clearRequestLog();
    expect(emulator.control.requestLog()).toEqual([]);
  });

  it('C1 When driven over /_emulator, Then installations, seeding, edits and reads work as JSON', async () => {
    const control = (method: string, body?: unknown) =>
      fetch(`${emulator.url}/_emulator/${method}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const created = await control('createInstallation', { name: 'globex', apiKey: 'key-globex' });
    expect(created.status).toBe(200);
    expect(await json(created)).toMatchObject({ baseUrl: `${emulator.url}/globex`, apiKey: 'key-globex' });
    const seeded = await json(await control('seed', { installation: 'globex', companies: 3, contactsPerCompany: 2 }));
    expect(seeded.personIds).toHaveLength(6);
    const updated = await control('updateCompany', { installation: 'globex', id: seeded.companyIds[0], patch: { name: 'Renamed' } });
    expect((await json(updated)).name).toBe('Renamed');
    const company = await json(await control(`getCompany?installation=globex&id=${seeded.companyIds[0]}`));
    expect(company.name).toBe('Renamed');
    const conflict = await control('createCompany', { installation: 'globex', company: { name: 'renamed' } });
    expect(conflict.status).toBe(409);
    expect((await json(conflict)).error.kind).toBe('conflict');
    expect((await control('noSuchMethod', {})).status).toBe(404);
    expect((await control('reset', {})).status).toBe(204);
    expect(await json(await control('listInstallations'))).toEqual([]);
  });
});

describe('seeding', () => {
  beforeEach(() => startWith({ rateLimitPerMinute: 0 }));

  it('C1 When 10,000 companies with 5 contacts each are seeded, Then every company and person is there, unique and on its company domain', async () => {
    const result = emulator.control.seed({ installation: 'acme', companies: 10_000, contactsPerCompany: 5 });
    expect(result.companyIds).toHaveLength(10_000);
    expect(result.personIds).toHaveLength(50_000);

    const people = emulator.control.listPeople({ installation: 'acme' }).filter((person) => person.type === 'contact');
    expect(new Set(people.map((person) => person.email)).size).toBe(50_000);
    const company = emulator.control.getCompany({ installation: 'acme', id: result.companyIds[0] })!;
    const [domain] = company.domains.map((entry) => entry.name);
    expect(people.filter((person) => person.companyId === company.id).every((person) => person.email.endsWith(`@${domain}`))).toBe(true);
    expect(people[0].email).toMatch(new RegExp(`^[a-z]+\\.[a-z]+\\.${people[0].id}@`));

    const again = await startTeamworkEmulator({ rateLimitPerMinute: 0 });
    again.control.createInstallation({ name: 'acme', apiKey: 'k' });
    again.control.seed({ installation: 'acme', companies: 3, contactsPerCompany: 1 });
    expect(again.control.listCompanies({ installation: 'acme' }).map((c) => c.name)).toEqual(
      emulator.control.listCompanies({ installation: 'acme' }).slice(0, 4).map((c) => c.name),
    );
    await again.close();
  });

  it('C1 When startId is given, Then seeded ids start there and later ids continue after them', async () => {
    const result = emulator.control.seed({ installation: 'acme', companies: 2, contactsPerCompany: 1, startId: 5000 });
    expect(result.companyIds).toEqual([5000, 5001]);
    expect(result.personIds).toEqual([5000, 5001]);
    expect(emulator.control.createCompany({ installation: 'acme', company: { name: 'Next' } }).id).toBe(5002);
  });
});
