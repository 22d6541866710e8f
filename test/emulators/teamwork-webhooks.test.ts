import { createHmac } from 'node:crypto';
import { startTeamworkEmulator, type InstallationHandle, type TeamworkEmulator } from '../../emulators/teamwork';
import { startWebhookReceiver, type WebhookReceiver } from '../../emulators/teamwork/webhook-receiver';

const TOKEN = 'shared-secret';
let emulator: TeamworkEmulator;
let site: InstallationHandle;
let receiver: WebhookReceiver | undefined;

beforeAll(async () => {
  emulator = await startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [50, 100], webhookTimeoutMs: 300 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.control.reset();
  site = emulator.control.createInstallation({ name: 'acme', apiKey: 'key-acme' });
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${site.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${site.apiKey}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : undefined) as any };
}

const register = (event: string, url: string, token = TOKEN) =>
  call('POST', '/webhooks.json', { webhook: { event, url, version: '2', contentType: 'application/json', token } });

const sign = (rawBody: string) => createHmac('sha256', TOKEN).update(rawBody).digest('hex');

describe('webhook registry', () => {
  it('C3 When a webhook is registered, Then 201 {id} and the list never shows its token', async () => {
    const created = await register('COMPANY.CREATED', 'http://127.0.0.1:9/hooks');
    expect(created.status).toBe(201);
    expect(created.json.id).toMatch(/^\d+$/);
    const listed = await call('GET', '/webhooks.json');
    expect(listed.json.webhooks).toEqual([
      expect.objectContaining({ id: created.json.id, event: 'COMPANY.CREATED', url: 'http://127.0.0.1:9/hooks', version: '2' }),
    ]);
    expect(JSON.stringify(listed.json)).not.toContain(TOKEN);
    expect((await call('DELETE', `/webhooks/${created.json.id}.json`)).status).toBe(200);
    expect((await call('GET', '/webhooks.json')).json.webhooks).toEqual([]);
  });

  it('C3 When the event is unknown or the same event and URL are registered twice, Then 422', async () => {
    expect((await register('CONTACT.CREATED', 'http://127.0.0.1:9/hooks')).status).toBe(422);
    await register('USER.CREATED', 'http://127.0.0.1:9/hooks');
    expect((await register('USER.CREATED', 'http://127.0.0.1:9/hooks')).status).toBe(422);
  });
});

