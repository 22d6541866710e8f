import https from 'node:https';
import { Client, GraphError as ClientGraphError, ResponseType } from '@microsoft/microsoft-graph-client';
import { buildRawMessage, generateMailbox } from '../../emulators/mail/generate';
import { emulatorGraphClientOptions, startGraphEmulator, type GraphEmulator } from '../../emulators/graph';
import type { SeedMessage } from '../../emulators/mail/types';

const AGENT = 'agent@desk.test';
const DAY_MS = 86_400_000;

function seedMessage(index: number, receivedAt: Date, extra: Partial<Parameters<typeof buildRawMessage>[0]> = {}): SeedMessage {
  return {
    raw: buildRawMessage({
      from: `Customer ${index} <customer${index}@acme.test>`,
      to: AGENT,
      subject: `Question ${index}`,
      body: `Hello, this is question ${index}.`,
      messageId: `<q${index}@acme.test>`,
      date: receivedAt,
      ...extra,
    }),
    receivedAt,
    threadKey: `thread-${index}`,
  };
}

interface Page {
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/** Follows @odata.nextLink verbatim, as the docs require, and returns every page. */
async function allPages(client: Client, first: Page, prefer?: string): Promise<Page[]> {
  const pages = [first];
  let page = first;
  while (page['@odata.nextLink']) {
    const request = client.api(page['@odata.nextLink']);
    page = prefer ? await request.header('Prefer', prefer).get() : await request.get();
    pages.push(page);
  }
  return pages;
}

describe('Graph emulator through @microsoft/microsoft-graph-client', () => {
  let emulator: GraphEmulator;
  let client: Client;

  beforeEach(async () => {
    emulator = await startGraphEmulator();
    emulator.control.createAccount(AGENT);
    const { access_token: accessToken } = emulator.control.issueTokens(AGENT);
    client = Client.initWithMiddleware(emulatorGraphClientOptions(emulator, async () => accessToken));
  });

  afterEach(() => emulator.close());

  test('I2 the stock client reaches the HTTPS emulator by trusting only its test CA through a transport middleware', async () => {
    const { access_token: accessToken } = emulator.control.issueTokens(AGENT);
    const me = await client.api('/me').get();
    expect(me.mail).toBe(AGENT);
    expect(emulator.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    // TLS verification stays on: without the CA, or with a node-style agent (ignored by global fetch), it fails.
    const base = { authProvider: { getAccessToken: async () => accessToken }, baseUrl: emulator.url, customHosts: new Set(['127.0.0.1']) };
    // A transport failure: no status, the fetch TypeError as body, its cause the certificate check.
    const certificateRejected = {
      statusCode: -1,
      body: expect.objectContaining({ message: 'fetch failed', cause: expect.objectContaining({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }) }),
    };
    emulator.control.clearRequestLog();
    await expect(Client.initWithMiddleware(base).api('/me').get()).rejects.toMatchObject(certificateRejected);
    const withAgent = Client.initWithMiddleware({ ...base, fetchOptions: { agent: new https.Agent({ ca: emulator.caPem }) } });
    await expect(withAgent.api('/me').get()).rejects.toMatchObject(certificateRejected);
    expect(emulator.control.requestLog()).toEqual([]);

    // Without customHosts the AuthenticationHandler never attaches the token.
    const withoutCustomHosts = Client.initWithMiddleware({
      ...emulatorGraphClientOptions(emulator, async () => accessToken),
      customHosts: undefined,
    });
    await expect(withoutCustomHosts.api('/me').get()).rejects.toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
  });

  test('I3 list honours $filter, $select, $top and a verbatim-followed https nextLink', async () => {
    const now = Date.now();
    // 25 messages one day apart: days 0..24 ago are inside a 20-day window only up to day 19.
    await emulator.control.seedMailbox({
      address: AGENT,
      messages: Array.from({ length: 25 }, (_, index) => seedMessage(index, new Date(now - index * DAY_MS - 1000))),
    });
    const since = new Date(now - 20 * DAY_MS).toISOString();
    const first: Page = await client
      .api('/me/mailFolders/inbox/messages')
      .filter(`receivedDateTime ge ${since}`)
      .orderby('receivedDateTime desc')
      .select(['subject', 'receivedDateTime', 'internetMessageHeaders', 'internetMessageId'])
      .top(7)
      .get();
    const pages = await allPages(client, first);
    expect(pages.map((page) => page.value.length)).toEqual([7, 7, 6]);
    expect(first['@odata.nextLink']).toMatch(new RegExp(`^${emulator.url}/v1\\.0/`));
    const messages = pages.flatMap((page) => page.value);
    expect(messages.map((message) => message.subject)).toEqual(Array.from({ length: 20 }, (_, index) => `Question ${index}`));
    expect(Object.keys(messages[0]!).sort()).toEqual(['@odata.etag', 'id', 'internetMessageHeaders', 'internetMessageId', 'receivedDateTime', 'subject']);
    const headers = messages[0]!.internetMessageHeaders as { name: string; value: string }[];
    expect(headers).toContainEqual({ name: 'Message-ID', value: '<q0@acme.test>' });

    // Headers are never part of the default property set.
    const unselected: Page = await client.api('/me/messages').top(1).get();
    expect(unselected.value[0]).not.toHaveProperty('internetMessageHeaders');
    expect(unselected.value[0]).toMatchObject({
      subject: 'Question 0',
      from: { emailAddress: { name: 'Customer 0', address: 'customer0@acme.test' } },
      toRecipients: [{ emailAddress: { address: AGENT } }],
      body: { contentType: 'html' },
      isDraft: false,
      isRead: false,
    });
    expect(unselected.value).toHaveLength(1);
  });

  test('I3 a generated 30-day mailbox lists exactly its in-window mail, with threads as conversations and attachments flagged', async () => {
    const { seed, truth } = generateMailbox({ seed: 42, address: AGENT, messages: 80, olderThanWindow: 15 });
    await emulator.control.seedMailbox(seed);
    const first: Page = await client
      .api('/me/mailFolders/inbox/messages')
      .filter(`receivedDateTime ge ${truth.windowStart.toISOString()}`)
      .orderby('receivedDateTime desc')
      .select(['internetMessageId', 'conversationId', 'hasAttachments'])
      .top(25)
      .get();
    const listed = (await allPages(client, first)).flatMap((page) => page.value);
    const expected = truth.messages.filter((fact) => fact.insideWindow);
    expect(listed.map((message) => message.internetMessageId).sort()).toEqual(expected.map((fact) => fact.messageId).sort());

    const conversationByMessageId = new Map(listed.map((message) => [message.internetMessageId, message.conversationId]));
    for (const messageIds of Object.values(truth.threads)) {
      const conversations = new Set(messageIds.filter((id) => conversationByMessageId.has(id)).map((id) => conversationByMessageId.get(id)));
      expect(conversations.size).toBeLessThanOrEqual(1);
    }
    // Bounces carry the returned message as an attachment, as Outlook shows them; compare human mail only.
    const ordinaryIds = new Set(expected.filter((fact) => fact.kind === 'ordinary').map((fact) => fact.messageId));
    const flagged = listed.filter((message) => message.hasAttachments && ordinaryIds.has(message.internetMessageId as string));
    expect(flagged.length).toBeGreaterThan(0);
    const withAttachments = await client.api(`/me/messages/${flagged[0]!.id}`).expand('attachments').select(['subject']).get();
    expect(withAttachments.attachments[0]).toMatchObject({ '@odata.type': '#microsoft.graph.fileAttachment', isInline: false, contentBytes: expect.any(String) });
    expect(flagged.map((message) => message.internetMessageId).sort()).toEqual(truth.attachmentMessageIds.filter((id) => ordinaryIds.has(id)).sort());
  });

  test('I3 $orderby whose property does not lead $filter is refused with InefficientFilter', async () => {
    const since = new Date(Date.now() - 30 * DAY_MS).toISOString();
    const request = client
      .api('/me/messages')
      .filter(`isRead eq false and receivedDateTime ge ${since}`)
      .orderby('receivedDateTime desc');
    await expect(request.get()).rejects.toMatchObject({ statusCode: 400, code: 'InefficientFilter' });
    await expect(client.api('/me/messages').top(1001).get()).rejects.toMatchObject({ statusCode: 400 });
  });

  test('I6 get by id honours ImmutableId and text bodies; $value returns the MIME; ids survive moves only when immutable', async () => {
    const [seeded] = await emulator.control.seedMailbox({ address: AGENT, messages: [seedMessage(1, new Date(Date.now() - 1000))] });
    const immutable = await client
      .api(`/me/messages/${seeded!.immutableId}`)
      .header('Prefer', 'IdType="ImmutableId", outlook.body-content-type="text"')
      .get();
    expect(immutable.id).toBe(seeded!.immutableId);
    expect(immutable.body).toEqual({ contentType: 'text', content: 'Hello, this is question 1.' });
    expect(immutable.internetMessageId).toBe('<q1@acme.test>');

    const mime: string = await client.api(`/me/messages/${seeded!.id}/$value`).responseType(ResponseType.TEXT).get();
    expect(mime).toContain('Message-ID: <q1@acme.test>');

    emulator.control.moveMessage(AGENT, seeded!.id, 'deleteditems');
    await expect(client.api(`/me/messages/${seeded!.id}`).get()).rejects.toMatchObject({ statusCode: 404, code: 'ErrorItemNotFound' });
    const afterMove = await client.api(`/me/messages/${seeded!.immutableId}`).header('Prefer', 'IdType="ImmutableId"').get();
    expect(afterMove.id).toBe(seeded!.immutableId);
  });

  test('I3 delta pages by maxpagesize, later rounds carry only changes and @removed, and a reset answers 410 with Location', async () => {
    const now = Date.now();
    const seeded = await emulator.control.seedMailbox({
      address: AGENT,
      messages: Array.from({ length: 12 }, (_, index) => seedMessage(index, new Date(now - index * 60_000))),
    });
    const prefer = 'odata.maxpagesize=5, IdType="ImmutableId"';
    const first: Page = await client.api('/me/mailFolders/inbox/messages/delta').select(['subject']).header('Prefer', prefer).get();
    const round1 = await allPages(client, first, prefer);
    expect(round1.map((page) => page.value.length)).toEqual([5, 5, 2]);
    expect(round1.slice(0, -1).every((page) => page['@odata.nextLink']?.includes('%24skiptoken='))).toBe(true);
    const deltaLink = round1.at(-1)!['@odata.deltaLink']!;
    expect(deltaLink).toContain('%24deltatoken=');

    const quiet: Page = await client.api(deltaLink).header('Prefer', prefer).get();
    expect(quiet.value).toEqual([]);

    const fresh = await emulator.control.deliver(AGENT, seedMessage(100, new Date()));
    emulator.control.deleteMessage(AGENT, seeded[0]!.id);
    emulator.control.moveMessage(AGENT, seeded[1]!.id, 'deleteditems');
    const round2 = await allPages(client, await client.api(quiet['@odata.deltaLink']!).header('Prefer', prefer).get(), prefer);
    const changes = round2.flatMap((page) => page.value);
    expect(changes).toHaveLength(3);
    expect(changes).toContainEqual({ '@odata.etag': expect.any(String), id: fresh.immutableId, subject: 'Question 100' });
    for (const removed of [seeded[0]!, seeded[1]!]) {
      expect(changes).toContainEqual({ '@odata.type': '#microsoft.graph.message', id: removed.immutableId, '@removed': { reason: 'deleted' } });
    }

    emulator.control.invalidateDeltaTokens(AGENT);
    const stale = client.api(round2.at(-1)!['@odata.deltaLink']!).header('Prefer', prefer).get();
    const error: ClientGraphError = await stale.then(
      () => {
        throw new Error('expected 410');
      },
      (caught: ClientGraphError) => caught,
    );
    expect(error.statusCode).toBe(410);
    const location = error.headers?.get('Location');
    expect(location).toMatch(new RegExp(`^${emulator.url}/v1\\.0/me/mailFolders/inbox/messages/delta\\?`));
    const restarted = await allPages(client, await client.api(location!).header('Prefer', prefer).get(), prefer);
    expect(restarted.flatMap((page) => page.value)).toHaveLength(11);

    emulator.control.invalidateDeltaTokens(AGENT, 'syncStateNotFound');
    await expect(client.api(restarted.at(-1)!['@odata.deltaLink']!).get()).rejects.toMatchObject({ statusCode: 400, code: 'syncStateNotFound' });
  });

  test('I9 reply is sent in the same conversation, lands in Sent Items and carries In-Reply-To/References', async () => {
    const [original] = await emulator.control.seedMailbox({
      address: AGENT,
      messages: [seedMessage(7, new Date(Date.now() - 60_000), { references: ['<older@acme.test>'] })],
    });
    await client.api(`/me/messages/${original!.id}/reply`).post({ comment: 'Thanks, we are on it.' });

    const sentItems: Page = await client
      .api('/me/mailFolders/sentitems/messages')
      .select(['subject', 'conversationId', 'internetMessageId', 'toRecipients', 'isDraft'])
      .get();
    expect(sentItems.value).toHaveLength(1);
    const reply = sentItems.value[0]!;
    expect(reply).toMatchObject({
      subject: 'RE: Question 7',
      conversationId: original!.conversationId,
      toRecipients: [{ emailAddress: { address: 'customer7@acme.test' } }],
      isDraft: false,
    });
    const [recorded] = emulator.control.sentMessages(AGENT);
    expect(recorded).toMatchObject({ kind: 'reply', internetMessageId: reply.internetMessageId, inReplyTo: '<q7@acme.test>' });
    const mime: string = await client.api(`/me/messages/${reply.id}/$value`).responseType(ResponseType.TEXT).get();
    expect(mime).toContain('In-Reply-To: <q7@acme.test>');
    expect(mime).toMatch(/References: <older@acme\.test>\s+<q7@acme\.test>/);
    expect(mime).toContain('Thanks, we are on it.');

    // createReply + PATCH + send keeps the draft's internetMessageId, so the importer can recognise its own reply.
    const draft = await client.api(`/me/messages/${original!.id}/createReply`).post({});
    expect(draft).toMatchObject({ isDraft: true, conversationId: original!.conversationId });
    await client.api(`/me/messages/${draft.id}`).patch({ body: { contentType: 'text', content: 'Second answer' } });
    await client.api(`/me/messages/${draft.id}/send`).post({});
    const sentAgain = emulator.control.sentMessages(AGENT);
    expect(sentAgain).toHaveLength(2);
    expect(sentAgain[1]!.internetMessageId).toBe(draft.internetMessageId);
    const sentCopies = emulator.control.messages(AGENT, 'sentitems').map((message) => message.internetMessageId);
    expect(sentCopies).toContain(draft.internetMessageId);
  });

  test('I3 $batch runs up to 20 requests, answers each individually, and refuses 21', async () => {
    const seeded = await emulator.control.seedMailbox({
      address: AGENT,
      messages: Array.from({ length: 3 }, (_, index) => seedMessage(index, new Date(Date.now() - index * 1000))),
    });
    const requests = seeded.map((message, index) => ({ id: String(index), method: 'GET', url: `/me/messages/${message.id}?$select=subject` }));
    requests.push({ id: 'missing', method: 'GET', url: '/me/messages/AAMkAGnope=' });
    const batch = await client.api('/$batch').post({ requests });
    const byId = new Map<string, { status: number; body: { subject?: string; error?: { code: string } } }>(
      batch.responses.map((response: { id: string }) => [response.id, response]),
    );
    expect(byId.get('2')).toMatchObject({ status: 200, body: { subject: 'Question 2' } });
    expect(byId.get('missing')).toMatchObject({ status: 404, body: { error: { code: 'ErrorItemNotFound' } } });
    expect(emulator.control.requestLog().filter((entry) => entry.batched)).toHaveLength(4);

    const tooMany = Array.from({ length: 21 }, (_, index) => ({ id: String(index), method: 'GET', url: '/me' }));
    await expect(client.api('/$batch').post({ requests: tooMany })).rejects.toMatchObject({ statusCode: 400 });
  });
});
