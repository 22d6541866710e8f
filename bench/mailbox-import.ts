/**
 * `npm run bench:mailbox-import -- --provider gmail|outlook --messages 5000 --threads 1000 [--quota on]`
 *
 * Times deskbridge's mailbox backfill (inbox connected through the OAuth flow → the import API
 * reports `backfillDone`; worker in a child process whose peak RSS is read from /proc) against
 * the fastest plain implementation of the same import: a non-durable loop making the same
 * provider calls with the same clients and page size, and writing the same tickets, customers
 * and messages, with the same indexes, into a fresh database on the same server. The emulators
 * run in their own process (this file, forked with `--emulator-host`), so neither side shares a
 * CPU thread with them; the baseline reads its own copy of the mailbox from an emulator without
 * quota. The last stdout line is JSON.
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AuthenticationHandler, Client, RedirectHandler, ResponseType, TelemetryHandler } from '@microsoft/microsoft-graph-client';
import { google } from '../activities/mail/google';
import { MongoClient, ObjectId, type CreateIndexesOptions, type IndexSpecification } from 'mongodb';
import type { Model } from 'mongoose';
import { automatedMailReason, customerNameFromAddress, filterDecision, parseRawMessage, type ParsedMail } from '../domain/mail';
import { startGmailEmulator, quotaBoundMsgPerSec, type GmailEmulator } from '../emulators/gmail';
import { startGraphEmulator, type GraphEmulator } from '../emulators/graph';
import { generateMailbox } from '../emulators/mail/generate';
import { CaTrustingHttpHandler } from '../lib/ca-trusting-http-handler';
import { CustomerModel, TicketMessageModel, TicketModel, emailKeyOf, siteKey, utcDay } from '../models';
import { googleOAuthClient, mailProviderSettings, type MailProviderSettings } from '../activities/mail/oauth';
import { GOOGLE_CLIENT, MS_CLIENT, PUBSUB_AUDIENCE, PUBSUB_TOPIC, consentRedirect } from '../test/mailbox/support';
import { peakRssMb, progress, startHarness } from '../scripts/harness';

type Provider = 'gmail' | 'outlook';

const MAILBOX_ADDRESS = 'agent@bench.example.com';
/** The import window is 30 days; mail spread over 29 keeps the oldest inside it however long the run takes. */
const SEEDED_DAYS = 29;
const IMPORT_DAYS = 30;
/** Both connectors list 500 ids a page (Gmail's maximum; Graph's `$top`). */
const PAGE_SIZE = 500;
/** Requests in flight per mailbox, as deskbridge's connectors allow (Graph's own limit is 4). */
const FETCH_CONCURRENCY: Record<Provider, number> = { gmail: 8, outlook: 4 };
const GMAIL_UNITS_PER_SECOND = 250;
const GRAPH_REQUESTS_PER_10_MIN = 10_000;
const GRAPH_MAX_CONCURRENT = 4;
const IMMUTABLE_IDS = 'IdType="ImmutableId"';

// ---------------------------------------------------------------------------------------------
// Emulator host: the child process serving both providers' emulators, driven over IPC.

interface HostStart {
  provider: Provider;
  quota: boolean;
  messages: number;
  threads: number;
}

interface HostReady {
  gmailUrl: string;
  graphUrl: string;
  graphCaPem: string;
  graphTenantId: string;
  baselineUrl: string;
  baselineCaPem: string;
  insideWindow: number;
  ticketThreads: number;
  automated: number;
}

type HostCall = 'start' | 'desk.requestCounts' | 'desk.clearRequestLog' | 'baseline.requestCounts' | 'baseline.accessToken' | 'gmail.setPushEndpoint' | 'close';
type HostRequest = { id: number; call: HostCall; args: unknown[] };
type HostReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

