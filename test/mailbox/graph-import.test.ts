import request from 'supertest';
import { Types } from 'mongoose';
import { buildRawMessage, generateMailbox } from '../../emulators/mail/generate';
import { InboxModel, OAuthConnectionModel, TicketMessageModel } from '../../models';
import { bearer } from '../support/sites';
import { connectInbox, consentRedirect, counts, createInbox, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed } from './support';

describe('Outlook mailbox import through Microsoft Graph (I2, I3, I6)', () => {
  let bed: MailTestBed;
  beforeAll(async () => {
    bed = await startMailTestBed();
  });
  afterAll(async () => {
    await bed?.stop();
  });

  test('I2 When an Outlook inbox is connected, Then state and PKCE are checked, tokens are sealed, and a bad state writes nothing', async () => {
    const site = await signUpSite(bed.system);
    const address = 'connect@outlook.test';
    bed.graph.control.createAccount(address);
    const inbox = await createInbox(bed.system, site.token, { provider: 'outlook', importEmails: false });

    const connect = await request(bed.system.app).post(`/api/inboxes/${inbox.id}/connect`).set(bearer(site.token)).send({ loginHint: address });
    const consentUrl = new URL(connect.body.consentUrl);
    expect(consentUrl.href.startsWith(`${bed.graph.url}/${bed.graph.tenantId}/oauth2/v2.0/authorize?`)).toBe(true);
    expect(consentUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(consentUrl.searchParams.get('scope')).toContain('offline_access');
    const back = await consentRedirect(connect.body.consentUrl, bed.graph.caPem);

    const wrongProvider = await request(bed.system.app).get(`/oauth/gmail/callback${back.search}`);
    expect(wrongProvider.status).toBe(400);
    const missingState = await request(bed.system.app).get(`/oauth/outlook/callback?code=${back.searchParams.get('code')}`);
    expect(missingState.status).toBe(400);
    expect(await OAuthConnectionModel.countDocuments({ inboxId: inbox.id })).toBe(0);

    const connected = await request(bed.system.app).get(`${back.pathname}${back.search}`);
    expect(connected.status).toBe(200);
    expect(connected.body.inbox).toMatchObject({ status: 'connected', mailboxAddress: address });
    const replayed = await request(bed.system.app).get(`${back.pathname}${back.search}`);
    expect(replayed.status).toBe(400);
    const raw = await bed.system.runtime.mongoose.connection.db!.collection('oauthconnections').findOne({ inboxId: new Types.ObjectId(inbox.id as string) });
    expect(raw).toMatchObject({ provider: 'outlook', accessToken: { keyId: 'test1' }, refreshToken: { keyId: 'test1' } });
    expect(JSON.stringify(raw)).not.toMatch(/EwA|M\.C5/);
    expect(bed.graph.control.tokenEndpointCalls().filter((c) => c.grantType === 'authorization_code' && c.status === 200)).toHaveLength(1);
  });

  test('I3 When a 30-day Outlook mailbox is backfilled, Then the window is imported, threaded by conversation, and new mail arrives by notification and by delta polling', async () => {
    const site = await signUpSite(bed.system);
    const address = 'backfill@outlook.test';
    const { seed, truth } = generateMailbox({ seed: 21, address, messages: 90, threads: 25, olderThanWindow: 10, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
    await bed.graph.control.seedMailbox(seed);
    const inbox = await createInbox(bed.system, site.token, { provider: 'outlook', importEmails: true });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await waitForFollowing(inbox.id);

    expect(await counts(inbox.id)).toEqual({ tickets: 25, messages: 80 });
    const stored = await TicketMessageModel.find({ inboxId: inbox.id }, { rfcMessageId: 1 }).lean();
    expect(new Set(stored.map((m) => m.rfcMessageId))).toEqual(new Set(truth.messages.filter((m) => m.insideWindow).map((m) => m.messageId.slice(1, -1))));

    await waitFor('the subscription', async () => (await InboxModel.findById(inbox.id, { push: 1 }).lean())?.push?.subscriptionId, Boolean, 20_000);
    const subscription = bed.graph.control.subscriptions().find((s) => s.mailboxAddress === address)!;
    expect(subscription.notificationUrl).toBe(`${bed.system.apiUrl}/webhooks/graph`);
    expect(subscription.clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stateAtRest = JSON.stringify(await bed.system.runtime.mongoose.connection.db!.collection('inboxes').findOne({ _id: new Types.ObjectId(inbox.id as string) }));
    expect(stateAtRest).not.toContain(subscription.clientState!);

    await bed.graph.control.deliver(address, { raw: rawMail('pushed', 'Pushed'), receivedAt: new Date(), threadKey: 'pushed' });
    await waitFor('notified mail', () => counts(inbox.id), (c) => c.messages === 81, 20_000);
    expect(bed.graph.control.notificationLog().some((n) => n.subscriptionId === subscription.id && n.status === 202)).toBe(true);

    bed.graph.control.injectFaults({ dropNotifications: 1 });
    await bed.graph.control.deliver(address, { raw: rawMail('polled', 'Polled'), receivedAt: new Date(), threadKey: 'polled' });
    await waitFor('polled mail', () => counts(inbox.id), (c) => c.messages === 82, 20_000);
    expect(await counts(inbox.id)).toEqual({ tickets: 27, messages: 82 });
  });

  test('I6 When notifications are duplicated, carry a wrong clientState, or the delta token is invalidated, Then nothing is stored twice and forged ones change nothing', async () => {
    const site = await signUpSite(bed.system);
    const address = 'dupes@outlook.test';
    bed.graph.control.createAccount(address);
    const inbox = await createInbox(bed.system, site.token, { provider: 'outlook', importEmails: false });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await waitFor('the subscription', async () => (await InboxModel.findById(inbox.id, { push: 1 }).lean())?.push?.subscriptionId, Boolean, 20_000);
    const subscriptionId = (await InboxModel.findById(inbox.id, { push: 1 }).lean())!.push!.subscriptionId!;

    const forged = await request(bed.system.app)
      .post('/webhooks/graph')
      .set('content-type', 'application/json')
      .send({ value: [{ subscriptionId, clientState: 'not-the-secret', changeType: 'created', resource: 'me/messages/x' }] });
    expect(forged.status).toBe(401);
    const handshake = await request(bed.system.app).post('/webhooks/graph?validationToken=Validation%3A%20hello%20world').send();
    expect(handshake.status).toBe(200);
    expect(handshake.headers['content-type']).toMatch(/^text\/plain/);
    expect(handshake.text).toBe('Validation: hello world');

    bed.graph.control.injectFaults({ duplicateNotifications: 5 });
    await bed.graph.control.deliver(address, { raw: rawMail('d1', 'First'), receivedAt: new Date(), threadKey: 'dup-thread' });
    await bed.graph.control.deliver(address, { raw: rawMail('d2', 'Re: First', { inReplyTo: '<d1@acme.test>' }), receivedAt: new Date(), threadKey: 'dup-thread' });
    await waitFor('both messages', () => counts(inbox.id), (c) => c.messages === 2, 20_000);
    await bed.graph.control.notificationsSettled();

    bed.graph.control.invalidateDeltaTokens(address);
    bed.graph.control.injectFaults({ dropNotifications: 1 });
    await bed.graph.control.deliver(address, { raw: rawMail('d3', 'After reset'), receivedAt: new Date(), threadKey: 'reset-thread' });
    await waitFor('mail after the delta reset', () => counts(inbox.id), (c) => c.messages === 3, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await counts(inbox.id)).toEqual({ tickets: 2, messages: 3 });
    expect(bed.graph.control.requestLog().some((e) => e.status === 410)).toBe(true);
  });
});

function rawMail(id: string, subject: string, extra: { inReplyTo?: string } = {}): string {
  return buildRawMessage({
    from: 'Casey Customer <casey@acme.test>',
    to: 'agent@outlook.test',
    subject,
    body: `Message ${id}`,
    messageId: `<${id}@acme.test>`,
    date: new Date(),
    inReplyTo: extra.inReplyTo,
    references: extra.inReplyTo ? [extra.inReplyTo] : undefined,
  });
}