describe('webhook delivery', () => {
  it('C3 When a company is created through the API, Then a signed COMPANY.CREATED v2 payload is posted', async () => {
    receiver = await startWebhookReceiver();
    await register('COMPANY.CREATED', receiver.url);
    const created = await call('POST', '/projects/api/v3/companies.json', { company: { name: 'Globex' } });
    const [delivery] = await receiver.waitFor(1);
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(delivery.headers['x-projects-event']).toBe('COMPANY.CREATED');
    expect(delivery.headers['x-projects-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(delivery.headers['x-projects-signature']).toBe(sign(delivery.rawBody));
    expect(delivery.body).toEqual({
      eventCreator: { id: site.siteOwnerId, firstName: 'Site', lastName: 'Owner', avatar: '' },
      company: created.json.company,
    });
  });

  it('C14 When people are written through v1, Then USER.CREATED/UPDATED/DELETED carry the v3 person (echoes are real)', async () => {
    receiver = await startWebhookReceiver();
    for (const event of ['USER.CREATED', 'USER.UPDATED', 'USER.DELETED']) await register(event, receiver.url);
    const company = emulator.control.createCompany({ installation: 'acme', company: { name: 'Initech' } });
    const created = await call('POST', '/people.json', {
      person: { 'user-type': 'contact', 'first-name': 'Ann', 'last-name': 'Lee', 'email-address': 'ann@initech.test', 'company-id': company.id },
    });
    await call('PUT', `/people/${created.json.id}.json`, { person: { title: 'CEO' } });
    await call('DELETE', `/people/${created.json.id}.json`);
    const deliveries = await receiver.waitFor(3);
    expect(deliveries.map((delivery) => delivery.headers['x-projects-event']).sort()).toEqual([
      'USER.CREATED',
      'USER.DELETED',
      'USER.UPDATED',
    ]);
    const updated = deliveries.find((delivery) => delivery.headers['x-projects-event'] === 'USER.UPDATED')!;
    expect(updated.body).toMatchObject({ user: { id: Number(created.json.id), title: 'CEO', type: 'contact', email: 'ann@initech.test' } });
  });

  it('C11 When a company is deleted in the UI, Then each of its people gets USER.DELETED and the company COMPANY.DELETED', async () => {
    receiver = await startWebhookReceiver();
    await register('USER.DELETED', receiver.url);
    await register('COMPANY.DELETED', receiver.url);
    const { companyIds, personIds } = emulator.control.seed({ installation: 'acme', companies: 1, contactsPerCompany: 2, usersPerCompany: 1 });
    emulator.control.deleteCompany({ installation: 'acme', id: companyIds[0] });
    const deliveries = await receiver.waitFor(4);
    const deletedUsers = deliveries
      .filter((delivery) => delivery.headers['x-projects-event'] === 'USER.DELETED')
      .map((delivery) => (delivery.body as { user: { id: number; deleted: boolean } }).user);
    expect(deletedUsers.map((user) => user.id).sort()).toEqual([...personIds].sort());
    expect(deletedUsers.every((user) => user.deleted)).toBe(true);
    const companyDeleted = deliveries.find((d) => d.headers['x-projects-event'] === 'COMPANY.DELETED')!;
    expect(companyDeleted.body).toMatchObject({ company: { id: companyIds[0], status: 'deleted' } });
  });

  it('C3 When seeding pre-existing data, Then no webhook fires; UI edits through the control surface do fire', async () => {
    receiver = await startWebhookReceiver();
    await register('COMPANY.CREATED', receiver.url);
    await register('COMPANY.UPDATED', receiver.url);
    const { companyIds } = emulator.control.seed({ installation: 'acme', companies: 20, contactsPerCompany: 1 });
    emulator.control.updateCompany({ installation: 'acme', id: companyIds[3], patch: { website: 'https://new.test' } });
    await emulator.control.webhooksSettled();
    expect(receiver.received.map((delivery) => delivery.headers['x-projects-event'])).toEqual(['COMPANY.UPDATED']);
    expect(receiver.received[0].body).toMatchObject({ company: { id: companyIds[3], website: 'https://new.test' } });
  });

  it('I13 When a task is completed, Then TASK.COMPLETED (not TASK.UPDATED) is delivered', async () => {
    receiver = await startWebhookReceiver();
    await register('TASK.COMPLETED', receiver.url);
    await register('TASK.UPDATED', receiver.url);
    const project = emulator.control.createProject({ installation: 'acme', name: 'P' });
    const tasklist = emulator.control.createTasklist({ installation: 'acme', projectId: project.id, name: 'L' });
    const task = emulator.control.createTask({ installation: 'acme', tasklistId: tasklist.id, task: { name: 'T' } });
    emulator.control.completeTask({ installation: 'acme', id: task.id });
    await emulator.control.webhooksSettled();
    expect(receiver.received.map((delivery) => delivery.headers['x-projects-event'])).toEqual(['TASK.COMPLETED']);
    expect(receiver.received[0].body).toMatchObject({ task: { id: task.id, status: 'completed' } });
  });

  it('C15 When the receiver fails, Then the same delivery is retried after each delay and logged per attempt', async () => {
    receiver = await startWebhookReceiver({ statusFor: (index) => (index < 2 ? 503 : 200) });
    await register('COMPANY.CREATED', receiver.url);
    emulator.control.createCompany({ installation: 'acme', company: { name: 'Flaky' } });
    await emulator.control.webhooksSettled();
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((delivery) => delivery.headers['x-projects-delivery'])).size).toBe(1);
    expect(receiver.received[1].receivedAt - receiver.received[0].receivedAt).toBeGreaterThanOrEqual(45);
    expect(emulator.control.deliveries().map(({ attempt, status, outcome }) => ({ attempt, status, outcome }))).toEqual([
      { attempt: 1, status: 503, outcome: 'retry_scheduled' },
      { attempt: 2, status: 503, outcome: 'retry_scheduled' },
      { attempt: 3, status: 200, outcome: 'delivered' },
    ]);
    expect(emulator.control.deliveries()[2].latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('C15 When the receiver is always too slow, Then every attempt times out and the delivery is given up', async () => {
    receiver = await startWebhookReceiver({ delayMsFor: () => 1_000 });
    await register('COMPANY.CREATED', receiver.url);
    emulator.control.createCompany({ installation: 'acme', company: { name: 'Slowpoke' } });
    await emulator.control.webhooksSettled();
    const attempts = emulator.control.deliveries();
    expect(attempts.map(({ attempt, status, outcome }) => ({ attempt, status, outcome }))).toEqual([
      { attempt: 1, status: null, outcome: 'retry_scheduled' },
      { attempt: 2, status: null, outcome: 'retry_scheduled' },
      { attempt: 3, status: null, outcome: 'gave_up' },
    ]);
    expect(attempts[0].error).toMatch(/Timeout|abort/i);
  });

  it('C3 When webhooks are dropped by a fault, Then the receiver never sees them and the log says dropped', async () => {
    receiver = await startWebhookReceiver();
    await register('COMPANY.CREATED', receiver.url);
    emulator.control.injectFaults({ dropWebhooks: { next: 1 } });
    emulator.control.createCompany({ installation: 'acme', company: { name: 'Lost' } });
    emulator.control.createCompany({ installation: 'acme', company: { name: 'Found' } });
    await emulator.control.webhooksSettled();
    expect(receiver.received.map((delivery) => (delivery.body as { company: { name: string } }).company.name)).toEqual(['Found']);
    expect(emulator.control.deliveries().map((entry) => entry.outcome)).toEqual(['dropped', 'delivered']);
  });

  it('C3 When the webhook has no token, Then deliveries carry no signature header', async () => {
    receiver = await startWebhookReceiver();
    await register('COMPANY.CREATED', receiver.url, '');
    emulator.control.createCompany({ installation: 'acme', company: { name: 'Unsigned' } });
    const [delivery] = await receiver.waitFor(1);
    expect(delivery.headers['x-projects-signature']).toBeUndefined();
  });
});