async function hostEmulators(): Promise<void> {
  let handlers: Partial<Record<HostCall, (...args: never[]) => unknown>> = {};
  const start = async (options: HostStart): Promise<HostReady> => {
    const [gmail, graph] = await Promise.all([
      startGmailEmulator({ oauthClients: [GOOGLE_CLIENT], quota: options.quota && options.provider === 'gmail' ? { unitsPerSecondPerUser: GMAIL_UNITS_PER_SECOND } : undefined }),
      startGraphEmulator({
        throttle: options.quota && options.provider === 'outlook' ? { enabled: true, requestsPer10Min: GRAPH_REQUESTS_PER_10_MIN, maxConcurrent: GRAPH_MAX_CONCURRENT } : undefined,
      }),
    ]);
    const baseline: GmailEmulator | GraphEmulator = options.provider === 'gmail' ? await startGmailEmulator() : await startGraphEmulator();
    const { seed, truth } = generateMailbox({ seed: 5, address: MAILBOX_ADDRESS, messages: options.messages, threads: options.threads, days: SEEDED_DAYS });
    if (options.provider === 'gmail') {
      gmail.control.seedMailbox(seed);
      (baseline as GmailEmulator).control.seedMailbox(seed);
    } else {
      await graph.control.seedMailbox(seed);
      await (baseline as GraphEmulator).control.seedMailbox(seed);
    }
    const desk = options.provider === 'gmail' ? gmail.control : graph.control;
    handlers = {
      'desk.requestCounts': () => desk.requestCounts(),
      'desk.clearRequestLog': () => desk.clearRequestLog(),
      'baseline.requestCounts': () => baseline.control.requestCounts(),
      'baseline.accessToken': () =>
        options.provider === 'gmail' ? (baseline as GmailEmulator).control.issueTokens(MAILBOX_ADDRESS).access_token : (baseline as GraphEmulator).control.issueTokens(MAILBOX_ADDRESS).access_token,
      'gmail.setPushEndpoint': (topic: string, url: string, audience: string) => gmail.control.setPushEndpoint(topic, url, audience),
      close: async () => {
        await Promise.all([gmail.close(), graph.close(), baseline.close()]);
        setImmediate(() => process.exit(0));
      },
    };
    return {
      gmailUrl: gmail.url,
      graphUrl: graph.url,
      graphCaPem: graph.caPem,
      graphTenantId: graph.tenantId,
      baselineUrl: baseline.url,
      baselineCaPem: 'caPem' in baseline ? baseline.caPem : '',
      insideWindow: truth.insideWindow,
      ticketThreads: truth.ticketThreadKeys.length,
      automated: truth.automatedMessageIds.length,
    };
  };
  handlers.start = start as never;
  // The bench going away (even by SIGKILL) closes the IPC channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (request: HostRequest) => {
    let reply: HostReply;
    try {
      const handler = handlers[request.call];
      if (!handler) throw new Error(`emulator host: ${request.call} is not available now`);
      reply = { id: request.id, ok: true, result: await handler(...(request.args as never[])) };
    } catch (err) {
      reply = { id: request.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    process.send!(reply);
  });
  process.send!({ id: 0, ok: true, result: 'ready' } satisfies HostReply);
}

interface EmulatorHost {
  call<T = unknown>(call: HostCall, ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

async function startEmulatorHost(): Promise<EmulatorHost> {
  const child: ChildProcess = fork(__filename, ['--emulator-host'], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    void exited.then(() => reject(new Error('emulator host exited before it was ready')));
    child.on('message', (reply: HostReply) => {
      if (reply.id === 0) return resolve();
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.result);
      else waiter?.reject(new Error(reply.error));
    });
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error('emulator host exited'));
    pending.clear();
  });
  await ready;
  return {
    call: <T>(call: HostCall, ...args: unknown[]) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, call, args } satisfies HostRequest);
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await Promise.race([
        new Promise<void>((resolve) => {
          child.send({ id: nextId++, call: 'close', args: [] } satisfies HostRequest);
          void exited.then(resolve);
        }),
        new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref()),
      ]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Deskbridge: sign up, create the inbox, connect it through OAuth, wait for the backfill.

interface ImportProgress {
  state: string;
  backfillDone: boolean;
  counts: { listed: number; imported: number; ticketsCreated: number; customersCreated: number; duplicates: number; skippedAutomated: number; skippedExcluded: number; skippedFiltered: number; gone: number };
  failure: { type: string; message: string } | null;
}

