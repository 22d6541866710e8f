/**
 * Local Gmail API emulator: the real `googleapis` client talks to it via `rootUrl`, and
 * google-auth-library's OAuth2Client via custom `endpoints`. Wire shapes follow Google's docs;
 * where they are silent the choice is noted next to the code.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { MailboxSeed, SeedMessage } from '../mail/types';
import { createRandom } from '../random';
import { decodeEncodedWords, headerValue, parseHeaderBlock, snippetOf, toBase64Url } from './mime-tree';
import { OAuthServer, type OAuthClientRegistration, type TokenEndpointCall } from './oauth';
import { PushPublisher, type PushDelivery } from './push';
import { QuotaTracker, type GmailMethod, type QuotaOptions } from './quota';
import { Mailbox, SYSTEM_LABELS, type HistoryRecord, type HistoryType, type StoredMessage } from './store';

export { quotaBoundMsgPerSec, DEFAULT_QUOTA_COSTS, MAY_2026_QUOTA_COSTS } from './quota';
export type { QuotaCosts, QuotaOptions, GmailMethod } from './quota';
export type { PushDelivery } from './push';
export type { TokenEndpointCall, OAuthClientRegistration } from './oauth';
export { PUSH_SUBSCRIPTION } from './push';

const WATCH_LIFETIME_MS = 7 * 86_400_000;
const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 100;

export interface GmailEmulatorOptions {
  host?: string;
  port?: number;
  quota?: QuotaOptions;
  accessTokenTtlSeconds?: number;
  /** When set, OAuth client credentials are verified against this list. */
  oauthClients?: OAuthClientRegistration[];
  /** Per-user in-flight limit (Gmail's unpublished concurrency cap); excess gets 429. */
  maxConcurrentRequestsPerUser?: number;
  push?: {
    /** `email` claim of the push OIDC token. */
    serviceAccountEmail?: string;
    maxAttempts?: number;
    retryBaseDelayMs?: number;
    /** Coalesce notifications to one per interval per user (Gmail: 1000). Default 0: every change. */
    minIntervalPerUserMs?: number;
  };
  /** Seeds fault rolls and history-id gaps so runs are reproducible. */
  randomSeed?: number;
  now?: () => number;
}

export interface FaultSwitch {
  /** Fire on the next N eligible events. */
  next?: number;
  /** Fire on each eligible event with this probability. */
  probability?: number;
}

export interface FaultPlan {
  serverError?: FaultSwitch & { status?: 500 | 502 | 503 };
  /** Delay added before every Gmail API response. */
  latencyMs?: number;
  dropPush?: FaultSwitch;
  duplicatePush?: FaultSwitch;
  quotaExceeded?: FaultSwitch;
}

export interface RequestLogEntry {
  at: Date;
  method: string;
  path: string;
  /** Gmail method or OAuth endpoint, e.g. `messages.get`, `oauth.token`. */
  operation: string;
  userId?: string;
  status?: number;
}

export interface StoredMessageView {
  id: string;
  threadId: string;
  labelIds: string[];
  internalDate: Date;
  historyId: string;
  rfc822MessageId?: string;
  /** Raw message decoded as UTF-8. */
  raw: string;
}

export interface GmailEmulatorControl {
  createAccount(address: string): void;
  /** Pre-existing mail: stored oldest first with rising historyIds, no push notifications. */
  seedMailbox(seed: MailboxSeed): { messageIds: string[]; historyId: string };
  /** New mail arriving now: history record plus a push when the mailbox is watched. */
  deliver(address: string, message: SeedMessage): { id: string; threadId: string; historyId: string };
  /** Mints tokens without the consent dance, for tests that start already connected. */
  issueTokens(address: string, options?: { clientId?: string; scope?: string }): { access_token: string; refresh_token: string; expires_in: number };
  revokeRefreshTokens(address: string): void;
  expireAccessTokens(address: string): void;
  expireHistory(address: string): void;
  denyNextConsent(times?: number): void;
  modifyLabels(address: string, messageId: string, add: string[], remove: string[]): void;
  deleteMessage(address: string, messageId: string): void;
  setPushEndpoint(topicName: string, url: string, audience?: string): void;
  pushDeliveries(): PushDelivery[];
  /** Resolves once every push published so far has settled. */
  waitForPushes(): Promise<void>;
  injectFaults(plan: FaultPlan): void;
  clearFaults(): void;
  requestLog(): RequestLogEntry[];
  requestCounts(): Record<string, number>;
  clearRequestLog(): void;
  tokenEndpointCalls(): TokenEndpointCall[];
  sentMessages(address: string): StoredMessageView[];
  listMessages(address: string): StoredMessageView[];
  historyId(address: string): string;
  watchExpiration(address: string): Date | undefined;
  jwks(): { keys: Record<string, unknown>[] };
}

