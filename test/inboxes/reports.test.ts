import request from 'supertest';
import { Types } from 'mongoose';
import { InboxModel, TicketModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, ownerFor } from '../support/sites';

describe('ticket reports (I10)', () => {
  let system: TestSystem;
  let owner: string;
  let agent: string;
  let siteId: string;
  let agentsInbox: Types.ObjectId;
  let ownersInbox: Types.ObjectId;
  const teamInbox = new Types.ObjectId();

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    const signup = await request(system.app).post('/api/signup').send({ siteName: 'Reports', slug: `reports-${Date.now()}`, owner: ownerFor('reports') });
    owner = signup.body.owner.token;
    siteId = signup.body.site.id;
    const invited = await request(system.app).post('/api/users').set(bearer(owner)).send({ email: 'agent@reports.example.com', firstName: 'A', lastName: 'Gent', role: 'agent' });
    agent = invited.body.token;
    const site = new Types.ObjectId(siteId);
    [agentsInbox, ownersInbox] = (
      await InboxModel.create([
        { siteId: site, name: "Agent's mail", provider: 'gmail', createdBy: new Types.ObjectId(invited.body.id) },
        { siteId: site, name: "Owner's mail", provider: 'outlook', createdBy: new Types.ObjectId(signup.body.owner.id) },
      ])
    ).map((i) => i._id);
    const ticket = (inboxId: Types.ObjectId, inboxType: 'individual' | 'team', day: string, status: string) => ({
      siteId: site, inboxId, inboxType, status, threadKey: `${inboxId}:${new Types.ObjectId()}`,
      firstMessageAt: new Date(`${day}T10:00:00Z`), lastMessageAt: new Date(`${day}T10:00:00Z`), createdDay: day,
    });
    await TicketModel.create([
      ticket(agentsInbox, 'individual', '2026-11-01', 'open'),
      ticket(agentsInbox, 'individual', '2026-11-02', 'solved'),
      ticket(ownersInbox, 'individual', '2026-11-02', 'open'),
      ticket(teamInbox, 'team', '2026-11-01', 'open'),
      ticket(teamInbox, 'team', '2026-11-03', 'closed'),
      ticket(teamInbox, 'team', '2026-12-01', 'open'),
    ]);
  });
  afterAll(async () => {
    await system?.stop();
  });

  const report = (token: string, query: string) => request(system.app).get(`/api/reports/tickets?${query}`).set(bearer(token));

  test('I10 When the owner asks for a date range, Then tickets are counted by status, inbox and day', async () => {
    const res = await report(owner, 'from=2026-11-01&to=2026-11-30');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      total: 5,
      byStatus: { open: 3, solved: 1, closed: 1, pending: 0 },
      byInbox: { [String(agentsInbox)]: 2, [String(ownersInbox)]: 1, [String(teamInbox)]: 2 },
      byDay: { '2026-11-01': 2, '2026-11-02': 2, '2026-11-03': 1 },
    });
  });

  test('I10 When excludeWorkEmails=true, Then individual-inbox tickets are left out', async () => {
    const res = await report(owner, 'from=2026-11-01&to=2026-11-30&excludeWorkEmails=true');
    expect(res.body).toMatchObject({ total: 2, byInbox: { [String(teamInbox)]: 2 } });
    expect(res.body.byInbox).not.toHaveProperty(String(agentsInbox));
  });

  test('I10 When excludeInboxTypes=individual, Then the API gives the same answer as excludeWorkEmails', async () => {
    const viaApi = await report(owner, 'from=2026-11-01&to=2026-11-30&excludeInboxTypes=individual');
    const viaFilter = await report(owner, 'from=2026-11-01&to=2026-11-30&excludeWorkEmails=true');
    expect(viaApi.body).toEqual(viaFilter.body);
  });

  test('I8 I10 When an agent asks, Then only tickets of inboxes the agent may see are counted', async () => {
    const res = await report(agent, 'from=2026-11-01&to=2026-11-30');
    expect(res.body).toMatchObject({ total: 2, byInbox: { [String(agentsInbox)]: 2 } });
    expect(Object.keys(res.body.byInbox)).toEqual([String(agentsInbox)]);
  });

  test.each([
    ['no range', ''],
    ['a malformed day', 'from=2026-13-45&to=2026-11-30'],
    ['a reversed range', 'from=2026-11-30&to=2026-11-01'],
    ['an unknown inbox type', 'from=2026-11-01&to=2026-11-30&excludeInboxTypes=personal'],
    ['an unknown parameter', 'from=2026-11-01&to=2026-11-30&siteId=x'],
  ])('I10 When a report is asked with %s, Then 400 problem+json', async (_case, query) => {
    const res = await report(owner, query);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