async function api<T>(apiUrl: string, method: string, pathname: string, token?: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${apiUrl}${pathname}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function runDeskbridge(apiUrl: string, provider: Provider, graphCaPem: string): Promise<{ inboxId: string; seconds: number; progress: ImportProgress }> {
  const slug = `bench-${crypto.randomBytes(4).toString('hex')}`;
  const signup = await api<{ site: { id: string }; owner: { token: string } }>(apiUrl, 'POST', '/api/signup', undefined, {
    siteName: 'Mail bench', slug, owner: { email: `owner@${slug}.example.com`, firstName: 'Bea', lastName: 'Bench' },
  });
  if (signup.status !== 201 && signup.status !== 202) throw new Error(`signup answered ${signup.status}: ${JSON.stringify(signup.body)}`);
  const token = signup.body.owner.token;
  const inbox = await api<{ id: string }>(apiUrl, 'POST', '/api/inboxes', token, { provider, name: 'Support', importEmails: true, filterMode: 'all' });
  if (inbox.status !== 201) throw new Error(`create inbox answered ${inbox.status}: ${JSON.stringify(inbox.body)}`);
  const inboxId = inbox.body.id;
  const connect = await api<{ consentUrl: string }>(apiUrl, 'POST', `/api/inboxes/${inboxId}/connect`, token, { loginHint: MAILBOX_ADDRESS });
  if (connect.status !== 200) throw new Error(`connect answered ${connect.status}: ${JSON.stringify(connect.body)}`);
  const back = await consentRedirect(connect.body.consentUrl, graphCaPem);

  // The callback stores the tokens and starts the mailbox workflow: the clock starts here.
  const started = performance.now();
  const callback = await fetch(`${apiUrl}${back.pathname}${back.search}`, { redirect: 'manual' });
  if (callback.status >= 400) throw new Error(`OAuth callback answered ${callback.status}: ${await callback.text()}`);
  let lastReport = started;
  for (;;) {
    const { status, body } = await api<ImportProgress>(apiUrl, 'GET', `/api/inboxes/${inboxId}/import`, token);
    if (status !== 200) throw new Error(`import progress answered ${status}: ${JSON.stringify(body)}`);
    if (body.failure || body.state === 'failed') throw new Error(`import failed: ${JSON.stringify(body.failure)}`);
    if (body.backfillDone) return { inboxId, seconds: (performance.now() - started) / 1000, progress: body };
    if (performance.now() - lastReport > 5_000) {
      lastReport = performance.now();
      progress(`  ${body.state}: listed ${body.counts.listed}, imported ${body.counts.imported}, skipped ${body.counts.skippedAutomated + body.counts.skippedFiltered + body.counts.skippedExcluded}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// ---------------------------------------------------------------------------------------------
// Baseline: list + get raw with the same clients, parse, write; nothing durable.

interface ListedRef {
  id: string;
  threadId?: string;
  receivedAt?: string;
}

interface RawMessage {
  id: string;
  threadId?: string;
  receivedAt: Date;
  raw: Buffer;
}

interface BaselineProvider {
  list(since: Date, pageToken?: string): Promise<{ refs: ListedRef[]; nextPageToken?: string }>;
  get(ref: ListedRef): Promise<RawMessage>;
}

function gmailBaseline(settings: MailProviderSettings, accessToken: string): BaselineProvider {
  const auth = googleOAuthClient(settings);
  auth.setCredentials({ access_token: accessToken });
  const gmail = google.gmail({ version: 'v1', auth, rootUrl: settings.gmailRootUrl, retry: false });
  return {
    async list(since, pageToken) {
      const q = `after:${Math.floor(since.getTime() / 1000)}`;
      const { data } = await gmail.users.messages.list({ userId: 'me', q, labelIds: ['INBOX'], maxResults: PAGE_SIZE, pageToken });
      return { refs: (data.messages ?? []).map((m) => ({ id: String(m.id), threadId: m.threadId ?? undefined })), nextPageToken: data.nextPageToken ?? undefined };
    },
    async get(ref) {
      const { data } = await gmail.users.messages.get({ userId: 'me', id: ref.id, format: 'raw' });
      return { id: ref.id, threadId: data.threadId ?? ref.threadId, receivedAt: new Date(Number(data.internalDate)), raw: Buffer.from(String(data.raw ?? ''), 'base64url') };
    },
  };
}

function graphBaseline(baseUrl: string, caPem: string, accessToken: string): BaselineProvider {
  const client = Client.initWithMiddleware({
    baseUrl,
    defaultVersion: 'v1.0',
    customHosts: new Set([new URL(baseUrl).hostname]),
    middleware: [new AuthenticationHandler({ getAccessToken: async () => accessToken }), new RedirectHandler(), new TelemetryHandler(), new CaTrustingHttpHandler(caPem)],
  });
  const instant = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;
  return {
    async list(since, pageToken) {
      const page: { value?: { id: string; conversationId?: string; receivedDateTime?: string }[]; '@odata.nextLink'?: string } = pageToken
        ? await client.api(pageToken).header('Prefer', IMMUTABLE_IDS).get()
        : await client
            .api('/me/mailFolders/inbox/messages')
            .filter(`receivedDateTime ge ${instant(since)}`)
            .orderby('receivedDateTime desc')
            .select(['id', 'conversationId', 'receivedDateTime'])
            .top(PAGE_SIZE)
            .header('Prefer', IMMUTABLE_IDS)
            .get();
      return { refs: (page.value ?? []).map((m) => ({ id: m.id, threadId: m.conversationId, receivedAt: m.receivedDateTime })), nextPageToken: page['@odata.nextLink'] };
    },
    async get(ref) {
      const mime: ArrayBuffer = await client.api(`/me/messages/${ref.id}/$value`).header('Prefer', IMMUTABLE_IDS).responseType(ResponseType.ARRAYBUFFER).get();
      return { id: ref.id, threadId: ref.threadId, receivedAt: new Date(ref.receivedAt!), raw: Buffer.from(mime) };
    },
  };
}

async function mapConcurrently<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}

async function createIndexesLike(db: ReturnType<MongoClient['db']>, model: Model<never>): Promise<void> {
  for (const [fields, options] of model.schema.indexes()) {
    await db.collection(model.collection.collectionName).createIndex(fields as IndexSpecification, options as CreateIndexesOptions);
  }
}

/**
 * Pages through the window (the next page and its fetches overlap the writes of this one),
 * applies the same I12 skip deskbridge applies under `filterMode: 'all'`, threads by provider
 * thread, and bulk-inserts messages page by page and the tickets and customers once at the end
 * (their first/last dates are known then, so no updates are needed).
 */
async function runBaseline(provider: Provider, client: BaselineProvider, mongoUri: string): Promise<{ listed: number; messages: number; tickets: number; customers: number; seconds: number }> {
  const mongo = await new MongoClient(mongoUri).connect();
  const db = mongo.db(`baseline_${crypto.randomBytes(4).toString('hex')}`);
  try {
    for (const model of [TicketModel, TicketMessageModel, CustomerModel] as unknown as Model<never>[]) await createIndexesLike(db, model);
    const messagesCollection = db.collection(TicketMessageModel.collection.collectionName);
    const siteId = new ObjectId();
    const inboxId = new ObjectId();
    const inboxKey = String(inboxId);
    const tickets = new Map<string, { _id: ObjectId; subject: string; sender: string; customerId?: ObjectId; first: Date; last: Date }>();
    const customers = new Map<string, { _id: ObjectId; email: string; name: string }>();

    const writePage = async (fetched: RawMessage[]) => {
      fetched.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
      const docs: Record<string, unknown>[] = [];
      const now = new Date();
      for (const message of fetched) {
        const mail: ParsedMail = await parseRawMessage(message.raw);
        const sender = mail.from?.address ?? '';
        const decision = filterDecision({ mode: 'all', sender, excludedDomains: [], senderIsCustomerWithCompany: false, senderDomainCompanyId: null, automated: automatedMailReason(mail) });
        if (!decision.import) continue;
        const threadKey = `${inboxKey}:${message.threadId ?? `message:${message.id}`}`;
        let ticket = tickets.get(threadKey);
        if (!ticket) {
          let customer = sender ? customers.get(emailKeyOf(sender)) : undefined;
          if (!customer && sender && mail.from) {
            customer = { _id: new ObjectId(), email: mail.from.address, name: mail.from.name };
            customers.set(emailKeyOf(sender), customer);
          }
          ticket = { _id: new ObjectId(), subject: mail.subject ?? '', sender, customerId: customer?._id, first: message.receivedAt, last: message.receivedAt };
          tickets.set(threadKey, ticket);
        }
        if (message.receivedAt < ticket.first) Object.assign(ticket, { first: message.receivedAt, subject: mail.subject ?? '' });
        if (message.receivedAt > ticket.last) ticket.last = message.receivedAt;
        const rfcKey = mail.messageId ? `${inboxKey}:${mail.messageId}` : undefined;
        docs.push({
          ...new TicketMessageModel({
            siteId, inboxId, ticketId: ticket._id, providerMessageId: message.id, providerKey: `${inboxKey}:${message.id}`,
            providerThreadId: message.threadId, providerThreadKey: message.threadId ? `${inboxKey}:${message.threadId}` : undefined,
            rfcMessageId: mail.messageId, rfcKey, parentKeys: [...new Set([...mail.inReplyTo, ...mail.references])].map((id) => `${inboxKey}:${id}`),
            inReplyTo: mail.inReplyTo, references: mail.references, from: mail.from, to: mail.to, cc: mail.cc, subject: mail.subject,
            text: mail.text, html: mail.html, attachments: mail.attachments, receivedAt: message.receivedAt, sentAt: mail.date,
          }).toObject(),
          createdAt: now,
          updatedAt: now,
        });
      }
      if (docs.length) await messagesCollection.insertMany(docs, { ordered: false });
      return docs.length;
    };

    const started = performance.now();
    const since = new Date(Date.now() - IMPORT_DAYS * 86_400_000);
    let listed = 0;
    let written = 0;
    let writing: Promise<number> = Promise.resolve(0);
    let next = client.list(since);
    for (;;) {
      const page = await next;
      if (page.nextPageToken) next = client.list(since, page.nextPageToken);
      listed += page.refs.length;
      const fetched = await mapConcurrently(page.refs, FETCH_CONCURRENCY[provider], (ref) => client.get(ref));
      written += await writing;
      writing = writePage(fetched);
      if (!page.nextPageToken) break;
    }
    written += await writing;
    const now = new Date();
    const customerDocs = [...customers.values()].map(({ _id, email, name }) => {
      const { firstName, lastName } = customerNameFromAddress({ address: email, name });
      return { ...new CustomerModel({ _id, siteId, email, emailKey: siteKey(siteId, emailKeyOf(email)), firstName: firstName || undefined, lastName: lastName || undefined, origin: 'ticket' }).toObject(), createdAt: now, updatedAt: now };
    });
    if (customerDocs.length) await db.collection(CustomerModel.collection.collectionName).insertMany(customerDocs, { ordered: false });
    const ticketDocs = [...tickets].map(([threadKey, t]) => ({
      ...new TicketModel({
        _id: t._id, siteId, inboxId, inboxType: 'individual', subject: t.subject, customerId: t.customerId, fromAddress: t.sender || undefined,
        threadKey, firstMessageAt: t.first, lastMessageAt: t.last, createdDay: utcDay(t.first),
      }).toObject(),
      createdAt: now,
      updatedAt: now,
    }));
    if (ticketDocs.length) await db.collection(TicketModel.collection.collectionName).insertMany(ticketDocs, { ordered: false });
    const seconds = (performance.now() - started) / 1000;
    return { listed, messages: written, tickets: ticketDocs.length, customers: customerDocs.length, seconds };
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await mongo.close();
  }
}

// ---------------------------------------------------------------------------------------------

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      provider: { type: 'string', default: 'gmail' },
      messages: { type: 'string', default: '5000' },
      threads: { type: 'string', default: '1000' },
      quota: { type: 'string', default: 'off' },
    },
  });
  const provider = values.provider as Provider;
  const messages = Number(values.messages);
  const threads = Number(values.threads);
  if (provider !== 'gmail' && provider !== 'outlook') throw new Error('--provider must be gmail or outlook');
  if (!Number.isInteger(messages) || messages < 1 || !Number.isInteger(threads) || threads < 1) throw new Error('--messages and --threads must be integers ≥ 1');
  if (values.quota !== 'on' && values.quota !== 'off') throw new Error('--quota must be on or off');
  const quota = values.quota === 'on';

  const host = await startEmulatorHost();
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deskbridge-bench-ca-'));
  try {
    progress(`seeding a ${SEEDED_DAYS}-day ${provider} mailbox: ${messages} messages, ${threads} threads${quota ? ', quota on' : ''}`);
    const emulators = await host.call<HostReady>('start', { provider, quota, messages, threads } satisfies HostStart);
    const caFile = path.join(caDir, 'ca.pem');
    fs.writeFileSync(caFile, emulators.graphCaPem);
    const harness = await startHarness({
      GMAIL_API_ROOT_URL: `${emulators.gmailUrl}/`,
      GOOGLE_OAUTH_AUTH_URL: `${emulators.gmailUrl}/o/oauth2/v2/auth`,
      GOOGLE_OAUTH_TOKEN_URL: `${emulators.gmailUrl}/token`,
      GOOGLE_JWKS_URL: `${emulators.gmailUrl}/oauth2/v3/certs`,
      GOOGLE_CLIENT_ID: GOOGLE_CLIENT.clientId,
      GOOGLE_CLIENT_SECRET: GOOGLE_CLIENT.clientSecret,
      GOOGLE_PUBSUB_TOPIC: PUBSUB_TOPIC,
      GOOGLE_PUBSUB_AUDIENCE: PUBSUB_AUDIENCE,
      GRAPH_BASE_URL: emulators.graphUrl,
      MS_IDENTITY_BASE_URL: emulators.graphUrl,
      MS_TENANT: emulators.graphTenantId,
      MS_CLIENT_ID: MS_CLIENT.clientId,
      MS_CLIENT_SECRET: MS_CLIENT.clientSecret,
      GRAPH_CA_FILE: caFile,
    });
    try {
      const { system } = harness;
      await host.call('gmail.setPushEndpoint', PUBSUB_TOPIC, `${system.apiUrl}/webhooks/gmail`, PUBSUB_AUDIENCE);
      const worker = await system.spawnWorkerProcess();
      const workerStartedRssMb = peakRssMb(worker.pid);
      await host.call('desk.clearRequestLog');

      progress(`deskbridge backfill (${emulators.insideWindow} messages in the window)`);
      const desk = await runDeskbridge(system.apiUrl, provider, emulators.graphCaPem);
      const workerPeakRssMb = peakRssMb(worker.pid);
      const providerRequests = await host.call<Record<string, unknown>>('desk.requestCounts');
      const [storedMessages, storedTickets] = await Promise.all([TicketMessageModel.countDocuments({ inboxId: desk.inboxId }), TicketModel.countDocuments({ inboxId: desk.inboxId })]);
      const { counts } = desk.progress;
      if (counts.listed !== emulators.insideWindow) throw new Error(`deskbridge listed ${counts.listed} messages, the window holds ${emulators.insideWindow}`);
      progress(`deskbridge: ${round(desk.seconds)} s, ${storedMessages} messages in ${storedTickets} tickets`);

      progress('baseline');
      const accessToken = await host.call<string>('baseline.accessToken');
      const settings = mailProviderSettings(system.config);
      const client = provider === 'gmail' ? gmailBaseline({ ...settings, gmailRootUrl: `${emulators.baselineUrl}/` }, accessToken) : graphBaseline(emulators.baselineUrl, emulators.baselineCaPem, accessToken);
      const baseline = await runBaseline(provider, client, system.env.MONGODB_URI!);
      const baselineRequests = await host.call<Record<string, unknown>>('baseline.requestCounts');
      progress(`baseline: ${round(baseline.seconds)} s, ${baseline.messages} messages in ${baseline.tickets} tickets`);
      if (baseline.listed !== counts.listed || baseline.messages !== storedMessages || baseline.tickets !== storedTickets) {
        throw new Error(`baseline wrote ${baseline.messages} messages in ${baseline.tickets} tickets from ${baseline.listed} listed; deskbridge ${storedMessages} in ${storedTickets} from ${counts.listed}`);
      }

      const msgPerSec = counts.listed / desk.seconds;
      const baselineMsgPerSec = baseline.listed / baseline.seconds;
      const result: Record<string, unknown> = {
        provider,
        messages: counts.listed,
        threads,
        imported: storedMessages,
        tickets: storedTickets,
        customersCreated: counts.customersCreated,
        skippedAutomated: counts.skippedAutomated,
        seconds: round(desk.seconds),
        msgPerSec: round(msgPerSec, 1),
        baselineSeconds: round(baseline.seconds),
        baselineMsgPerSec: round(baselineMsgPerSec, 1),
        ratio: round(msgPerSec / baselineMsgPerSec),
        providerRequests,
        baselineProviderRequests: baselineRequests,
        workerPeakRssMb,
        workerStartedRssMb,
      };
      if (quota) {
        // Each message costs one get (raw / $value) plus its share of a 500-id list page.
        const quotaBound =
          provider === 'gmail'
            ? quotaBoundMsgPerSec({ unitsPerSecondPerUser: GMAIL_UNITS_PER_SECOND, pageSize: PAGE_SIZE })
            : GRAPH_REQUESTS_PER_10_MIN / 600 / ((counts.listed + Math.ceil(counts.listed / PAGE_SIZE)) / counts.listed);
        Object.assign(result, {
          quota: provider === 'gmail' ? { unitsPerSecondPerUser: GMAIL_UNITS_PER_SECOND } : { requestsPer10Min: GRAPH_REQUESTS_PER_10_MIN, maxConcurrent: GRAPH_MAX_CONCURRENT },
          quotaBoundMsgPerSec: round(quotaBound, 1),
          quotaEfficiency: round(msgPerSec / quotaBound),
        });
      }
      console.log(JSON.stringify(result));
    } finally {
      await harness.stop();
    }
  } finally {
    await host.stop();
    fs.rmSync(caDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--emulator-host')) {
  hostEmulators().catch((err: unknown) => {
    process.stderr.write(`emulator host failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