export interface GmailEmulator {
  url: string;
  control: GmailEmulatorControl;
  close(): Promise<void>;
}

/** Google's JSON error envelope. */
class GmailApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string,
    readonly status: string,
    readonly domain = 'global',
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON() {
    return {
      error: {
        code: this.code,
        message: this.message,
        errors: [{ message: this.message, domain: this.domain, reason: this.reason, ...this.extra }],
        status: this.status,
      },
    };
  }
}

const notFound = () => new GmailApiError(404, 'Requested entity was not found.', 'notFound', 'NOT_FOUND');
const badRequest = (message: string) => new GmailApiError(400, message, 'invalidArgument', 'INVALID_ARGUMENT');

function queryList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function pageSize(value: unknown): number {
  const parsed = value === undefined ? DEFAULT_PAGE_SIZE : Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw badRequest(`Invalid value for maxResults: ${String(value)}`);
  return Math.min(parsed, MAX_PAGE_SIZE);
}

/** `YYYY/MM/DD` in Gmail search is midnight Pacific; a fixed -08:00 is used (DST ignored). */
function parseSearchDate(value: string): number | undefined {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(value);
  if (!date) return undefined;
  return Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), 8);
}

const RELATIVE_UNITS_MS: Record<string, number> = { d: 86_400_000, m: 30 * 86_400_000, y: 365 * 86_400_000 };

interface SearchFilter {
  afterMs?: number;
  beforeMs?: number;
  labels: string[];
  fromIncludes: string[];
  fromExcludes: string[];
  includeSpamTrash: boolean;
}

/**
 * A subset of Gmail search: after:/before: (epoch seconds or YYYY/MM/DD), newer_than:/older_than:,
 * in:/label:, from:/-from:. Other terms are ignored, so such a query returns a superset of what
 * Gmail would; the importer only relies on the date bounds.
 */
function parseQuery(q: string, now: number): SearchFilter {
  const filter: SearchFilter = { labels: [], fromIncludes: [], fromExcludes: [], includeSpamTrash: false };
  for (const term of q.match(/\S+/g) ?? []) {
    const [, negated, operator, value] = /^(-?)([a-z_]+):(.+)$/i.exec(term) ?? [];
    if (!operator) continue;
    const key = operator.toLowerCase();
    if (key === 'after' || key === 'before') {
      const ms = parseSearchDate(value);
      if (ms === undefined) continue;
      // after: is inclusive and before: exclusive at second granularity (Gmail does not document it).
      if (key === 'after') filter.afterMs = Math.max(filter.afterMs ?? -Infinity, ms);
      else filter.beforeMs = Math.min(filter.beforeMs ?? Infinity, ms);
    } else if (key === 'newer_than' || key === 'older_than') {
      const relative = /^(\d+)([dmy])$/i.exec(value);
      if (!relative) continue;
      const bound = now - Number(relative[1]) * RELATIVE_UNITS_MS[relative[2].toLowerCase()];
      if (key === 'newer_than') filter.afterMs = Math.max(filter.afterMs ?? -Infinity, bound);
      else filter.beforeMs = Math.min(filter.beforeMs ?? Infinity, bound);
    } else if (key === 'in' || key === 'label') {
      const label = value.toUpperCase();
      if (label === 'ANYWHERE') filter.includeSpamTrash = true;
      else {
        filter.labels.push(label);
        if (label === 'SPAM' || label === 'TRASH') filter.includeSpamTrash = true;
      }
    } else if (key === 'from') {
      (negated ? filter.fromExcludes : filter.fromIncludes).push(value.toLowerCase());
    }
  }
  return filter;
}

function decodeRawParam(raw: string): string {
  // Gmail documents base64url but also accepts standard base64.
  return Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1');
}

function viewOf(message: StoredMessage): StoredMessageView {
  return {
    id: message.id,
    threadId: message.threadId,
    labelIds: [...message.labelIds],
    internalDate: new Date(message.internalDate),
    historyId: String(message.historyId),
    rfc822MessageId: message.rfc822MessageId,
    raw: Buffer.from(message.raw, 'latin1').toString('utf8'),
  };
}

const seedMessageSchema = z.object({
  raw: z.string(),
  receivedAt: z.coerce.date().optional(),
  threadKey: z.string(),
  folder: z.enum(['inbox', 'sent']).optional(),
});

