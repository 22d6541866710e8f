import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { MailboxSeed, SeedMessage } from '../mail/types';
import { GraphService, type GraphFaults, type RequestLogEntry, type SentMessage } from './graph-api';
import { IdentityPlatform, type IssuedTokens, type TokenEndpointCall } from './identity';
import { Mailbox, type WellKnownFolder } from './mailbox';
import { parseMessageContent } from './message-content';
import { messageEtag } from './odata';
import { SubscriptionHub, type LifecycleEvent, type NotificationAttempt, type Subscription } from './subscriptions';
import { MailboxThrottle, type ThrottleOptions } from './throttle';
import { generateTestCertificates } from './tls';
import { createRandom as seededRandom } from '../random';

export { emulatorGraphClientOptions } from './client-trust';
export { CaTrustingHttpHandler } from '../../lib/ca-trusting-http-handler';
export type { GraphFaults, RequestLogEntry, SentMessage, ServerErrorFault } from './graph-api';
export type { IssuedTokens, TokenEndpointCall } from './identity';
export type { LifecycleEvent, NotificationAttempt, Subscription } from './subscriptions';
export type { ThrottleOptions } from './throttle';
export type { WellKnownFolder } from './mailbox';

export interface GraphEmulatorOptions {
  /** Loopback only; default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  throttle?: ThrottleOptions;
  accessTokenTtlSeconds?: number;
  /** Longest subscription lifetime for Outlook messages; current docs say 10,080 min, older ones 4,230. */
  subscriptionMaxMinutes?: number;
  /** What a longer requested expiry gets: Graph's 400 (`reject`, default) or silently the maximum (`cap`). */
  subscriptionOverMax?: 'reject' | 'cap';
  validationTimeoutMs?: number;
  notificationTimeoutMs?: number;
  notificationRetryDelaysMs?: number[];
  tenantId?: string;
  /** Seeds probabilistic faults and `$batch` response shuffling, so runs repeat. */
  randomSeed?: number;
}

export interface EmulatorFaults extends GraphFaults {
  /** 429 the next `next` Graph requests regardless of load. */
  throttle?: { next?: number };
  /** Silently lose the next N webhook deliveries (change or lifecycle). */
  dropNotifications?: number;
  /** Deliver the next N webhook notifications twice. */
  duplicateNotifications?: number;
}

export interface DeliveredMessage {
  /** Default (mutable) Graph id. */
  id: string;
  immutableId: string;
  internetMessageId: string;
  conversationId: string;
  folder: WellKnownFolder;
}

export interface RequestCounts {
  total: number;
  byMailbox: Record<string, number>;
  byStatus: Record<string, number>;
}

export interface GraphEmulatorControl {
  createAccount(address: string): { id: string; address: string };
  /** Loads mail as already present: no notifications, part of the first delta round. */
  seedMailbox(seed: MailboxSeed): Promise<DeliveredMessage[]>;
  /** New mail arriving now: a delta change plus a `created` notification. */
  deliver(address: string, message: SeedMessage): Promise<DeliveredMessage>;
  messages(address: string, folder?: WellKnownFolder): DeliveredMessage[];
  deleteMessage(address: string, id: string): void;
  moveMessage(address: string, id: string, folder: WellKnownFolder): DeliveredMessage;
  /** Tokens without the OAuth dance, for tests that are not about OAuth; not counted as token calls. */
  issueTokens(address: string, scope?: string): IssuedTokens;
  revokeRefreshTokens(address: string): void;
  expireAccessTokens(address: string): void;
  /** Makes every outstanding delta/skip token of the mailbox answer 410 Gone (or 400 syncStateNotFound). */
  invalidateDeltaTokens(address: string, style?: 'gone' | 'syncStateNotFound'): void;
  denyNextConsents(count: number): void;
  fireLifecycle(subscriptionId: string, event: LifecycleEvent): void;
  injectFaults(faults: EmulatorFaults): void;
  clearFaults(): void;
  setThrottle(options: ThrottleOptions): void;
  requestLog(): RequestLogEntry[];
  requestCounts(): RequestCounts;
  clearRequestLog(): void;
  tokenEndpointCalls(): TokenEndpointCall[];
  sentMessages(address: string): SentMessage[];
  subscriptions(): Subscription[];
  notificationLog(): NotificationAttempt[];
  /** Waits until every webhook delivery started so far has finished (including retries). */
  notificationsSettled(): Promise<void>;
}

