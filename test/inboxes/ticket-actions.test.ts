import crypto from 'node:crypto';
import request from 'supertest';
import type { Worker } from '@temporalio/worker';
import { buildRawMessage } from '../../emulators/mail/generate';
import { parseRawMessage } from '../../domain/mail';
import { createActivities } from '../../activities';
import { createWorker } from '../../workers/create-worker';
import { OutgoingMailModel, TicketMessageModel, TicketModel, TicketNoteModel, type MailProvider } from '../../models';
import { bearer } from '../support/sites';
import { connectInbox, createInbox, inviteUser, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed, type TestSite } from '../mailbox/support';

/**
 * Ticket actions by inbox access level (I8) and replies/forwards through both providers (I9).
 * The worker's send activity can be told to fail after the provider accepted the mail, which
 * is what a worker crash at that moment looks like to Temporal and to the provider.
 */
describe('ticket actions: notes, replies, forwards, options (I8, I9)', () => {
  let bed: MailTestBed;
  let worker: Worker;
  let running: Promise<void>;
  let failAfterAccept = 0;
  let sendAttempts = 0;

  beforeAll(async () => {
    bed = await startMailTestBed({ worker: false });
    const activities = createActivities(bed.system.runtime);
    const handle = await createWorker(bed.system.runtime, {
      activities: {
        ...activities,
        async sendTicketMail(input: { mailId: string }) {
          sendAttempts += 1;
          const sent = await activities.sendTicketMail(input);
          if (failAfterAccept > 0) {
            failAfterAccept -= 1;
            throw new Error('worker died after the provider accepted the mail');
          }
          return sent;
        },
      },
    });
    worker = handle.worker;
    running = worker.run().finally(() => handle.connection.close());
  });
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await bed?.stop();
  });

  interface Fixture {
    site: TestSite;
    address: string;
    inboxId: string;
    ticketId: string;
    customerMessageId: string;
    readReply: { id: string; token: string };
    readOnly: { id: string; token: string };
    outsider: { id: string; token: string };
  }

  /** A connected inbox holding one ticket from a customer, with a read_reply and a read_only member. */
  async function ticketIn(provider: MailProvider): Promise<Fixture> {
    const site = await signUpSite(bed.system);
    const [readReply, readOnly, outsider] = [await inviteUser(bed.system, site, 'agent'), await inviteUser(bed.system, site, 'agent'), await inviteUser(bed.system, site, 'admin')];
    const address = `desk-${crypto.randomBytes(3).toString('hex')}@${provider === 'gmail' ? 'gmail.test' : 'outlook.test'}`;
    const customerMessageId = `question-${crypto.randomBytes(4).toString('hex')}@customer.example`;
    const raw = buildRawMessage({
      from: 'Carla Customer <carla@customer.example>',
      to: address,
      subject: 'Invoice question',
      body: 'Why was I charged twice?',
      messageId: customerMessageId,
      date: new Date(Date.now() - 3_600_000),
    });
    const seed = { address, messages: [{ raw, receivedAt: new Date(Date.now() - 3_600_000), threadKey: 'invoice' }] };
    if (provider === 'gmail') bed.gmail.control.seedMailbox(seed);
    else await bed.graph.control.seedMailbox(seed);
    const inbox = await createInbox(bed.system, site.token, {
      provider,
      members: [
        { userId: readReply.id, access: 'read_reply' },
        { userId: readOnly.id, access: 'read_only' },
      ],
    });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await waitForFollowing(inbox.id);
    const ticket = await TicketModel.findOne({ inboxId: inbox.id }).lean();
    return { site, address, inboxId: inbox.id, ticketId: String(ticket!._id), customerMessageId, readReply, readOnly, outsider };
  }

  const post = (path: string, token: string, body: unknown) => request(bed.system.app).post(path).set(bearer(token)).send(body as object);
  const outgoing = async (f: Fixture) => (await request(bed.system.app).get(`/api/tickets/${f.ticketId}/outgoing`).set(bearer(f.site.token))).body.items as Record<string, any>[];
  const untilSent = (f: Fixture, mailId: string) =>
    waitFor('the mail to be sent', async () => (await outgoing(f)).find((m) => m.id === mailId), (m) => m?.state === 'sent' || m?.state === 'failed', 60_000);
  const importedDuplicates = async (inboxId: string, token: string) =>
    (await request(bed.system.app).get(`/api/inboxes/${inboxId}/import`).set(bearer(token))).body.counts.duplicates as number;

  describe.each<MailProvider>(['gmail', 'outlook'])('through %s', (provider) => {
    let f: Fixture;
    beforeAll(async () => {
      f = await ticketIn(provider);
    }, 120_000);

    test('I8 When each access level adds a note, Then read_only and up may, and a non-member gets 404 with nothing written', async () => {
      expect((await post(`/api/tickets/${f.ticketId}/notes`, f.readOnly.token, { text: 'Checking with billing' })).status).toBe(201);
      expect((await post(`/api/tickets/${f.ticketId}/notes`, f.readReply.token, { text: 'Refund issued' })).status).toBe(201);
      const owner = await post(`/api/tickets/${f.ticketId}/notes`, f.site.token, { text: 'Thanks both' });
      expect(owner.status).toBe(201);
      expect(owner.body).toMatchObject({ ticketId: f.ticketId, authorId: f.site.ownerId, text: 'Thanks both' });
      const outsider = await post(`/api/tickets/${f.ticketId}/notes`, f.outsider.token, { text: 'peek' });
      expect(outsider.status).toBe(404);
      expect(outsider.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(await TicketNoteModel.countDocuments({ ticketId: f.ticketId })).toBe(3);
      const listed = await request(bed.system.app).get(`/api/tickets/${f.ticketId}/notes`).set(bearer(f.readOnly.token));
      expect(listed.body.items.map((n: { text: string }) => n.text)).toEqual(['Checking with billing', 'Refund issued', 'Thanks both']);
    });

    test('I8 When a client sets fields it may not (author, site, state, ids), Then notes, replies, forwards and PATCH answer 400 and write nothing', async () => {
      const before = { notes: await TicketNoteModel.countDocuments({ ticketId: f.ticketId }), mails: await OutgoingMailModel.countDocuments({ ticketId: f.ticketId }), ticket: await TicketModel.findById(f.ticketId).lean() };
      const attempts: [string, unknown][] = [
        [`/api/tickets/${f.ticketId}/notes`, { text: 'x', authorId: f.readOnly.id }],
        [`/api/tickets/${f.ticketId}/notes`, { text: 'x', siteId: f.site.siteId }],
        [`/api/tickets/${f.ticketId}/replies`, { text: 'x', state: 'sent' }],
        [`/api/tickets/${f.ticketId}/replies`, { text: 'x', to: [{ address: 'someone@else.example' }] }],
        [`/api/tickets/${f.ticketId}/replies`, { text: 'x', messageId: 'forged@x' }],
        [`/api/tickets/${f.ticketId}/forwards`, { text: 'x', to: [{ address: 'p@partner.example' }], createdBy: f.readOnly.id }],
        [`/api/tickets/${f.ticketId}/forwards`, { text: 'x', to: [] }],
      ];
      for (const [path, body] of attempts) expect([path, (await post(path, f.site.token, body)).status]).toEqual([path, 400]);
      for (const body of [{ siteId: f.site.siteId }, { inboxId: f.inboxId }, { status: 'solved', subject: 'changed' }, { threadKey: 'x' }, {}, { assigneeId: '5f5f5f5f5f5f5f5f5f5f5f5f' }]) {
        const res = await request(bed.system.app).patch(`/api/tickets/${f.ticketId}`).set(bearer(f.site.token)).send(body);
        expect([body, res.status]).toEqual([body, 400]);
      }
      expect(await TicketNoteModel.countDocuments({ ticketId: f.ticketId })).toBe(before.notes);
      expect(await OutgoingMailModel.countDocuments({ ticketId: f.ticketId })).toBe(before.mails);
      expect(await TicketModel.findById(f.ticketId).lean()).toEqual(before.ticket);
    });

    test('I8 When ticket options are edited, Then read_only gets 403 and changes nothing, read_reply sets status, priority, assignee (a user of the site) and tags', async () => {
      const before = await TicketModel.findById(f.ticketId).lean();
      const denied = await request(bed.system.app).patch(`/api/tickets/${f.ticketId}`).set(bearer(f.readOnly.token)).send({ status: 'solved' });
      expect(denied.status).toBe(403);
      expect(await TicketModel.findById(f.ticketId).lean()).toEqual(before);
      const hidden = await request(bed.system.app).patch(`/api/tickets/${f.ticketId}`).set(bearer(f.outsider.token)).send({ status: 'solved' });
      expect(hidden.status).toBe(404);

      const res = await request(bed.system.app)
        .patch(`/api/tickets/${f.ticketId}`)
        .set(bearer(f.readReply.token))
        .send({ status: 'pending', priority: 'high', assigneeId: f.readReply.id, tags: ['billing', 'refund', 'billing'] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: f.ticketId, status: 'pending', priority: 'high', assigneeId: f.readReply.id, tags: ['billing', 'refund'] });
      const unassigned = await request(bed.system.app).patch(`/api/tickets/${f.ticketId}`).set(bearer(f.readReply.token)).send({ assigneeId: null });
      expect(unassigned.body.assigneeId).toBeNull();
    });

    test('I9 When a read_reply member replies and the send fails after the provider accepted it, Then the retry finds the sent copy: exactly one message at the provider, in the thread, stored once on the ticket', async () => {
      const denied = await post(`/api/tickets/${f.ticketId}/replies`, f.readOnly.token, { text: 'I cannot' });
      expect(denied.status).toBe(403);
      expect(await OutgoingMailModel.countDocuments({ ticketId: f.ticketId })).toBe(0);

      failAfterAccept = 1;
      sendAttempts = 0;
      const reply = await post(`/api/tickets/${f.ticketId}/replies`, f.readReply.token, { text: 'Sorry about that — the second charge is refunded.' });
      expect(reply.status).toBe(202);
      expect(reply.body).toMatchObject({ kind: 'reply', state: 'pending', authorId: f.readReply.id, to: [{ address: 'carla@customer.example' }], subject: 'Re: Invoice question' });
      expect(reply.body.workflowId).toBe(`ticket-reply/${f.ticketId}/${reply.body.id}`);
      const sent = await untilSent(f, reply.body.id);
      expect(sent).toMatchObject({ state: 'sent', failure: null });
      expect(sendAttempts).toBe(2);
      expect(failAfterAccept).toBe(0);

      const original = await TicketMessageModel.findOne({ ticketId: f.ticketId, direction: 'inbound' }).lean();
      if (provider === 'gmail') {
        const atProvider = bed.gmail.control.sentMessages(f.address);
        expect(atProvider).toHaveLength(1);
        expect(atProvider[0]!.threadId).toBe(original!.providerThreadId);
        const parsed = await parseRawMessage(Buffer.from(atProvider[0]!.raw, 'utf8'));
        expect(parsed.messageId).toBe(sent!.messageId);
        expect(parsed.inReplyTo).toEqual([f.customerMessageId]);
        expect(parsed.references).toEqual([f.customerMessageId]);
        expect(parsed.to.map((a) => a.address)).toEqual(['carla@customer.example']);
        expect(parsed.text).toContain('second charge is refunded');
      } else {
        const atProvider = bed.graph.control.sentMessages(f.address);
        expect(atProvider).toHaveLength(1);
        expect(atProvider[0]).toMatchObject({ kind: 'draft', conversationId: original!.providerThreadId, toRecipients: ['carla@customer.example'] });
        expect(atProvider[0]!.inReplyTo?.replace(/[<>]/g, '')).toBe(f.customerMessageId);
        expect(atProvider[0]!.internetMessageId.replace(/[<>]/g, '')).toBe(sent!.messageId);
      }

      const ticket = await request(bed.system.app).get(`/api/tickets/${f.ticketId}`).set(bearer(f.readOnly.token));
      const outbound = ticket.body.messages.filter((m: { direction: string }) => m.direction === 'outbound');
      expect(outbound).toHaveLength(1);
      expect(outbound[0]).toMatchObject({ messageId: sent!.messageId, inReplyTo: [f.customerMessageId], from: { address: f.address } });
      expect(outbound[0].id).toBe(sent!.ticketMessageId);
    }, 90_000);

    test('I9 I6 When the provider copy of the reply comes back through the mailbox import, Then it is recognised by its Message-ID and not imported again', async () => {
      const [mail] = await outgoing(f);
      const duplicatesBefore = await importedDuplicates(f.inboxId, f.site.token);
      const sentRaw = provider === 'gmail' ? bed.gmail.control.sentMessages(f.address)[0]!.raw : bed.graph.control.sentMessages(f.address)[0]!.raw;
      // As if the agent had Bcc'd the mailbox: the same message, under a new provider id, in the inbox.
      const copy = { raw: sentRaw, receivedAt: new Date(), threadKey: 'invoice' };
      if (provider === 'gmail') bed.gmail.control.deliver(f.address, copy);
      else await bed.graph.control.deliver(f.address, copy);

      await waitFor('the copy to be seen by the import', () => importedDuplicates(f.inboxId, f.site.token), (n) => n > duplicatesBefore, 60_000);
      expect(await TicketMessageModel.countDocuments({ inboxId: f.inboxId, rfcMessageId: mail!.messageId })).toBe(1);
      expect(await TicketMessageModel.countDocuments({ ticketId: f.ticketId })).toBe(2);
      expect(await TicketModel.countDocuments({ inboxId: f.inboxId })).toBe(1);
    }, 90_000);

    test('I9 When a read_reply member forwards the ticket, Then one Fwd message goes to the new recipient, not threaded as a customer reply, and is stored on the ticket', async () => {
      const forward = await post(`/api/tickets/${f.ticketId}/forwards`, f.readReply.token, { to: [{ address: 'pat@partner.example', name: 'Pat Partner' }], text: 'Pat, can you check this charge?' });
      expect(forward.status).toBe(202);
      expect(forward.body.to).toEqual([{ address: 'pat@partner.example', name: 'Pat Partner' }]);
      const sent = await untilSent(f, forward.body.id);
      expect(sent!.state).toBe('sent');
      const original = await TicketMessageModel.findOne({ ticketId: f.ticketId, direction: 'inbound' }).lean();
      if (provider === 'gmail') {
        const forwarded = bed.gmail.control.sentMessages(f.address).find((m) => m.rfc822MessageId?.includes(sent!.messageId));
        expect(forwarded).toBeDefined();
        const parsed = await parseRawMessage(Buffer.from(forwarded!.raw, 'utf8'));
        expect(parsed.subject).toBe('Fwd: Invoice question');
        expect(parsed.to.map((a) => a.address)).toEqual(['pat@partner.example']);
        expect(parsed.inReplyTo).toEqual([]);
        expect(forwarded!.threadId).not.toBe(original!.providerThreadId);
        expect(bed.gmail.control.sentMessages(f.address)).toHaveLength(2);
      } else {
        const forwarded = bed.graph.control.sentMessages(f.address).filter((m) => m.internetMessageId.includes(sent!.messageId));
        expect(forwarded).toHaveLength(1);
        expect(forwarded[0]).toMatchObject({ toRecipients: ['pat@partner.example'] });
        expect(forwarded[0]!.subject).toMatch(/^FW: Invoice question/);
        expect(bed.graph.control.sentMessages(f.address)).toHaveLength(2);
      }
      const stored = await TicketMessageModel.find({ ticketId: f.ticketId, direction: 'outbound' }).lean();
      expect(stored.map((m) => m.rfcMessageId).sort()).toEqual([...(await outgoing(f)).map((m) => m.messageId)].sort());
      const forwardedMessage = stored.find((m) => m.rfcMessageId === sent!.messageId)!;
      expect(forwardedMessage.to.map((a) => a.address)).toEqual(['pat@partner.example']);
      expect(forwardedMessage.inReplyTo).toEqual([]);
    }, 90_000);

    test('I9 When a reply is posted four times with one Idempotency-Key (three at once), Then one mail is queued and sent once; the key with other text is 422 and a malformed key 400, both writing nothing', async () => {
      const sentBefore = provider === 'gmail' ? bed.gmail.control.sentMessages(f.address).length : bed.graph.control.sentMessages(f.address).length;
      const mailsBefore = await OutgoingMailModel.countDocuments({ ticketId: f.ticketId });
      const key = `retry-${crypto.randomBytes(4).toString('hex')}`;
      const send = (text: string, idempotencyKey: string) => post(`/api/tickets/${f.ticketId}/replies`, f.readReply.token, { text }).set('idempotency-key', idempotencyKey);
      const answers = await Promise.all([1, 2, 3].map(() => send('Following up on the refund.', key)));
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      await untilSent(f, answers[0]!.body.id);
      const later = await send('Following up on the refund.', key);
      expect(later.status).toBe(202);
      expect(later.body).toMatchObject({ id: answers[0]!.body.id, state: 'sent' });

      const reused = await send('Something else entirely.', key);
      expect(reused.status).toBe(422);
      expect(reused.headers['content-type']).toMatch(/application\/problem\+json/);
      const malformed = await send('Following up on the refund.', 'has spaces in it');
      expect(malformed.status).toBe(400);
      expect(malformed.headers['content-type']).toMatch(/application\/problem\+json/);

      expect(await OutgoingMailModel.countDocuments({ ticketId: f.ticketId })).toBe(mailsBefore + 1);
      const sentAfter = provider === 'gmail' ? bed.gmail.control.sentMessages(f.address).length : bed.graph.control.sentMessages(f.address).length;
      expect(sentAfter).toBe(sentBefore + 1);
    }, 90_000);
  });
});
