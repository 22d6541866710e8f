import request from 'supertest';
import { Types } from 'mongoose';
import { buildRawMessage, generateMailbox } from '../../emulators/mail/generate';
import type { SeedMessage } from '../../emulators/mail/types';
import { CompanyModel, CustomerModel, TicketMessageModel, TicketModel, siteKey } from '../../models';
import { bearer } from '../support/sites';
import { connectInbox, counts, createInbox, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed } from './support';

const HOUR_MS = 3_600_000;
type Provider = 'gmail' | 'outlook';

describe('mail processing through the whole pipeline (I4, I5, I6, I7, I12)', () => {
  let bed: MailTestBed;
  beforeAll(async () => {
    bed = await startMailTestBed();
  });
  afterAll(async () => {
    await bed?.stop();
  });

  const seed = async (provider: Provider, address: string, messages: SeedMessage[]) => {
    if (provider === 'gmail') bed.gmail.control.seedMailbox({ address, messages });
    else await bed.graph.control.seedMailbox({ address, messages });
  };
  const deliver = async (provider: Provider, address: string, message: SeedMessage) => {
    if (provider === 'gmail') bed.gmail.control.deliver(address, message);
    else await bed.graph.control.deliver(address, message);
  };

  test.each<Provider>(['gmail', 'outlook'])(
    'I4 I5 I7 I12 I6 (%s) When a client-only inbox imports mixed mail, Then only clients make tickets, excluded and automated mail stays out, replies thread by headers and new senders become ticket customers in their domain company',
    async (provider) => {
      const site = await signUpSite(bed.system);
      const siteId = new Types.ObjectId(site.siteId);
      const acme = await CompanyModel.create({ siteId, name: 'Acme', nameKey: siteKey(site.siteId, 'acme'), domains: ['acme.test', 'spam.test'], origin: 'desk' });
      const partner = await CompanyModel.create({ siteId, name: 'Partner', nameKey: siteKey(site.siteId, 'partner'), origin: 'desk' });
      await CustomerModel.create({ siteId, email: 'bob@partner.test', emailKey: siteKey(site.siteId, 'bob@partner.test'), firstName: 'Bob', lastName: 'Partner', companyId: partner._id, origin: 'desk' });
      const address = `rules-${provider}@desk.test`;
      const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * HOUR_MS);
      const mail = (id: string, from: string, subject: string, hoursAgo: number, thread: string, extra: Partial<Parameters<typeof buildRawMessage>[0]> = {}): SeedMessage => ({
        raw: buildRawMessage({ from, to: address, subject, body: `Body of ${id}`, messageId: `<${id}@mail.test>`, date: at(hoursAgo), ...extra }),
        receivedAt: at(hoursAgo),
        threadKey: thread,
      });
      await seed(provider, address, [
        mail('ann-1', 'Ann Archer <ann@acme.test>', 'Broken export', 50, 't-ann'),
        mail('bob-1', 'Bob Partner <bob@partner.test>', 'Invoice', 40, 't-bob'),
        mail('stranger-1', 'Sam Stranger <sam@random.test>', 'Hello', 30, 't-sam'),
        mail('spam-1', 'Spammer <x@sub.spam.test>', 'Buy now', 29, 't-spam'),
        mail('auto-1', 'Carl <carl@acme.test>', 'Automatic reply: Broken export', 28, 't-auto', { headers: { 'Auto-Submitted': 'auto-replied' } }),
        mail('bulk-1', 'Acme News <news@acme.test>', 'Monthly update', 27, 't-bulk', { headers: { Precedence: 'bulk', 'List-Id': 'news <news.acme.test>' } }),
        // A reply in another provider thread/conversation that names ann-1 in its headers.
        mail('ann-2', 'Ann Archer <ann@acme.test>', 'Re: Broken export', 20, 't-ann-other-client', { inReplyTo: '<ann-1@mail.test>', references: ['<ann-1@mail.test>'] }),
        mail('dave-1', '"Doe, Dave" <dave@acme.test>', 'Question', 10, 't-dave'),
      ]);
      const inbox = await createInbox(bed.system, site.token, { provider, filterMode: 'client_only', excludedDomains: ['spam.test'] });
      expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
      await waitForFollowing(inbox.id);

      expect(await counts(inbox.id)).toEqual({ tickets: 3, messages: 4 });
      const stored = await TicketMessageModel.find({ inboxId: inbox.id }, { rfcMessageId: 1, ticketId: 1 }).lean();
      expect(stored.map((m) => m.rfcMessageId).sort()).toEqual(['ann-1@mail.test', 'ann-2@mail.test', 'bob-1@mail.test', 'dave-1@mail.test']);
      const ticketOf = (id: string) => String(stored.find((m) => m.rfcMessageId === id)!.ticketId);
      expect(ticketOf('ann-2@mail.test')).toBe(ticketOf('ann-1@mail.test'));

      const customers = await CustomerModel.find({ siteId }).lean();
      expect(customers.map((c) => c.email).sort()).toEqual(['ann@acme.test', 'bob@partner.test', 'dave@acme.test']);
      expect(customers.find((c) => c.email === 'dave@acme.test')).toMatchObject({ origin: 'ticket', firstName: 'Dave', lastName: 'Doe', companyId: acme._id });
      expect(customers.find((c) => c.email === 'ann@acme.test')).toMatchObject({ origin: 'ticket', firstName: 'Ann', lastName: 'Archer', companyId: acme._id });
      const annTicket = await TicketModel.findById(ticketOf('ann-1@mail.test')).lean();
      expect(annTicket).toMatchObject({ inboxType: 'individual', status: 'open', priority: 'normal', assigneeId: null, tags: [], subject: 'Broken export', companyId: acme._id });
      expect(annTicket!.createdDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);

      const progress = await request(bed.system.app).get(`/api/inboxes/${inbox.id}/import`).set(bearer(site.token));
      expect(progress.body.counts).toMatchObject({ listed: 8, imported: 4, ticketsCreated: 3, customersCreated: 2, skippedAutomated: 2, skippedExcluded: 1, skippedFiltered: 1 });

      // Switching to `all` lets strangers in; excluded domains stay out in every mode.
      expect((await request(bed.system.app).patch(`/api/inboxes/${inbox.id}`).set(bearer(site.token)).send({ filterMode: 'all' })).status).toBe(200);
      await deliver(provider, address, mail('stranger-2', 'Sue Stranger <sue@random.test>', 'New here', 0, 't-sue'));
      await deliver(provider, address, mail('spam-2', 'Spammer <y@spam.test>', 'Buy more', 0, 't-spam-2'));
      await waitFor('the stranger', () => counts(inbox.id), (c) => c.messages === 5, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await counts(inbox.id)).toEqual({ tickets: 4, messages: 5 });
      expect(await CustomerModel.countDocuments({ siteId, email: 'sue@random.test', origin: 'ticket', companyId: { $exists: false } })).toBe(1);
    },
  );

  test.each<Provider>(['gmail', 'outlook'])('I12 (%s) When a generated mailbox mixes auto-replies, bounces and list mail, Then none of them becomes a ticket', async (provider) => {
    const site = await signUpSite(bed.system);
    const address = `mix-${provider}@desk.test`;
    const { seed: mailbox, truth } = generateMailbox({ seed: 31, address, messages: 80, threads: 20 });
    await seed(provider, address, mailbox.messages);
    const inbox = await createInbox(bed.system, site.token, { provider, filterMode: 'all' });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await waitForFollowing(inbox.id);

    const ordinary = truth.messages.filter((m) => m.kind === 'ordinary' && m.insideWindow);
    expect(truth.automatedMessageIds.length).toBeGreaterThan(5);
    expect(await counts(inbox.id)).toEqual({ tickets: truth.ticketThreadKeys.length, messages: ordinary.length });
    const stored = new Set((await TicketMessageModel.find({ inboxId: inbox.id }, { rfcMessageId: 1 }).lean()).map((m) => m.rfcMessageId));
    for (const id of truth.automatedMessageIds) expect(stored.has(id.slice(1, -1))).toBe(false);
    const attachments = await TicketMessageModel.find({ inboxId: inbox.id, 'attachments.0': { $exists: true } }, { attachments: 1 }).lean();
    expect(attachments.length).toBe(truth.attachmentMessageIds.filter((id) => stored.has(id.slice(1, -1))).length);
    expect(attachments[0]!.attachments[0]).toMatchObject({ contentType: 'application/pdf', size: expect.any(Number) });
  });
});
