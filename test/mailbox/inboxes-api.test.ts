import request from 'supertest';
import { generateMailbox } from '../../emulators/mail/generate';
import { InboxModel, TicketModel } from '../../models';
import { bearer } from '../support/sites';
import { connectInbox, createInbox, inviteUser, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed } from './support';

describe('inbox and ticket API (I1, I8 scoping, I11, O2)', () => {
  let bed: MailTestBed;
  beforeAll(async () => {
    // Small batches, so a backfill's progress is visible between them.
    bed = await startMailTestBed({ env: { MAILBOX_BATCH_SIZE: '10', MAILBOX_CONCURRENT_BATCHES: '2' } });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  test('I1 I11 When an agent creates an inbox, Then it has the given settings, the creator is inbox admin, notifications and happiness ratings are off', async () => {
    const site = await signUpSite(bed.system);
    const agent = await inviteUser(bed.system, site, 'agent');
    const colleague = await inviteUser(bed.system, site, 'agent');
    const res = await request(bed.system.app)
      .post('/api/inboxes')
      .set(bearer(agent.token))
      .send({ provider: 'outlook', name: '  My mail ', importEmails: true, filterMode: 'client_only', excludedDomains: ['Spam.Example.com', '*.ads.test'], members: [{ userId: colleague.id, access: 'read_only' }] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      type: 'individual', name: 'My mail', provider: 'outlook', importEmails: true, filterMode: 'client_only', excludedDomains: ['spam.example.com', '*.ads.test'],
      createdBy: agent.id, notifications: false, happinessRatings: false, status: 'pending', mailboxAddress: null,
    });
    expect(res.body.members).toEqual([
      { userId: agent.id, access: 'read_reply', inboxAdmin: true },
      { userId: colleague.id, access: 'read_only', inboxAdmin: false },
    ]);
  });

  test('I1 I11 When a body is invalid or sets server-owned fields, Then 400 problem+json and nothing is written', async () => {
    const site = await signUpSite(bed.system);
    const base = { provider: 'gmail', name: 'Inbox', importEmails: true, filterMode: 'all' };
    const other = await signUpSite(bed.system);
    const bad = [
      { ...base, provider: 'imap' },
      { ...base, filterMode: 'some' },
      { ...base, name: '' },
      { ...base, siteId: other.siteId },
      { ...base, createdBy: other.ownerId },
      { ...base, status: 'connected' },
      { ...base, excludedDomains: ['not a domain'] },
      { ...base, members: [{ userId: other.ownerId, access: 'read_only' }] },
      { provider: 'gmail', name: 'Missing fields' },
    ];
    for (const body of bad) {
      const res = await request(bed.system.app).post('/api/inboxes').set(bearer(site.token)).send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    const ratings = await request(bed.system.app).post('/api/inboxes').set(bearer(site.token)).send({ ...base, happinessRatings: true });
    expect(ratings.status).toBe(403);
    expect(await InboxModel.countDocuments({ siteId: site.siteId })).toBe(0);
    const premium = await signUpSite(bed.system, 'premium');
    expect((await request(bed.system.app).post('/api/inboxes').set(bearer(premium.token)).send({ ...base, happinessRatings: true })).body.happinessRatings).toBe(true);
  });

  test('I8 When users of one site look at inboxes and tickets, Then the owner sees all, others only theirs, other sites nothing (404), and only managers edit', async () => {
    const site = await signUpSite(bed.system);
    const admin = await inviteUser(bed.system, site, 'admin');
    const agent = await inviteUser(bed.system, site, 'agent');
    const member = await inviteUser(bed.system, site, 'agent');
    const outsider = await signUpSite(bed.system);
    const adminInbox = await createInbox(bed.system, admin.token, { provider: 'gmail', members: [{ userId: member.id, access: 'read_only' }] });
    const agentInbox = await createInbox(bed.system, agent.token, { provider: 'outlook' });
    const ticket = await TicketModel.create({ siteId: site.siteId, inboxId: adminInbox.id, threadKey: `${adminInbox.id}:t1`, subject: 'Hello', firstMessageAt: new Date(), lastMessageAt: new Date(), createdDay: '2026-01-01' });

    const ids = async (token: string) => (await request(bed.system.app).get('/api/inboxes').set(bearer(token))).body.items.map((i: { id: string }) => i.id).sort();
    expect(await ids(site.token)).toEqual([adminInbox.id, agentInbox.id].sort());
    expect(await ids(admin.token)).toEqual([adminInbox.id]);
    expect(await ids(member.token)).toEqual([adminInbox.id]);
    expect(await ids(agent.token)).toEqual([agentInbox.id]);
    expect(await ids(outsider.token)).toEqual([]);

    expect((await request(bed.system.app).get(`/api/inboxes/${adminInbox.id}`).set(bearer(agent.token))).status).toBe(404);
    expect((await request(bed.system.app).get(`/api/inboxes/${adminInbox.id}`).set(bearer(outsider.token))).status).toBe(404);
    expect((await request(bed.system.app).get(`/api/tickets/${ticket._id}`).set(bearer(agent.token))).status).toBe(404);
    expect((await request(bed.system.app).get(`/api/tickets/${ticket._id}`).set(bearer(member.token))).body).toMatchObject({ subject: 'Hello', messages: [] });
    expect((await request(bed.system.app).get(`/api/tickets?inboxId=${adminInbox.id}`).set(bearer(agent.token))).status).toBe(404);
    expect((await request(bed.system.app).get('/api/tickets').set(bearer(agent.token))).body.total).toBe(0);
    expect((await request(bed.system.app).get('/api/tickets').set(bearer(site.token))).body.total).toBe(1);

    // A read-only member sees the inbox but may not manage it; the creator and the owner may.
    const patch = (token: string, body: object) => request(bed.system.app).patch(`/api/inboxes/${adminInbox.id}`).set(bearer(token)).send(body);
    expect((await patch(member.token, { name: 'Taken over' })).status).toBe(403);
    expect((await patch(agent.token, { name: 'Taken over' })).status).toBe(404);
    expect((await patch(admin.token, { siteId: outsider.siteId })).status).toBe(400);
    expect((await patch(site.token, { name: 'Renamed', members: [{ userId: member.id, access: 'read_reply', inboxAdmin: true }] })).body).toMatchObject({ name: 'Renamed' });
    expect((await patch(member.token, { filterMode: 'client_only' })).status).toBe(200);
    expect((await request(bed.system.app).post(`/api/inboxes/${adminInbox.id}/connect`).set(bearer(agent.token)).send({})).status).toBe(404);
    expect((await request(bed.system.app).delete(`/api/inboxes/${agentInbox.id}`).set(bearer(member.token))).status).toBe(404);
    expect((await request(bed.system.app).delete(`/api/inboxes/${agentInbox.id}`).set(bearer(agent.token))).status).toBe(204);
    expect(await InboxModel.exists({ _id: agentInbox.id })).toBeNull();
  });

  test('O2 When a backfill is running, Then the import endpoint shows live, growing counts, and the stored ones after', async () => {
    const site = await signUpSite(bed.system);
    const address = 'progress@desk.example';
    const { seed } = generateMailbox({ seed: 51, address, messages: 120, threads: 30, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
    bed.gmail.control.seedMailbox(seed);
    bed.gmail.control.injectFaults({ latencyMs: 100 });
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail' });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    const live = await waitFor(
      'live progress',
      async () => (await request(bed.system.app).get(`/api/inboxes/${inbox.id}/import`).set(bearer(site.token))).body,
      (p) => p.live === true && p.counts.imported > 0 && p.backfillDone === false,
      60_000,
    );
    expect(live).toMatchObject({ status: 'connected', state: 'running', phase: 'backfill', workflowId: `mailbox/${inbox.id}` });
    bed.gmail.control.clearFaults();
    await waitForFollowing(inbox.id);
    const done = (await request(bed.system.app).get(`/api/inboxes/${inbox.id}/import`).set(bearer(site.token))).body;
    expect(done.counts.imported).toBe(120);
    expect(done.counts.imported).toBeGreaterThan(live.counts.imported);
    expect(done).toMatchObject({ backfillDone: true, state: 'following' });
  });
});