export async function startGmailEmulator(options: GmailEmulatorOptions = {}): Promise<GmailEmulator> {
  const now = options.now ?? Date.now;
  const random = createRandom(options.randomSeed ?? 1);
  const mailboxes = new Map<string, Mailbox>();
  let messageCounter = 0;
  // Gmail ids are 16 hex digits; a fixed base plus a stride keeps them realistic and unique.
  const nextMessageId = () => (0x18f0000000000000n + BigInt(++messageCounter) * 0x3e9n).toString(16);
  // "History IDs increase chronologically but are not contiguous with random gaps."
  const historyGap = () => 1 + Math.floor(random() * 7);

  let faults: FaultPlan = {};
  const roll = (fault: FaultSwitch | undefined): boolean => {
    if (!fault) return false;
    if (fault.next && fault.next > 0) {
      fault.next -= 1;
      return true;
    }
    return fault.probability !== undefined && random() < fault.probability;
  };

  const createAccount = (address: string): Mailbox => {
    const key = address.toLowerCase();
    let mailbox = mailboxes.get(key);
    if (!mailbox) {
      mailbox = new Mailbox(address, nextMessageId, historyGap);
      mailboxes.set(key, mailbox);
    }
    return mailbox;
  };
  const mailboxOf = (address: string): Mailbox => {
    const mailbox = mailboxes.get(address.toLowerCase());
    if (!mailbox) throw new Error(`Gmail emulator: no account ${address}`);
    return mailbox;
  };

  const oauth = new OAuthServer({
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    clients: options.oauthClients,
    now,
    resolveConsentAccount: (loginHint) => (loginHint ? createAccount(loginHint).address : [...mailboxes.values()][0]?.address),
  });
  const quota = new QuotaTracker(options.quota ?? {}, now);
  const publisher = new PushPublisher(
    {
      serviceAccountEmail: options.push?.serviceAccountEmail ?? 'gmail-api-push@system.gserviceaccount.com',
      maxAttempts: options.push?.maxAttempts ?? 5,
      retryBaseDelayMs: options.push?.retryBaseDelayMs ?? 100,
      minIntervalPerUserMs: options.push?.minIntervalPerUserMs ?? 0,
      now,
    },
    { shouldDrop: () => roll(faults.dropPush), shouldDuplicate: () => roll(faults.duplicatePush) },
  );

  const notifyWatch = (mailbox: Mailbox, message: StoredMessage): void => {
    const watch = mailbox.watch;
    if (!watch || watch.expiration <= now()) return;
    const matches = watch.labelIds.length === 0 || watch.labelIds.some((label) => message.labelIds.includes(label));
    if (watch.labelFilterBehavior === 'EXCLUDE' ? matches && watch.labelIds.length > 0 : matches) {
      publisher.publish(watch.topicName, mailbox.address, mailbox.historyId);
    }
  };

  const log: RequestLogEntry[] = [];
  const inFlightByUser = new Map<string, number>();

  const app = express();
  app.disable('x-powered-by');

  app.use((request, response, next) => {
    if (request.path.startsWith('/_emulator')) return next();
    const entry: RequestLogEntry = { at: new Date(now()), method: request.method, path: request.path, operation: 'unknown' };
    response.locals.logEntry = entry;
    log.push(entry);
    response.on('finish', () => {
      entry.status = response.statusCode;
    });
    next();
  });

  const oauthOperation = (operation: string) => (_request: Request, response: Response, next: NextFunction) => {
    (response.locals.logEntry as RequestLogEntry).operation = operation;
    next();
  };
  app.get(['/o/oauth2/v2/auth', '/o/oauth2/auth'], oauthOperation('oauth.authorize'));
  app.post('/token', oauthOperation('oauth.token'));
  app.post('/revoke', oauthOperation('oauth.revoke'));
  app.get('/tokeninfo', oauthOperation('oauth.tokeninfo'));
  app.use(oauth.router());
  app.get('/oauth2/v3/certs', oauthOperation('oauth.certs'), (_request, response) => {
    response.set('Cache-Control', 'public, max-age=3600').json(publisher.jwks);
  });

  type ApiHandler = (context: { request: Request; response: Response; mailbox: Mailbox }) => unknown;

  /** Wraps a Gmail route in Google's checks: auth, user, injected faults, concurrency, quota. */
  const api = (operation: string, method: GmailMethod, handler: ApiHandler) => async (request: Request, response: Response) => {
    const entry = response.locals.logEntry as RequestLogEntry;
    entry.operation = operation;
    const userId = String(request.params.userId);
    entry.userId = userId;
    let heldSlotFor: string | undefined;
    try {
      if (faults.latencyMs) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
      const authorization = request.get('authorization');
      const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1];
      const token = oauth.authenticate(bearer);
      if (!token) {
        response.set('WWW-Authenticate', 'Bearer realm="https://accounts.google.com/", error="invalid_token"');
        throw bearer
          ? new GmailApiError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'authError', 'UNAUTHENTICATED', 'global', { location: 'Authorization', locationType: 'header' })
          : new GmailApiError(401, 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'required', 'UNAUTHENTICATED', 'global', { location: 'Authorization', locationType: 'header' });
      }
      if (userId !== 'me' && userId.toLowerCase() !== token.address.toLowerCase()) {
        throw new GmailApiError(403, `Delegation denied for ${token.address}`, 'forbidden', 'PERMISSION_DENIED');
      }
      const mailbox = mailboxOf(token.address);
      if (roll(faults.serverError)) {
        const status = faults.serverError?.status ?? 500;
        throw status === 500
          ? new GmailApiError(500, 'Backend Error', 'backendError', 'INTERNAL')
          : new GmailApiError(status, 'The service is currently unavailable.', 'backendError', 'UNAVAILABLE');
      }
      const limit = options.maxConcurrentRequestsPerUser;
      const inFlight = inFlightByUser.get(mailbox.address) ?? 0;
      if (limit && inFlight >= limit) {
        throw new GmailApiError(429, 'Too many concurrent requests for user.', 'rateLimitExceeded', 'RESOURCE_EXHAUSTED');
      }
      inFlightByUser.set(mailbox.address, inFlight + 1);
      heldSlotFor = mailbox.address;
      const forcedQuota = roll(faults.quotaExceeded);
      const waitMs = forcedQuota ? 1000 : quota.take(mailbox.address, method);
      if (waitMs > 0) {
        const retryAfterSeconds = String(Math.max(1, Math.ceil(waitMs / 1000)));
        const retryAt = new Date(now() + waitMs).toISOString();
        throw (options.quota?.exceededStatus ?? 429) === 403
          ? new GmailApiError(403, 'User Rate Limit Exceeded', 'userRateLimitExceeded', 'PERMISSION_DENIED', 'usageLimits')
          : new GmailApiError(429, `User-rate limit exceeded.  Retry after ${retryAt}`, 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'global', {}, { 'Retry-After': retryAfterSeconds });
      }
      const result = await handler({ request, response, mailbox });
      if (!response.headersSent) response.status(200).json(result ?? {});
    } catch (error) {
      if (!(error instanceof GmailApiError)) throw error;
      response.set(error.headers).status(error.code).json(error.toJSON());
    } finally {
      if (heldSlotFor) inFlightByUser.set(heldSlotFor, (inFlightByUser.get(heldSlotFor) ?? 1) - 1);
    }
  };

  const messageById = (mailbox: Mailbox, id: string): StoredMessage => {
    if (!/^[0-9a-f]{1,32}$/i.test(id)) throw badRequest('Invalid id value');
    const message = mailbox.messages.get(id);
    if (!message) throw notFound();
    return message;
  };

  const formatMessage = (mailbox: Mailbox, message: StoredMessage, format: string, metadataHeaders: string[]) => {
    const parsed = mailbox.parsed(message);
    const base = {
      id: message.id,
      threadId: message.threadId,
      labelIds: [...message.labelIds],
      snippet: snippetOf(parsed.text),
      sizeEstimate: message.raw.length,
      historyId: String(message.historyId),
      internalDate: String(message.internalDate),
    };
    switch (format) {
      case 'minimal':
        return base;
      case 'raw':
        return { ...base, raw: toBase64Url(Buffer.from(message.raw, 'latin1')) };
      case 'metadata': {
        const wanted = metadataHeaders.map((name) => name.toLowerCase());
        const headers = wanted.length ? parsed.payload.headers.filter((header) => wanted.includes(header.name.toLowerCase())) : parsed.payload.headers;
        // metadata carries only the top-level part's headers, no body and no sub-parts.
        return { ...base, payload: { partId: '', mimeType: parsed.payload.mimeType, filename: '', headers, body: { size: 0 } } };
      }
      case 'full':
        return { ...base, payload: parsed.payload };
      default:
        throw badRequest(`Invalid value at 'format' (${format})`);
    }
  };

  const fromHeaderCache = new WeakMap<StoredMessage, string>();
  const fromHeaderOf = (message: StoredMessage): string => {
    let from = fromHeaderCache.get(message);
    if (from === undefined) {
      const headers = parseHeaderBlock(message.raw.split(/\r?\n\r?\n/, 1)[0]);
      from = decodeEncodedWords(headerValue(headers, 'From') ?? '').toLowerCase();
      fromHeaderCache.set(message, from);
    }
    return from;
  };

  const router = express.Router();
  router.use(express.json({ limit: '64mb' }));

  router.get(
    '/users/:userId/profile',
    api('users.getProfile', 'getProfile', ({ mailbox }) => ({
      emailAddress: mailbox.address,
      messagesTotal: mailbox.messages.size,
      threadsTotal: mailbox.threadCount(),
      historyId: String(mailbox.historyId),
    })),
  );

  router.get(
    '/users/:userId/labels',
    api('labels.list', 'labelsList', () => ({
      labels: SYSTEM_LABELS.map((id) => ({ id, name: id, type: 'system' })),
    })),
  );

  router.get(
    '/users/:userId/messages',
    api('messages.list', 'messagesList', ({ request, mailbox }) => {
      const limit = pageSize(request.query.maxResults);
      const filter = parseQuery(String(request.query.q ?? ''), now());
      const labels = [...queryList(request.query.labelIds).map((label) => label.toUpperCase()), ...filter.labels];
      const includeSpamTrash = request.query.includeSpamTrash === 'true' || filter.includeSpamTrash;
      const matches = mailbox.sortedNewestFirst().filter(
        (message) =>
          (includeSpamTrash || !message.labelIds.some((label) => label === 'SPAM' || label === 'TRASH')) &&
          labels.every((label) => message.labelIds.includes(label)) &&
          (filter.afterMs === undefined || message.internalDate >= filter.afterMs) &&
          (filter.beforeMs === undefined || message.internalDate < filter.beforeMs) &&
          filter.fromIncludes.every((needle) => fromHeaderOf(message).includes(needle)) &&
          !filter.fromExcludes.some((needle) => fromHeaderOf(message).includes(needle)),
      );
      let start = 0;
      if (request.query.pageToken !== undefined) {
        const cursor = decodePageToken(String(request.query.pageToken));
        // Resume after the last message of the previous page, so arrivals in between neither shift nor repeat entries.
        start = matches.findIndex((message) => message.internalDate < cursor.internalDate || (message.internalDate === cursor.internalDate && message.id < cursor.id));
        if (start < 0) start = matches.length;
      }
      const page = matches.slice(start, start + limit);
      const last = page.at(-1);
      return {
        ...(page.length ? { messages: page.map((message) => ({ id: message.id, threadId: message.threadId })) } : {}),
        ...(last && start + limit < matches.length ? { nextPageToken: encodePageToken(last) } : {}),
        resultSizeEstimate: matches.length,
      };
    }),
  );

  router.get(
    '/users/:userId/messages/:id',
    api('messages.get', 'messagesGet', ({ request, mailbox }) =>
      formatMessage(mailbox, messageById(mailbox, String(request.params.id)), String(request.query.format ?? 'full'), queryList(request.query.metadataHeaders)),
    ),
  );

  router.get(
    '/users/:userId/messages/:messageId/attachments/:id',
    api('messages.attachments.get', 'attachmentsGet', ({ request, mailbox }) => {
      const message = messageById(mailbox, String(request.params.messageId));
      const attachment = mailbox.parsed(message).attachments.find((candidate) => candidate.attachmentId === request.params.id);
      if (!attachment) throw notFound();
      return { size: attachment.data.length, data: toBase64Url(attachment.data) };
    }),
  );

  router.post(
    '/users/:userId/messages/:id/modify',
    api('messages.modify', 'messagesModify', ({ request, mailbox }) => {
      const message = messageById(mailbox, String(request.params.id));
      const body = (request.body ?? {}) as { addLabelIds?: string[]; removeLabelIds?: string[] };
      mailbox.modifyLabels(message.id, body.addLabelIds ?? [], body.removeLabelIds ?? []);
      return { id: message.id, threadId: message.threadId, labelIds: message.labelIds };
    }),
  );

  router.get(
    '/users/:userId/threads/:id',
    api('threads.get', 'threadsGet', ({ request, mailbox }) => {
      const threadId = String(request.params.id);
      const messages = [...mailbox.messages.values()].filter((message) => message.threadId === threadId).sort((a, b) => a.internalDate - b.internalDate);
      if (!messages.length) throw notFound();
      const format = String(request.query.format ?? 'full');
      return {
        id: threadId,
        historyId: String(Math.max(...messages.map((message) => message.historyId))),
        messages: messages.map((message) => formatMessage(mailbox, message, format, queryList(request.query.metadataHeaders))),
      };
    }),
  );

  router.get(
    '/users/:userId/history',
    api('history.list', 'historyList', ({ request, mailbox }) => {
      const rawStart = request.query.startHistoryId;
      if (rawStart === undefined) throw badRequest('Missing required parameter: startHistoryId');
      const startHistoryId = /^\d+$/.test(String(rawStart)) ? Number(rawStart) : NaN;
      // Gmail answers 0, garbage and ids older than the retained history alike with 404.
      if (!(startHistoryId >= mailbox.oldestValidStartHistoryId)) throw notFound();
      const limit = pageSize(request.query.maxResults);
      const types = queryList(request.query.historyTypes) as HistoryType[];
      const labelId = request.query.labelId === undefined ? undefined : String(request.query.labelId);
      const after = request.query.pageToken !== undefined ? Number(request.query.pageToken) : startHistoryId;
      if (!Number.isFinite(after)) throw badRequest('Invalid pageToken');
      const matches = mailbox.history.filter(
        (record) =>
          record.id > after &&
          (!types.length || types.includes(record.type)) &&
          (!labelId || record.labelIdsAfter.includes(labelId) || (record.changedLabelIds ?? []).includes(labelId)),
      );
      const page = matches.slice(0, limit);
      return {
        ...(page.length ? { history: page.map(renderHistoryRecord) } : {}),
        ...(matches.length > limit ? { nextPageToken: String(page[page.length - 1].id) } : {}),
        historyId: String(mailbox.historyId),
      };
    }),
  );

  router.post(
    '/users/:userId/watch',
    api('users.watch', 'watch', ({ request, mailbox }) => {
      const body = (request.body ?? {}) as { topicName?: string; labelIds?: string[]; labelFilterBehavior?: string; labelFilterAction?: string };
      if (!body.topicName || !/^projects\/[^/]+\/topics\/[^/]+$/.test(body.topicName)) {
        throw badRequest(`Invalid topicName does not match projects/SOME-ANDROID-PROJECT/topics/*`);
      }
      // labelFilterAction is the older spelling of labelFilterBehavior (lower-case values).
      const behavior = String(body.labelFilterBehavior ?? body.labelFilterAction ?? 'INCLUDE').toUpperCase();
      if (behavior !== 'INCLUDE' && behavior !== 'EXCLUDE') throw badRequest(`Invalid value for labelFilterBehavior: ${behavior}`);
      const expiration = now() + WATCH_LIFETIME_MS;
      mailbox.watch = { topicName: body.topicName, labelIds: body.labelIds ?? [], labelFilterBehavior: behavior, expiration };
      return { historyId: String(mailbox.historyId), expiration: String(expiration) };
    }),
  );

  router.post(
    '/users/:userId/stop',
    api('users.stop', 'stop', ({ response, mailbox }) => {
      mailbox.watch = undefined;
      response.status(204).end();
    }),
  );

  const sendMessage = (mailbox: Mailbox, rawInput: string, threadId: string | undefined) => {
    if (!rawInput.trim()) throw badRequest("'raw' RFC822 payload message string or uploading message via /upload/* URL required");
    const [headerBlock] = rawInput.split(/\r?\n\r?\n/, 1);
    const headers = parseHeaderBlock(headerBlock);
    if (!['To', 'Cc', 'Bcc'].some((name) => headerValue(headers, name))) throw badRequest('Recipient address required');
    // Gmail fills in what the client left out before storing and sending.
    const added: string[] = [];
    if (!headerValue(headers, 'From')) added.push(`From: ${mailbox.address}`);
    if (!headerValue(headers, 'Date')) added.push(`Date: ${new Date(now()).toUTCString().replace('GMT', '+0000')}`);
    if (!headerValue(headers, 'Message-ID')) added.push(`Message-ID: <CAemu${randomBytes(12).toString('hex')}@mail.gmail.com>`);
    const raw = added.length ? `${added.join('\r\n')}\r\n${rawInput}` : rawInput;
    const message = mailbox.addMessage({ raw, internalDate: now(), labelIds: ['SENT'], threadId });
    notifyWatch(mailbox, message);
    return { id: message.id, threadId: message.threadId, labelIds: [...message.labelIds] };
  };

  router.post(
    '/users/:userId/messages/send',
    api('messages.send', 'messagesSend', ({ request, mailbox }) => {
      const body = (request.body ?? {}) as { raw?: string; threadId?: string };
      return sendMessage(mailbox, decodeRawParam(body.raw ?? ''), body.threadId);
    }),
  );

  app.use('/gmail/v1', router);

  /** googleapis sends `media` uploads here: uploadType=media (message/rfc822) or multipart/related. */
  app.post(
    '/upload/gmail/v1/users/:userId/messages/send',
    express.raw({ type: () => true, limit: '64mb' }),
    api('messages.send', 'messagesSend', ({ request, mailbox }) => {
      const body = Buffer.isBuffer(request.body) ? request.body.toString('latin1') : '';
      if (request.query.uploadType === 'multipart') {
        const boundary = /boundary="?([^";]+)"?/i.exec(request.get('content-type') ?? '')?.[1];
        if (!boundary) throw badRequest('Missing multipart boundary');
        const parts = body.split(`--${boundary}`).slice(1, -1).map((part) => part.replace(/^\r?\n/, '').replace(/\r?\n$/, ''));
        const [metadataPart, mediaPart] = parts.map((part) => part.split(/\r?\n\r?\n/).slice(1).join('\r\n\r\n'));
        const metadata = JSON.parse(metadataPart || '{}') as { threadId?: string };
        return sendMessage(mailbox, mediaPart ?? '', metadata.threadId);
      }
      return sendMessage(mailbox, body, undefined);
    }),
  );

  app.use('/gmail', (_request, response) => {
    response.status(404).json(notFound().toJSON());
  });

  const controlRouter = buildControlRouter();
  app.use('/_emulator', controlRouter);

  const control: GmailEmulatorControl = {
    createAccount: (address) => void createAccount(address),
    seedMailbox(seed) {
      const mailbox = createAccount(seed.address);
      const ordered = seed.messages.map((message, index) => ({ message, index })).sort((a, b) => a.message.receivedAt.getTime() - b.message.receivedAt.getTime());
      const messageIds = new Array<string>(seed.messages.length);
      for (const { message, index } of ordered) messageIds[index] = mailbox.addSeedMessage(message).id;
      return { messageIds, historyId: String(mailbox.historyId) };
    },
    deliver(address, seedMessage) {
      const mailbox = mailboxOf(address);
      const message = mailbox.addSeedMessage(seedMessage);
      notifyWatch(mailbox, message);
      return { id: message.id, threadId: message.threadId, historyId: String(message.historyId) };
    },
    issueTokens(address, tokenOptions = {}) {
      createAccount(address);
      const clientId = tokenOptions.clientId ?? options.oauthClients?.[0]?.clientId ?? 'emulator-client';
      const scope = tokenOptions.scope ?? 'https://www.googleapis.com/auth/gmail.modify';
      return { ...oauth.issueAccessToken(address, clientId, scope), refresh_token: oauth.issueRefreshToken(address, clientId, scope) };
    },
    revokeRefreshTokens: (address) => oauth.revokeRefreshTokens(address),
    expireAccessTokens: (address) => oauth.expireAccessTokens(address),
    expireHistory: (address) => mailboxOf(address).expireHistory(),
    denyNextConsent: (times) => oauth.denyNextConsent(times),
    modifyLabels(address, messageId, add, remove) {
      const mailbox = mailboxOf(address);
      const message = mailbox.modifyLabels(messageId, add, remove);
      if (message && add.length) notifyWatch(mailbox, message);
    },
    deleteMessage: (address, messageId) => void mailboxOf(address).deleteMessage(messageId),
    setPushEndpoint: (topicName, url, audience) => publisher.setEndpoint(topicName, url, audience),
    pushDeliveries: () => publisher.deliveries.map((delivery) => ({ ...delivery, attempts: [...delivery.attempts] })),
    waitForPushes: () => publisher.idle(),
    injectFaults(plan) {
      faults = { ...faults, ...structuredClone(plan) };
    },
    clearFaults() {
      faults = {};
    },
    requestLog: () => log.map((entry) => ({ ...entry })),
    requestCounts() {
      const counts: Record<string, number> = {};
      for (const entry of log) counts[entry.operation] = (counts[entry.operation] ?? 0) + 1;
      return counts;
    },
    clearRequestLog() {
      log.length = 0;
    },
    tokenEndpointCalls: () => oauth.calls.map((call) => ({ ...call })),
    sentMessages: (address) => [...mailboxOf(address).messages.values()].filter((message) => message.labelIds.includes('SENT')).map(viewOf),
    listMessages: (address) => mailboxOf(address).sortedNewestFirst().map(viewOf),
    historyId: (address) => String(mailboxOf(address).historyId),
    watchExpiration(address) {
      const watch = mailboxOf(address).watch;
      return watch ? new Date(watch.expiration) : undefined;
    },
    jwks: () => publisher.jwks,
  };

  function buildControlRouter() {
    const routes = express.Router();
    routes.use(express.json({ limit: '256mb' }));
    const addressOf = (request: Request) => String(request.params.address);
    routes.post('/accounts', (request, response) => {
      const { address } = z.object({ address: z.string().email() }).parse(request.body);
      control.createAccount(address);
      response.status(201).json({ address });
    });
    routes.post('/accounts/:address/seed', (request, response) => {
      const messages = z.array(seedMessageSchema.extend({ receivedAt: z.coerce.date() })).parse(request.body?.messages);
      response.json(control.seedMailbox({ address: addressOf(request), messages }));
    });
    routes.post('/accounts/:address/deliver', (request, response) => {
      const message = seedMessageSchema.parse(request.body);
      response.json(control.deliver(addressOf(request), { ...message, receivedAt: message.receivedAt ?? new Date(now()) }));
    });
    routes.post('/accounts/:address/tokens', (request, response) => {
      const body = z.object({ clientId: z.string().optional(), scope: z.string().optional() }).parse(request.body ?? {});
      response.json(control.issueTokens(addressOf(request), body));
    });
    routes.post('/accounts/:address/revoke-refresh-tokens', (request, response) => {
      control.revokeRefreshTokens(addressOf(request));
      response.status(204).end();
    });
    routes.post('/accounts/:address/expire-access-tokens', (request, response) => {
      control.expireAccessTokens(addressOf(request));
      response.status(204).end();
    });
    routes.post('/accounts/:address/expire-history', (request, response) => {
      control.expireHistory(addressOf(request));
      response.status(204).end();
    });
    routes.get('/accounts/:address/messages', (request, response) => {
      response.json(control.listMessages(addressOf(request)));
    });
    routes.get('/accounts/:address/sent', (request, response) => {
      response.json(control.sentMessages(addressOf(request)));
    });
    routes.post('/consent/deny-next', (request, response) => {
      control.denyNextConsent(z.object({ times: z.number().int().positive().optional() }).parse(request.body ?? {}).times);
      response.status(204).end();
    });
    routes.post('/push-endpoints', (request, response) => {
      const body = z.object({ topicName: z.string(), url: z.string().url(), audience: z.string().optional() }).parse(request.body);
      control.setPushEndpoint(body.topicName, body.url, body.audience);
      response.status(204).end();
    });
    routes.get('/push-deliveries', (_request, response) => {
      response.json(control.pushDeliveries());
    });
    const faultSwitch = z.object({ next: z.number().int().nonnegative().optional(), probability: z.number().min(0).max(1).optional() });
    routes.post('/faults', (request, response) => {
      const plan = z
        .object({
          serverError: faultSwitch.extend({ status: z.union([z.literal(500), z.literal(502), z.literal(503)]).optional() }).optional(),
          latencyMs: z.number().nonnegative().optional(),
          dropPush: faultSwitch.optional(),
          duplicatePush: faultSwitch.optional(),
          quotaExceeded: faultSwitch.pick({ next: true }).optional(),
        })
        .parse(request.body);
      control.injectFaults(plan);
      response.status(204).end();
    });
    routes.delete('/faults', (_request, response) => {
      control.clearFaults();
      response.status(204).end();
    });
    routes.get('/requests', (_request, response) => {
      response.json(control.requestLog());
    });
    routes.get('/request-counts', (_request, response) => {
      response.json(control.requestCounts());
    });
    routes.delete('/requests', (_request, response) => {
      control.clearRequestLog();
      response.status(204).end();
    });
    routes.get('/token-endpoint-calls', (_request, response) => {
      response.json(control.tokenEndpointCalls());
    });
    routes.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
      if (error instanceof z.ZodError) response.status(400).json({ error: 'invalid_control_request', issues: error.issues });
      else if (error instanceof Error && error.message.startsWith('Gmail emulator: no account')) response.status(404).json({ error: error.message });
      else next(error);
    });
    return routes;
  }

  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, options.host ?? '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    control,
    async close() {
      publisher.close();
      await publisher.idle();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function renderHistoryRecord(record: HistoryRecord) {
  const ref = { id: record.messageId, threadId: record.threadId };
  const withLabels = { ...ref, labelIds: record.labelIdsAfter };
  return {
    id: String(record.id),
    messages: [ref],
    ...(record.type === 'messageAdded' ? { messagesAdded: [{ message: withLabels }] } : {}),
    ...(record.type === 'messageDeleted' ? { messagesDeleted: [{ message: ref }] } : {}),
    ...(record.type === 'labelAdded' ? { labelsAdded: [{ message: withLabels, labelIds: record.changedLabelIds ?? [] }] } : {}),
    ...(record.type === 'labelRemoved' ? { labelsRemoved: [{ message: withLabels, labelIds: record.changedLabelIds ?? [] }] } : {}),
  };
}

function encodePageToken(message: StoredMessage): string {
  return Buffer.from(`${message.internalDate}:${message.id}`).toString('base64url');
}

function decodePageToken(token: string): { internalDate: number; id: string } {
  const [internalDate, id] = Buffer.from(token, 'base64url').toString('utf8').split(':');
  if (!/^\d+$/.test(internalDate ?? '') || !id) throw badRequest('Invalid pageToken');
  return { internalDate: Number(internalDate), id };
}
