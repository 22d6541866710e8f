import request from 'supertest';
import { Types } from 'mongoose';
import { generateMailbox, buildRawMessage } from '../../emulators/mail/generate';
import { InboxModel, OAuthConnectionModel, OAuthConsentModel, TicketMessageModel, TicketModel } from '../../models';
import { bearer } from '../support/sites';
import { connectInbox, consentRedirect, counts, createInbox, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed } from './support';

const DAY_MS = 86_400_000;

describe('Gmail mailbox import (I2, I3, I6, O2)', () => {
  let bed: MailTestBed;
  beforeAll(async () => {
    bed = await startMailTestBed();
  });
  afterAll(async () => {
    await bed?.stop();
  });

  test('I2 When an inbox is connected, Then the consent uses a single-use state and PKCE S256, and the tokens are stored sealed', async () => {
    const site = await signUpSite(bed.system);
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail', importEmails: false });
    const address = 'connect@desk.example';
    bed.gmail.control.createAccount(address);

    const connect = await request(bed.system.app).post(`/api/inboxes/${inbox.id}/connect`).set(bearer(site.token)).send({ loginHint: address });
    expect(connect.status).toBe(200);
    const consentUrl = new URL(connect.body.consentUrl);
    expect(consentUrl.origin).toBe(bed.gmail.url);
    expect(consentUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(consentUrl.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(consentUrl.searchParams.get('access_type')).toBe('offline');
    const state = consentUrl.searchParams.get('state')!;
    expect(state.length).toBeGreaterThanOrEqual(32);
    expect(JSON.stringify(await OAuthConsentModel.find({}).lean())).not.toContain(state);

    const back = await consentRedirect(connect.body.consentUrl);
    const forged = new URL(back);
    forged.searchParams.set('state', 'forged-state-0123456789abcdef');
    const rejected = await request(bed.system.app).get(`${forged.pathname}${forged.search}`);
    expect(rejected.status).toBe(400);
    expect(rejected.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await OAuthConnectionModel.countDocuments({ inboxId: inbox.id })).toBe(0);
    expect((await InboxModel.findById(inbox.id).lean())!.status).toBe('pending');

    const callback = await request(bed.system.app).get(`${back.pathname}${back.search}`);
    expect(callback.status).toBe(200);
    expect(callback.body.inbox).toMatchObject({ status: 'connected', mailboxAddress: address, workflowId: `mailbox/${inbox.id}` });
    expect(JSON.stringify(callback.body)).not.toMatch(/ya29\.|1\/\/emu-/);
    // The state is single use: replaying the same callback is refused and changes nothing.
    const replay = await request(bed.system.app).get(`${back.pathname}${back.search}`);
    expect(replay.status).toBe(400);

    const raw = await bed.system.runtime.mongoose.connection.db!.collection('oauthconnections').findOne({ inboxId: new Types.ObjectId(inbox.id as string) });
    expect(raw).toMatchObject({ provider: 'gmail', mailboxAddress: address, accessToken: { keyId: 'test1' }, refreshToken: { keyId: 'test1' } });
    expect(JSON.stringify(raw)).not.toMatch(/ya29\.|1\/\/emu-/);
    const listed = await request(bed.system.app).get(`/api/inboxes/${inbox.id}`).set(bearer(site.token));
    expect(JSON.stringify(listed.body)).not.toMatch(/ya29\.|1\/\/emu-|clientState/);
  });

  test('I3 When a 30-day mailbox is backfilled, Then every message of the window becomes a ticket message, threaded, older mail stays out, and new mail arrives by push and by polling', async () => {
    const site = await signUpSite(bed.system);
    const address = 'backfill@desk.example';
    const { seed, truth } = generateMailbox({ seed: 7, address, messages: 120, threads: 30, olderThanWindow: 10, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
    bed.gmail.control.seedMailbox(seed);
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail', importEmails: true, filterMode: 'all' });
    const callback = await connectInbox(bed, site.token, inbox.id, address);
    expect(callback.status).toBe(200);
    await waitForFollowing(inbox.id);

    expect(await counts(inbox.id)).toEqual({ tickets: 30, messages: 110 });
    const stored = await TicketMessageModel.find({ inboxId: inbox.id }, { rfcMessageId: 1, ticketId: 1 }).lean();
    const insideIds = truth.messages.filter((m) => m.insideWindow).map((m) => m.messageId.slice(1, -1));
    expect(new Set(stored.map((m) => m.rfcMessageId))).toEqual(new Set(insideIds));
    // Each generated thread is exactly one ticket.
    const ticketOf = new Map(stored.map((m) => [m.rfcMessageId, String(m.ticketId)]));
    for (const key of truth.ticketThreadKeys) {
      expect(new Set(truth.threads[key]!.map((id) => ticketOf.get(id.slice(1, -1)))).size).toBe(1);
    }
    const progress = await request(bed.system.app).get(`/api/inboxes/${inbox.id}/import`).set(bearer(site.token));
    expect(progress.body).toMatchObject({ status: 'connected', backfillDone: true, counts: { imported: 110, ticketsCreated: 30 } });

    // New mail: a push notification wakes the workflow.
    bed.gmail.control.deliver(address, { raw: rawMail('pushed', 'Pushed question'), receivedAt: new Date(), threadKey: 'new-push' });
    await waitFor('pushed mail', () => counts(inbox.id), (c) => c.messages === 111, 20_000);
    expect(bed.gmail.control.pushDeliveries().some((d) => d.emailAddress === address && d.attempts.includes(204))).toBe(true);

    // Push lost: polling still finds it.
    bed.gmail.control.injectFaults({ dropPush: { next: 1 } });
    bed.gmail.control.deliver(address, { raw: rawMail('polled', 'Polled question'), receivedAt: new Date(), threadKey: 'new-poll' });
    await waitFor('polled mail', () => counts(inbox.id), (c) => c.messages === 112, 20_000);
    expect(await counts(inbox.id)).toEqual({ tickets: 32, messages: 112 });
  });

  test('I6 When push notifications are duplicated and a reply arrives before its original, Then one ticket holds both and nothing is stored twice', async () => {
    const site = await signUpSite(bed.system);
    const address = 'dupes@desk.example';
    bed.gmail.control.createAccount(address);
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail', importEmails: false });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await waitForFollowing(inbox.id);
    // Let the watch be registered before mail arrives.
    await waitFor('watch', async () => bed.gmail.control.watchExpiration(address), (d) => d !== undefined, 20_000);

    bed.gmail.control.injectFaults({ duplicatePush: { probability: 1 } });
    const now = Date.now();
    bed.gmail.control.deliver(address, {
      raw: rawMail('reply-1', 'Re: Order 42', { inReplyTo: '<orig-1@acme.test>', references: ['<orig-1@acme.test>'], date: new Date(now) }),
      receivedAt: new Date(now),
      threadKey: 'order-42',
    });
    bed.gmail.control.deliver(address, { raw: rawMail('orig-1', 'Order 42', { date: new Date(now - DAY_MS) }), receivedAt: new Date(now - DAY_MS), threadKey: 'order-42' });
    await waitFor('both messages', () => counts(inbox.id), (c) => c.messages === 2, 20_000);
    await bed.gmail.control.waitForPushes();
    bed.gmail.control.clearFaults();
    expect(bed.gmail.control.pushDeliveries().filter((d) => d.emailAddress === address && d.duplicate).length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await counts(inbox.id)).toEqual({ tickets: 1, messages: 2 });
    const ticket = await TicketModel.findOne({ inboxId: inbox.id }).lean();
    // The earliest message names and dates the ticket even though it was stored second.
    expect(ticket).toMatchObject({ subject: 'Order 42', createdDay: new Date(now - DAY_MS).toISOString().slice(0, 10) });
  });

  test('I3 When the history cursor goes stale, Then a full resync imports what was missed without duplicates', async () => {
    const site = await signUpSite(bed.system);
    const address = 'stale@desk.example';
    const { seed } = generateMailbox({ seed: 11, address, messages: 20, threads: 8, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
    bed.gmail.control.seedMailbox(seed);
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail', importEmails: true });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await waitForFollowing(inbox.id);
    expect(await counts(inbox.id)).toEqual({ tickets: 8, messages: 20 });

    bed.gmail.control.injectFaults({ dropPush: { probability: 1 } });
    bed.gmail.control.deliver(address, { raw: rawMail('gap-1', 'During the gap'), receivedAt: new Date(), threadKey: 'gap-1' });
    bed.gmail.control.expireHistory(address);
    await waitFor('the missed mail', () => counts(inbox.id), (c) => c.messages === 21, 30_000);
    bed.gmail.control.clearFaults();
    expect(await counts(inbox.id)).toEqual({ tickets: 9, messages: 21 });
    const historyCalls = bed.gmail.control.requestLog().filter((e) => e.operation === 'history.list' && e.status === 404);
    expect(historyCalls.length).toBeGreaterThan(0);
  });
});

function rawMail(id: string, subject: string, extra: { inReplyTo?: string; references?: string[]; date?: Date; from?: string } = {}): string {
  return buildRawMessage({
    from: extra.from ?? 'Casey Customer <casey@acme.test>',
    to: 'agent@desk.example',
    subject,
    body: `Message ${id}`,
    messageId: `<${id}@acme.test>`,
    date: extra.date ?? new Date(),
    inReplyTo: extra.inReplyTo,
    references: extra.references,
  });
}
