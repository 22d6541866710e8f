import { startTeamworkEmulator, type InstallationHandle, type TeamworkEmulator } from '../../emulators/teamwork';

let emulator: TeamworkEmulator;
let site: InstallationHandle;

beforeAll(async () => {
  emulator = await startTeamworkEmulator({ rateLimitPerMinute: 0 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.control.reset();
  site = emulator.control.createInstallation({ name: 'acme', apiKey: 'key-acme', ownerCompanyName: 'Acme Agency' });
});

const basic = (apiKey: string) => `Basic ${Buffer.from(`${apiKey}:xxx`).toString('base64')}`;

async function call(method: string, path: string, body?: unknown, authorization = basic(site.apiKey)) {
  const response = await fetch(`${site.baseUrl}${path}`, {
    method,
    headers: { Authorization: authorization, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const json: any = text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
  return { status: response.status, headers: response.headers, text, json };
}

const createCompany = (company: Record<string, unknown>) => call('POST', '/projects/api/v3/companies.json', { company });
const createContact = (person: Record<string, unknown>) =>
  call('POST', '/people.json', { person: { 'user-type': 'contact', 'first-name': 'Ann', 'last-name': 'Lee', ...person } });

describe('authentication', () => {
  it('C1 When the API key is missing or wrong, Then 401 with a v3 errors body', async () => {
    for (const authorization of ['', basic('nope'), 'Bearer nope']) {
      const response = await call('GET', '/projects/api/v3/companies.json', undefined, authorization);
      expect(response.status).toBe(401);
      expect(response.json.errors[0].title).toBe('Unauthorized');
    }
  });

  it('C1 When Basic (key as user, any password) or Bearer is used, Then the request is served', async () => {
    expect((await call('GET', '/projects/api/v3/me.json', undefined, basic(site.apiKey))).status).toBe(200);
    const bearer = await call('GET', '/projects/api/v3/me.json', undefined, `Bearer ${site.apiKey}`);
    expect(bearer.json.person).toMatchObject({ id: site.siteOwnerId, type: 'account' });
  });

  it('C1 When a key of another installation is used, Then 401 (keys are per site)', async () => {
    const other = emulator.control.createInstallation({ name: 'globex', apiKey: 'key-globex' });
    const response = await call('GET', '/projects/api/v3/companies.json', undefined, basic(other.apiKey));
    expect(response.status).toBe(401);
  });
});

describe('v3 companies', () => {
  it('C1 When listing, Then the owner company is marked isOwner and clients are not', async () => {
    await createCompany({ name: 'Client Co' });
    const { json } = await call('GET', '/projects/api/v3/companies.json');
    expect(json.companies.map((company: { name: string; isOwner: boolean }) => [company.name, company.isOwner])).toEqual([
      ['Acme Agency', true],
      ['Client Co', false],
    ]);
  });

  it('C4 When a company is created, Then 201 {company} with id, status and millisecond timestamps', async () => {
    const response = await createCompany({
      name: 'Globex',
      website: 'https://globex.test',
      emailOne: 'hq@globex.test',
      countrycode: 'IE',
      companyDomains: [{ name: 'Globex.test' }],
    });
    expect(response.status).toBe(201);
    expect(response.json.company).toMatchObject({
      name: 'Globex',
      website: 'https://globex.test',
      emailOne: 'hq@globex.test',
      countryCode: 'IE',
      isOwner: false,
      status: 'active',
    });
    expect(response.json.company.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const [domainRef] = response.json.company.companyDomains;
    expect(domainRef.type).toBe('companyDomains');
    expect(response.json.included.companyDomains[String(domainRef.id)]).toMatchObject({ name: 'globex.test' });
  });

  it('C4 When the name is missing, Then 422 with errors[].title and detail', async () => {
    const response = await createCompany({ website: 'https://x.test' });
    expect(response.status).toBe(422);
    expect(response.json.errors[0]).toEqual({ title: 'Unprocessable Entity', detail: 'Company name is required' });
  });

  it('C2 When a name is reused with other case and spacing, Then 409 on create and on rename', async () => {
    await createCompany({ name: 'Initech' });
    expect((await createCompany({ name: '  INITECH ' })).status).toBe(409);
    const other = await createCompany({ name: 'Hooli' });
    const rename = await call('PATCH', `/projects/api/v3/companies/${other.json.company.id}.json`, { company: { name: 'initech' } });
    expect(rename.status).toBe(409);
  });

  it('C5 When a company is patched, Then 200 with only the given fields changed and updatedAt advanced', async () => {
    const created = (await createCompany({ name: 'Umbrella', website: 'https://u.test', emailOne: 'a@u.test' })).json.company;
    const patched = await call('PATCH', `/projects/api/v3/companies/${created.id}.json`, { company: { website: 'https://umbrella.test' } });
    expect(patched.status).toBe(200);
    expect(patched.json.company).toMatchObject({ name: 'Umbrella', website: 'https://umbrella.test', emailOne: 'a@u.test' });
    expect(patched.json.company.updatedAt > created.updatedAt).toBe(true);
  });

  it('C11 When a company is deleted, Then 204, GET is 404, and its people are deleted too', async () => {
    const company = (await createCompany({ name: 'Doomed' })).json.company;
    const person = await createContact({ 'email-address': 'ann@doomed.test', 'company-id': company.id });
    const response = await call('DELETE', `/projects/api/v3/companies/${company.id}.json`);
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await call('GET', `/projects/api/v3/companies/${company.id}.json`)).status).toBe(404);
    expect((await call('GET', `/projects/api/v3/people/${person.json.id}.json`)).status).toBe(404);
    const withDeleted = await call('GET', `/projects/api/v3/companies.json?showDeleted=true&searchTerm=doomed`);
    expect(withDeleted.json.companies[0].status).toBe('deleted');
  });

  it('C11 When the owner company is deleted, Then 403 and it remains', async () => {
    const response = await call('DELETE', `/projects/api/v3/companies/${site.ownerCompanyId}.json`);
    expect(response.status).toBe(403);
    expect((await call('GET', `/projects/api/v3/companies/${site.ownerCompanyId}.json`)).status).toBe(200);
  });

  it('O4 When the body is not JSON, Then 400 and nothing is created', async () => {
    const response = await call('POST', '/projects/api/v3/companies.json', '{"company":');
    expect(response.status).toBe(400);
    expect(response.json.errors[0].title).toBe('Bad Request');
    expect(emulator.control.listCompanies({ installation: 'acme' })).toHaveLength(1);
  });
});

describe('paging and incremental reads', () => {
  beforeEach(() => {
    emulator.control.seed({ installation: 'acme', companies: 1200, contactsPerCompany: 1 });
  });

  it('C1 When pageSize exceeds 500, Then it is clamped and hasMore drives the iteration', async () => {
    const seen = new Set<number>();
    const metas = [];
    for (let page = 1; ; page += 1) {
      const { json } = await call('GET', `/projects/api/v3/companies.json?page=${page}&pageSize=1000&orderBy=id`);
      json.companies.forEach((company: { id: number }) => seen.add(company.id));
      metas.push(json.meta.page);
      if (!json.meta.page.hasMore) break;
    }
    expect(metas).toEqual([
      { pageOffset: 0, pageSize: 500, count: 1201, hasMore: true },
      { pageOffset: 1, pageSize: 500, count: 1201, hasMore: true },
      { pageOffset: 2, pageSize: 500, count: 1201, hasMore: false },
    ]);
    expect(seen.size).toBe(1201);
  });

  it('C1 When skipCounts is set, Then count is the documented lower bound while hasMore', async () => {
    const { json } = await call('GET', '/projects/api/v3/companies.json?pageSize=500&page=2&skipCounts=true');
    expect(json.meta.page).toEqual({ pageOffset: 1, pageSize: 500, count: 1001, hasMore: true });
  });

  it('C3 When updatedAfter is the last seen updatedAt, Then exactly the later changes are returned', async () => {
    const all = (await call('GET', '/projects/api/v3/companies.json?orderBy=updatedat&pageSize=500&page=3')).json.companies;
    const cursor = all[all.length - 1].updatedAt;
    const [first, second] = emulator.control.listCompanies({ installation: 'acme' }).slice(5, 7);
    emulator.control.updateCompany({ installation: 'acme', id: first.id, patch: { phone: '1' } });
    emulator.control.updateCompany({ installation: 'acme', id: second.id, patch: { phone: '2' } });
    const changed = await call('GET', `/projects/api/v3/companies.json?updatedAfter=${encodeURIComponent(cursor)}&orderBy=updatedat`);
    expect(changed.json.companies.map((company: { id: number }) => company.id)).toEqual([first.id, second.id]);
    const strictlyAfter = await call(
      'GET',
      `/projects/api/v3/companies.json?updatedAfter=${encodeURIComponent(changed.json.companies[1].updatedAt)}`,
    );
    expect(strictlyAfter.json.companies).toEqual([]);
  });

  it('C1 When people are filtered by userType and companyIds, Then only those are listed', async () => {
    const [companyId] = emulator.control.listCompanies({ installation: 'acme' }).filter((company) => !company.isOwner).map((c) => c.id);
    const contacts = await call('GET', `/projects/api/v3/people.json?userType=contact&companyIds=${companyId}`);
    expect(contacts.json.people).toHaveLength(1);
    expect(contacts.json.people[0]).toMatchObject({ type: 'contact', company: { id: companyId, type: 'companies' } });
    const accounts = await call('GET', '/projects/api/v3/people.json?userType=account');
    expect(accounts.json.people.map((person: { id: number }) => person.id)).toEqual([site.siteOwnerId]);
  });

  it('O4 When orderBy or updatedAfter is not understood, Then 400', async () => {
    expect((await call('GET', '/projects/api/v3/companies.json?orderBy=colour')).status).toBe(400);
    expect((await call('GET', '/projects/api/v3/people.json?updatedAfter=yesterday')).status).toBe(400);
  });
});

describe('v1 people writes', () => {
  let companyId: number;
  beforeEach(async () => {
    companyId = (await createCompany({ name: 'Contoso' })).json.company.id;
  });

  it('C6 When a contact is created with hyphenated keys, Then 201 {id: string, STATUS: OK} and v3 shows all C8 fields', async () => {
    const response = await createContact({
      'email-address': 'ann@contoso.test',
      'company-id': String(companyId),
      'email-alt-1': 'ann.lee@home.test',
      'avatar-url': 'https://img.test/ann.png',
      userTwitterName: '@ann',
      userLinkedin: 'https://linkedin.com/in/ann',
      userFacebook: 'ann.fb',
    });
    expect(response.status).toBe(201);
    expect(response.json).toEqual({ id: expect.stringMatching(/^\d+$/), STATUS: 'OK' });
    const v3 = await call('GET', `/projects/api/v3/people/${response.json.id}.json`);
    expect(v3.json.person).toMatchObject({
      firstName: 'Ann',
      lastName: 'Lee',
      email: 'ann@contoso.test',
      type: 'contact',
      company: { id: companyId, type: 'companies' },
      emailAlt1: 'ann.lee@home.test',
      avatarUrl: 'https://img.test/ann.png',
      userTwitterName: '@ann',
      userLinkedin: 'https://linkedin.com/in/ann',
      userFacebook: 'ann.fb',
      deleted: false,
    });
    const v1 = await call('GET', `/people/${response.json.id}.json`);
    expect(v1.json).toMatchObject({
      STATUS: 'OK',
      person: { 'email-address': 'ann@contoso.test', 'company-id': String(companyId), 'email-alt-1': 'ann.lee@home.test' },
    });
  });

  it('C2 When an email is already used by a live person (any case), Then 422 with a clear message', async () => {
    await createContact({ 'email-address': 'dup@contoso.test', 'company-id': companyId });
    const response = await createContact({ 'email-address': 'DUP@contoso.test', 'company-id': companyId });
    expect(response.status).toBe(422);
    expect(response.json).toEqual({ MESSAGE: expect.stringContaining('already in use'), STATUS: 'Error' });
  });

  it('C2 When the earlier holder of an email was deleted, Then the email can be used again', async () => {
    const first = await createContact({ 'email-address': 'reuse@contoso.test', 'company-id': companyId });
    expect((await call('DELETE', `/people/${first.json.id}.json`)).json).toEqual({ STATUS: 'OK' });
    expect((await createContact({ 'email-address': 'reuse@contoso.test', 'company-id': companyId })).status).toBe(201);
  });

  it.each(['email-address', 'company-id', 'last-name'])(
    'C7 When a contact has no %s, Then 422 {MESSAGE, STATUS: Error} and nothing is created',
    async (missing) => {
      const person: Record<string, unknown> = {
        'user-type': 'contact',
        'first-name': 'Ann',
        'last-name': 'Lee',
        'email-address': 'x@contoso.test',
        'company-id': companyId,
      };
      delete person[missing];
      const response = await call('POST', '/people.json', { person });
      expect(response.status).toBe(422);
      expect(response.json).toEqual({ MESSAGE: expect.any(String), STATUS: 'Error' });
      expect(emulator.control.listPeople({ installation: 'acme', companyId })).toEqual([]);
    },
  );

  it('C15 When the company does not exist, Then 422 and nothing is created', async () => {
    const response = await createContact({ 'email-address': 'ghost@contoso.test', 'company-id': 999999 });
    expect(response.status).toBe(422);
    expect(response.json.MESSAGE).toMatch(/Company 999999 does not exist/);
    expect(emulator.control.listPeople({ installation: 'acme', companyId: 999999 })).toEqual([]);
  });

  it('C5 When a person is updated with PUT, Then 200 {STATUS: OK} and only given keys change', async () => {
    const { json } = await createContact({ 'email-address': 'bob@contoso.test', 'company-id': companyId, title: 'CTO' });
    const response = await call('PUT', `/people/${json.id}.json`, { person: { 'first-name': 'Bob', 'email-alt-2': 'b@alt.test' } });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ STATUS: 'OK' });
    expect(emulator.control.getPerson({ installation: 'acme', id: Number(json.id) })).toMatchObject({
      firstName: 'Bob',
      lastName: 'Lee',
      title: 'CTO',
      emailAlt2: 'b@alt.test',
    });
  });

  it('C11 When an unknown person is updated or deleted, Then 404 in v1 format', async () => {
    const response = await call('PUT', '/people/424242.json', { person: { 'first-name': 'X' } });
    expect(response.status).toBe(404);
    expect(response.json.STATUS).toBe('Error');
    expect((await call('DELETE', '/people/424242.json')).status).toBe(404);
  });
});

describe('projects and tasks', () => {
  it('I13 When a task is created in a task list, Then 201 {task} and it can be read, patched and completed', async () => {
    const project = emulator.control.createProject({ installation: 'acme', name: 'Support' });
    const tasklist = emulator.control.createTasklist({ installation: 'acme', projectId: project.id, name: 'From Desk' });
    const projects = await call('GET', '/projects/api/v3/projects.json');
    expect(projects.json.projects.map((p: { name: string }) => p.name)).toEqual(['Support']);
    const lists = await call('GET', `/projects/api/v3/projects/${project.id}/tasklists.json`);
    expect(lists.json.tasklists[0]).toMatchObject({ id: tasklist.id, name: 'From Desk' });

    const created = await call('POST', `/projects/api/v3/tasklists/${tasklist.id}/tasks.json`, {
      task: { name: 'Call back', description: 'Ticket #7', assignees: { userIds: [site.siteOwnerId] }, dueAt: '2030-01-31' },
    });
    expect(created.status).toBe(201);
    expect(created.json.task).toMatchObject({
      name: 'Call back',
      status: 'new',
      progress: 0,
      tasklistId: tasklist.id,
      assigneeUsers: [{ id: site.siteOwnerId, type: 'users' }],
      dueAt: '2030-01-31',
    });
    const id = created.json.task.id;
    const patched = await call('PATCH', `/projects/api/v3/tasks/${id}.json`, { task: { status: 'completed' } });
    expect(patched.json.task).toMatchObject({ status: 'completed', progress: 100 });
    expect((await call('GET', `/projects/api/v3/tasks.json?ids=${id}`)).json.tasks[0].status).toBe('completed');
    expect((await call('DELETE', `/projects/api/v3/tasks/${id}.json`)).status).toBe(204);
    expect((await call('GET', `/projects/api/v3/tasks/${id}.json`)).status).toBe(404);
  });

  it('I13 When a task has no name or is assigned to a contact, Then 422; an unknown task list is 404', async () => {
    const project = emulator.control.createProject({ installation: 'acme', name: 'Support' });
    const tasklist = emulator.control.createTasklist({ installation: 'acme', projectId: project.id, name: 'L' });
    const company = (await createCompany({ name: 'Client' })).json.company;
    const contact = await createContact({ 'email-address': 'c@client.test', 'company-id': company.id });
    const path = `/projects/api/v3/tasklists/${tasklist.id}/tasks.json`;
    expect((await call('POST', path, { task: { description: 'x' } })).status).toBe(422);
    expect((await call('POST', path, { task: { name: 'x', assignees: { userIds: [Number(contact.json.id)] } } })).status).toBe(422);
    expect((await call('POST', '/projects/api/v3/tasklists/999/tasks.json', { task: { name: 'x' } })).status).toBe(404);
  });
});