export interface GraphEmulator {
  /** HTTPS origin, e.g. `https://127.0.0.1:43123`; Graph lives under `/v1.0`, identity under `/{tenant}/oauth2/v2.0`. */
  url: string;
  /** The test CA to trust (see `dispatcherTrusting`). */
  caPem: string;
  tenantId: string;
  control: GraphEmulatorControl;
  close(): Promise<void>;
}

const GRAPH_JSON = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export async function startGraphEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error(`the Graph emulator binds to loopback only, not ${host}`);
  const certificates = await generateTestCertificates(host);
  const tenantId = options.tenantId ?? randomUUID();
  const mailboxes = new Map<string, Mailbox>();
  let origin = '';
  const identity = new IdentityPlatform(options.accessTokenTtlSeconds ?? 3600, (address) => mailboxes.has(address.toLowerCase()));
  const throttle = new MailboxThrottle(options.throttle);
  const hub = new SubscriptionHub(tenantId, {
    validationTimeoutMs: options.validationTimeoutMs ?? 10_000,
    notificationTimeoutMs: options.notificationTimeoutMs ?? 3_000,
    notificationRetryDelaysMs: options.notificationRetryDelaysMs ?? [1_000, 5_000, 30_000],
  });
  const service = new GraphService({
    origin: () => origin,
    identity,
    throttle,
    hub,
    mailboxes,
    subscriptionMaxMinutes: options.subscriptionMaxMinutes ?? 10_080,
    subscriptionOverMax: options.subscriptionOverMax ?? 'reject',
    random: seededRandom(options.randomSeed ?? 1),
  });

  const requireMailbox = (address: string): Mailbox => {
    const mailbox = mailboxes.get(address.toLowerCase());
    if (!mailbox) throw new Error(`no account ${address}; call createAccount first`);
    return mailbox;
  };
  const createAccount = (address: string): Mailbox => {
    const key = address.toLowerCase();
    const existing = mailboxes.get(key);
    if (existing) return existing;
    const mailbox = new Mailbox(key);
    mailboxes.set(key, mailbox);
    return mailbox;
  };
  const describe = (mailbox: Mailbox, id: string): DeliveredMessage => {
    const message = mailbox.findMessage(id);
    if (!message) throw new Error(`no message ${id} in ${mailbox.address}`);
    return {
      id: message.mutableId,
      immutableId: message.immutableId,
      internetMessageId: message.content.internetMessageId,
      conversationId: message.conversationId,
      folder: mailbox.folders.find((folder) => folder.id === message.folderId)!.wellKnownName,
    };
  };
  const store = async (mailbox: Mailbox, seedMessage: SeedMessage) => {
    const folder: WellKnownFolder = seedMessage.folder === 'sent' ? 'sentitems' : 'inbox';
    const message = mailbox.add({
      raw: seedMessage.raw,
      content: await parseMessageContent(seedMessage.raw),
      receivedAt: new Date(seedMessage.receivedAt),
      folder,
      thread: { threadKey: seedMessage.threadKey },
      isRead: folder === 'sentitems',
      isDraft: false,
    });
    return message;
  };

  const control: GraphEmulatorControl = {
    createAccount: (address) => {
      const mailbox = createAccount(address);
      return { id: mailbox.id, address: mailbox.address };
    },
    async seedMailbox(seed) {
      const mailbox = createAccount(seed.address);
      const delivered: DeliveredMessage[] = [];
      for (const seedMessage of seed.messages) delivered.push(describe(mailbox, (await store(mailbox, seedMessage)).immutableId));
      return delivered;
    },
    async deliver(address, seedMessage) {
      const mailbox = requireMailbox(address);
      const message = await store(mailbox, seedMessage);
      service.notify(mailbox, message, 'created');
      return describe(mailbox, message.immutableId);
    },
    messages: (address, folder) => {
      const mailbox = requireMailbox(address);
      return mailbox
        .messagesIn(folder ? mailbox.folder(folder).id : null)
        .map((message) => describe(mailbox, message.immutableId));
    },
    deleteMessage: (address, id) => {
      const mailbox = requireMailbox(address);
      const message = mailbox.findMessage(id);
      if (!message) throw new Error(`no message ${id} in ${address}`);
      service.rememberRemoved(message);
      mailbox.remove(message);
      hub.notifyChange(mailbox, message.folderId, 'deleted', {
        ids: { immutable: message.immutableId, mutable: message.mutableId },
        etag: messageEtag(message),
      });
    },
    moveMessage: (address, id, folder) => {
      const mailbox = requireMailbox(address);
      const message = mailbox.findMessage(id);
      if (!message) throw new Error(`no message ${id} in ${address}`);
      service.moveAndNotify(mailbox, message, folder);
      return describe(mailbox, message.immutableId);
    },
    issueTokens: (address, scope = 'Mail.ReadWrite Mail.Send User.Read') => identity.issue(requireMailbox(address).address, scope, 'emulator-test-client', true),
    revokeRefreshTokens: (address) => identity.revokeRefreshTokens(address.toLowerCase()),
    expireAccessTokens: (address) => identity.expireAccessTokens(address.toLowerCase()),
    invalidateDeltaTokens: (address, style = 'gone') => {
      const mailbox = requireMailbox(address);
      mailbox.deltaGeneration += 1;
      mailbox.deltaResetStyle = style;
    },
    denyNextConsents: (count) => identity.denyNextConsents(count),
    fireLifecycle: (subscriptionId, event) => hub.fireLifecycle(subscriptionId, event),
    injectFaults: (faults) => {
      const { throttle: throttleFault, dropNotifications, duplicateNotifications, ...graphFaults } = faults;
      service.setFaults(graphFaults);
      if (throttleFault?.next !== undefined) throttle.forceNext(throttleFault.next);
      if (dropNotifications !== undefined) hub.faults.dropNext = dropNotifications;
      if (duplicateNotifications !== undefined) hub.faults.duplicateNext = duplicateNotifications;
    },
    clearFaults: () => {
      service.clearFaults();
      throttle.forceNext(0);
      hub.faults.dropNext = 0;
      hub.faults.duplicateNext = 0;
    },
    setThrottle: (throttleOptions) => throttle.configure(throttleOptions),
    requestLog: () => service.requestLog(),
    requestCounts: () => {
      const counts: RequestCounts = { total: 0, byMailbox: {}, byStatus: {} };
      for (const entry of service.requestLog()) {
        counts.total += 1;
        const mailbox = entry.mailbox ?? '(unauthenticated)';
        counts.byMailbox[mailbox] = (counts.byMailbox[mailbox] ?? 0) + 1;
        counts.byStatus[entry.status] = (counts.byStatus[entry.status] ?? 0) + 1;
      }
      return counts;
    },
    clearRequestLog: () => service.clearRequestLog(),
    tokenEndpointCalls: () => identity.tokenEndpointCalls(),
    sentMessages: (address) => service.sentMessages(address.toLowerCase()),
    subscriptions: () => hub.list(),
    notificationLog: () => hub.deliveryLog(),
    notificationsSettled: () => hub.settled(),
  };

  const app = express();
  app.disable('x-powered-by');
  app.use('/_emulator', express.json({ limit: '100mb' }), controlRouter(control));
  const graphHandler = async (req: Request, res: Response) => {
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.query)) query[key] = String(Array.isArray(value) ? value[0] : value);
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(req.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    const result = await service.handle({ method: req.method, path: req.path, query, headers, body: req.body });
    res.status(result.status);
    for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
    if (result.body === undefined) res.end();
    else if (Buffer.isBuffer(result.body)) res.send(result.body);
    else if (typeof result.body === 'string') res.type(result.headers['Content-Type'] ?? 'text/plain').send(result.body);
    else res.type(GRAPH_JSON).send(JSON.stringify(result.body));
  };
  for (const version of ['/v1.0', '/beta']) app.use(version, express.json({ limit: '150mb' }), graphHandler);
  app.use(identity.router());
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status ?? 500;
    res.status(status).json({ error: { code: status === 400 ? 'BadRequest' : 'InternalServerError', message: error instanceof Error ? error.message : String(error), innerError: { 'request-id': randomUUID(), date: new Date().toISOString() } } });
  });

  const server = https.createServer({ cert: certificates.serverCertPem, key: certificates.serverKeyPem }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: origin,
    caPem: certificates.caPem,
    tenantId,
    control,
    close: async () => {
      hub.close();
      await hub.settled();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same control surface over HTTP, for tools outside this process (CLI, bench). */
function controlRouter(control: GraphEmulatorControl): express.Router {
  const router = express.Router();
  const handle =
    (run: (req: Request) => unknown) =>
    async (req: Request, res: Response) => {
      try {
        const result = await run(req);
        if (result === undefined) res.status(204).end();
        else res.json(result);
      } catch (error) {
        res.status(400).json({ error: error instanceof Error ? error.message : String(error) });
      }
    };
  const param = (req: Request, name: string) => String(req.params[name]);
  const seedMessage = (body: SeedMessage): SeedMessage => ({ ...body, receivedAt: new Date(body.receivedAt) });
  router.post('/accounts', handle((req) => control.createAccount(String(req.body.address))));
  router.post('/seed', handle((req) => control.seedMailbox({ address: String(req.body.address), messages: (req.body.messages as SeedMessage[]).map(seedMessage) })));
  router.get('/accounts/:address/messages', handle((req) => control.messages(param(req, 'address'), req.query.folder as WellKnownFolder | undefined)));
  router.post('/accounts/:address/deliver', handle((req) => control.deliver(param(req, 'address'), seedMessage(req.body))));
  router.delete('/accounts/:address/messages/:id', handle((req) => control.deleteMessage(param(req, 'address'), param(req, 'id'))));
  router.post('/accounts/:address/messages/:id/move', handle((req) => control.moveMessage(param(req, 'address'), param(req, 'id'), req.body.folder)));
  router.post('/accounts/:address/tokens', handle((req) => control.issueTokens(param(req, 'address'), req.body?.scope)));
  router.post('/accounts/:address/revoke-refresh-tokens', handle((req) => control.revokeRefreshTokens(param(req, 'address'))));
  router.post('/accounts/:address/expire-access-tokens', handle((req) => control.expireAccessTokens(param(req, 'address'))));
  router.post('/accounts/:address/invalidate-delta-tokens', handle((req) => control.invalidateDeltaTokens(param(req, 'address'), req.body?.style)));
  router.get('/accounts/:address/sent', handle((req) => control.sentMessages(param(req, 'address'))));
  router.post('/consent-denials', handle((req) => control.denyNextConsents(Number(req.body.count))));
  router.get('/subscriptions', handle(() => control.subscriptions()));
  router.post('/subscriptions/:id/lifecycle', handle((req) => control.fireLifecycle(param(req, 'id'), req.body.event)));
  router.get('/notifications', handle(() => control.notificationLog()));
  router.post('/faults', handle((req) => control.injectFaults(req.body)));
  router.delete('/faults', handle(() => control.clearFaults()));
  router.put('/throttle', handle((req) => control.setThrottle(req.body)));
  router.get('/requests', handle(() => control.requestLog()));
  router.delete('/requests', handle(() => control.clearRequestLog()));
  router.get('/request-counts', handle(() => control.requestCounts()));
  router.get('/token-calls', handle(() => control.tokenEndpointCalls()));
  return router;
}
