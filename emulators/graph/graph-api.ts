import { createHash, randomUUID } from 'node:crypto';
import { buildRawMessage, encodeAddress } from '../mail/mime';
import type { IdentityPlatform } from './identity';
import type { Mailbox, StoredMessage, WellKnownFolder } from './mailbox';
import { parseMessageContent, type GraphRecipient } from './message-content';
import {
  checkFilterOrderCompatibility,
  GraphError,
  matchesFilter,
  messageEtag,
  parseFilter,
  parseOrderBy,
  parsePrefer,
  parseSelect,
  parseTop,
  renderMessage,
  type FilterClause,
  type PreferHeader,
  type RenderOptions,
} from './odata';
import type { ChangeType, Subscription, SubscriptionHub } from './subscriptions';
import type { MailboxThrottle } from './throttle';

export interface GraphApiRequest {
  method: string;
  /** Path below the version segment, e.g. `/me/messages/AAMk...=`. */
  path: string;
  query: Record<string, string>;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  body: unknown;
}

export interface GraphApiResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON body, or a string for `$value` (sent as text/plain). */
  body?: unknown;
}

export interface ServerErrorFault {
  /** Fail this many upcoming Graph requests. */
  next?: number;
  /** Fail each request with this probability (seeded, so runs repeat). */
  probability?: number;
  status?: 500 | 502 | 503 | 504;
}

export interface GraphFaults {
  serverError?: ServerErrorFault;
  /** Added to every Graph request while it holds its throttle slot, so concurrency is observable. */
  latencyMs?: number;
}

export interface RequestLogEntry {
  at: Date;
  method: string;
  path: string;
  mailbox: string | null;
  status: number;
  /** True for the inner requests of a `$batch`. */
  batched: boolean;
}

export interface SentMessage {
  kind: 'reply' | 'replyAll' | 'forward' | 'sendMail' | 'draft';
  mailbox: string;
  internetMessageId: string;
  immutableId: string;
  conversationId: string;
  subject: string;
  toRecipients: string[];
  inReplyTo: string | null;
  references: string[];
  raw: string;
  sentAt: Date;
}

interface DeltaQuery {
  folderId: string;
  select: string[] | null;
  filter: FilterClause[];
  filterText: string | undefined;
  selectText: string | undefined;
  immutableIds: boolean;
}

interface DeltaState extends DeltaQuery {
  mailbox: string;
  generation: number;
  sinceSeq: number;
}

interface DeltaPage extends DeltaQuery {
  mailbox: string;
  generation: number;
  items: { immutableId: string; removed: boolean }[];
  offset: number;
  untilSeq: number;
}

export interface GraphServiceDeps {
  origin: () => string;
  identity: IdentityPlatform;
  throttle: MailboxThrottle;
  hub: SubscriptionHub;
  mailboxes: Map<string, Mailbox>;
  subscriptionMaxMinutes: number;
  subscriptionOverMax: 'reject' | 'cap';
  random: () => number;
}

/** Outlook caps a filtered delta round at 5,000 messages (message-delta docs). */
const FILTERED_DELTA_CAP = 5000;
const BATCH_LIMIT = 20;
/** Outlook executes at most 4 requests of one batch in parallel. */
const BATCH_PARALLELISM = 4;
const EMULATED_APPLICATION_ID = '00000000-0000-0000-0000-0000000e0a11';

const SERVER_ERROR_CODES: Record<number, string> = {
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Query strings the way Graph writes them in links: `%24select=a%2Cb&%24top=10`. */
function encodeQuery(params: [string, string][]): string {
  return params.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
}

function recipientText(recipient: GraphRecipient): string {
  const { name, address } = recipient.emailAddress;
  return name && name !== address ? encodeAddress(`${name} <${address}>`) : address;
}

function parseRecipients(value: unknown, field: string): GraphRecipient[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new GraphError(400, 'ErrorInvalidRecipients', `${field} must be an array of recipients.`);
  return value.map((entry: unknown) => {
    const address = (entry as GraphRecipient | undefined)?.emailAddress?.address;
    if (typeof address !== 'string' || !address.includes('@')) {
      throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid.');
    }
    return { emailAddress: { name: (entry as GraphRecipient).emailAddress.name ?? address, address } };
  });
}

interface ComposeInput {
  subject: string;
  text: string;
  html?: string;
  to: GraphRecipient[];
  cc: GraphRecipient[];
  inReplyTo?: string;
  references?: string[];
  messageId: string;
}

export class GraphService {
  private readonly deltaStates = new Map<string, DeltaState>();
  private readonly deltaPages = new Map<string, DeltaPage>();
  /** Drafts keep their structured parts so PATCH can re-render the MIME. */
  private readonly draftInputs = new Map<string, ComposeInput>();
  private readonly sent: SentMessage[] = [];
  /** Last mutable id of hard-deleted messages, so delta can still report them in the id form asked for. */
  private readonly removedMutableIds = new Map<string, string>();
  private readonly log: RequestLogEntry[] = [];
  private faults: GraphFaults = {};
  private sentCounter = 0;

  constructor(private readonly deps: GraphServiceDeps) {}

  setFaults(faults: GraphFaults): void {
    this.faults = { ...this.faults, ...faults, serverError: faults.serverError ? { ...faults.serverError } : this.faults.serverError };
  }

  clearFaults(): void {
    this.faults = {};
  }

  requestLog(): RequestLogEntry[] {
    return [...this.log];
  }

  clearRequestLog(): void {
    this.log.length = 0;
  }

  sentMessages(address: string): SentMessage[] {
    return this.sent.filter((message) => message.mailbox === address);
  }

  mailbox(reference: string): Mailbox | undefined {
    const lower = reference.toLowerCase();
    for (const mailbox of this.deps.mailboxes.values()) {
      if (mailbox.address.toLowerCase() === lower || mailbox.id === reference) return mailbox;
    }
    return undefined;
  }

  /** Entry point for both plain HTTP requests and `$batch` items. */
  async handle(request: GraphApiRequest, batched = false): Promise<GraphApiResponse> {
    const requestId = randomUUID();
    const clientRequestId = request.headers['client-request-id'] ?? requestId;
    let mailboxAddress: string | null = null;
    let response: GraphApiResponse;
    try {
      const grant = this.deps.identity.authenticate(/^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]);
      if ('failure' in grant) {
        throw new GraphError(401, 'InvalidAuthenticationToken', grant.failure, {
          'WWW-Authenticate':
            'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
        });
      }
      mailboxAddress = grant.address;
      if (!batched && request.method === 'POST' && /^\/\$batch\/?$/i.test(request.path)) {
        response = await this.batch(request);
      } else {
        response = await this.admitted(grant.address, () => this.route(request, grant.address));
      }
    } catch (error) {
      response = this.errorResponse(error, requestId, clientRequestId);
    }
    response.headers = { 'request-id': requestId, 'client-request-id': clientRequestId, ...response.headers };
    this.log.push({ at: new Date(), method: request.method, path: request.path, mailbox: mailboxAddress, status: response.status, batched });
    return response;
  }

  private async admitted(mailbox: string, run: () => Promise<GraphApiResponse>): Promise<GraphApiResponse> {
    const decision = this.deps.throttle.admit(mailbox);
    if (!decision.admitted) {
      throw new GraphError(
        429,
        'ApplicationThrottled',
        `Application is over its ${decision.limit} limit.`,
        decision.retryAfterSeconds === null ? {} : { 'Retry-After': String(decision.retryAfterSeconds) },
      );
    }
    try {
      if (this.faults.latencyMs) await sleep(this.faults.latencyMs);
      this.maybeFailWithServerError();
      return await run();
    } finally {
      decision.release();
    }
  }

  private maybeFailWithServerError(): void {
    const fault = this.faults.serverError;
    if (!fault) return;
    const forced = (fault.next ?? 0) > 0;
    if (forced) fault.next! -= 1;
    if (forced || (fault.probability !== undefined && this.deps.random() < fault.probability)) {
      const status = fault.status ?? 503;
      throw new GraphError(status, SERVER_ERROR_CODES[status] ?? 'InternalServerError', 'The service is temporarily unavailable (injected by the emulator).', status === 503 ? { 'Retry-After': '1' } : {});
    }
  }

  private errorResponse(error: unknown, requestId: string, clientRequestId: string): GraphApiResponse {
    const graphError = error instanceof GraphError ? error : new GraphError(500, 'InternalServerError', error instanceof Error ? error.message : String(error));
    return {
      status: graphError.status,
      headers: graphError.headers,
      body: {
        error: {
          code: graphError.code,
          message: graphError.message,
          innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': clientRequestId },
        },
      },
    };
  }

  private async route(request: GraphApiRequest, caller: string): Promise<GraphApiResponse> {
    const segments = request.path.split('/').filter(Boolean).map((segment) => decodeURIComponent(segment));
    const head = segments[0]?.toLowerCase();
    if (head === 'subscriptions') return this.subscriptionRoute(request, caller, segments.slice(1));
    let mailbox: Mailbox | undefined;
    let rest: string[];
    let basePrefix: string;
    if (head === 'me') {
      mailbox = this.mailbox(caller);
      rest = segments.slice(1);
      basePrefix = '/me';
    } else if (head === 'users' && segments[1]) {
      mailbox = this.mailbox(segments[1]);
      if (!mailbox) throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${segments[1]}' is invalid.`);
      if (mailbox.address !== caller) throw new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
      rest = segments.slice(2);
      basePrefix = `/users/${encodeURIComponent(segments[1])}`;
    } else {
      throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${segments[0] ?? ''}'.`);
    }
    if (!mailbox) throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${caller}' is invalid.`);
    return this.mailboxRoute(request, mailbox, rest, basePrefix);
  }

  private async mailboxRoute(request: GraphApiRequest, mailbox: Mailbox, segments: string[], basePrefix: string): Promise<GraphApiResponse> {
    const prefer = parsePrefer(request.headers.prefer);
    const lower = segments.map((segment) => segment.toLowerCase());
    const method = request.method;
    // `mailFolders('inbox')` is the key syntax subscriptions and some SDKs use.
    const folderKey = (segment: string) => /^mailfolders\('([^']+)'\)$/i.exec(segment)?.[1];
    if (segments.length === 0 && method === 'GET') {
      return this.ok({
        '@odata.context': `${this.versionRoot()}/$metadata#users/$entity`,
        id: mailbox.id,
        displayName: mailbox.displayName,
        mail: mailbox.address,
        userPrincipalName: mailbox.address,
      });
    }
    let folderId: string | null = null;
    let afterFolder = lower;
    let afterFolderOriginal = segments;
    if (lower[0] === 'mailfolders' || folderKey(segments[0] ?? '')) {
      const keyed = folderKey(segments[0]!);
      const reference = keyed ?? segments[1];
      const skip = keyed ? 1 : 2;
      if (reference === undefined) {
        if (method !== 'GET') throw this.unsupported(request);
        return this.ok({
          '@odata.context': `${this.versionRoot()}/$metadata#users('${mailbox.id}')/mailFolders`,
          value: mailbox.folders.map((folder) => this.folderJson(mailbox, folder.wellKnownName)),
        });
      }
      const folder = mailbox.findFolder(reference);
      if (!folder) throw new GraphError(404, 'ErrorInvalidIdMalformed', 'Id is malformed.');
      folderId = folder.id;
      afterFolder = lower.slice(skip);
      afterFolderOriginal = segments.slice(skip);
      if (afterFolder.length === 0 && method === 'GET') return this.ok(this.folderJson(mailbox, folder.wellKnownName));
    }
    const basePath = `${basePrefix}/${segments.map((segment) => encodeURIComponent(segment)).join('/')}`;

    if (afterFolder[0] === 'sendmail' && folderId === null && method === 'POST') return this.sendMail(mailbox, request.body);
    if (afterFolder[0] !== 'messages') throw this.unsupported(request);

    if (afterFolder.length === 1) {
      if (method === 'GET') return this.listMessages(mailbox, folderId, request, prefer, basePath);
      if (method === 'POST') return this.createDraft(mailbox, request.body, prefer);
      throw this.unsupported(request);
    }
    if (afterFolder[1] === 'delta' && afterFolder.length === 2 && method === 'GET') {
      if (folderId === null) {
        throw new GraphError(400, 'ErrorInvalidRequest', "Change tracking is not supported against 'microsoft.graph.message' outside a mail folder.");
      }
      return this.delta(mailbox, folderId, request, prefer, basePath);
    }
    const message = mailbox.findMessage(afterFolderOriginal[1]!);
    if (!message || (folderId !== null && message.folderId !== folderId)) {
      throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    }
    const render = this.renderOptions(request, prefer);
    const action = afterFolder[2];
    if (action === undefined) {
      if (method === 'GET') return this.ok({ '@odata.context': this.messageContext(mailbox, render.select, true), ...renderMessage(message, render) }, prefer);
      if (method === 'PATCH') return this.patchMessage(mailbox, message, request.body, render, prefer);
      if (method === 'DELETE') {
        this.moveAndNotify(mailbox, message, 'deleteditems');
        return { status: 204, headers: {} };
      }
      throw this.unsupported(request);
    }
    if (action === '$value' && method === 'GET' && afterFolder.length === 3) {
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: message.raw };
    }
    if (action === 'attachments' && method === 'GET') return this.attachments(message, afterFolderOriginal.slice(3));
    if (method !== 'POST' || afterFolder.length !== 3) throw this.unsupported(request);
    switch (action) {
      case 'reply':
      case 'replyall':
      case 'forward':
        await this.respond(mailbox, message, action, request.body, false);
        return { status: 202, headers: {} };
      case 'createreply':
      case 'createreplyall':
      case 'createforward': {
        const draft = await this.respond(mailbox, message, action.replace('create', '') as 'reply' | 'replyall' | 'forward', request.body, true);
        return { status: 201, headers: {}, body: { '@odata.context': this.messageContext(mailbox, null, true), ...renderMessage(draft, render) } };
      }
      case 'send':
        return this.sendDraft(mailbox, message);
      case 'move': {
        const destination = mailbox.findFolder(String((request.body as { destinationId?: unknown } | undefined)?.destinationId ?? ''));
        if (!destination) throw new GraphError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
        this.moveAndNotify(mailbox, message, destination.wellKnownName);
        return { status: 201, headers: {}, body: { '@odata.context': this.messageContext(mailbox, null, true), ...renderMessage(message, render) } };
      }
      default:
        throw this.unsupported(request);
    }
  }

  private unsupported(request: GraphApiRequest): GraphError {
    return new GraphError(400, 'BadRequest', `Unsupported request: ${request.method} ${request.path}`);
  }

  private ok(body: unknown, prefer?: PreferHeader): GraphApiResponse {
    const applied: string[] = [];
    if (prefer?.bodyContentType) applied.push(`outlook.body-content-type="${prefer.bodyContentType}"`);
    if (prefer?.immutableIds) applied.push('IdType="ImmutableId"');
    return { status: 200, headers: applied.length ? { 'Preference-Applied': applied.join(', ') } : {}, body };
  }

  private versionRoot(): string {
    return `${this.deps.origin()}/v1.0`;
  }

  private messageContext(mailbox: Mailbox, select: string[] | null, entity: boolean): string {
    const projection = select ? `(${select.join(',')})` : '';
    return `${this.versionRoot()}/$metadata#users('${encodeURIComponent(mailbox.address)}')/messages${projection}${entity ? '/$entity' : ''}`;
  }

  private folderJson(mailbox: Mailbox, wellKnownName: WellKnownFolder): Record<string, unknown> {
    const folder = mailbox.folder(wellKnownName);
    const messages = mailbox.messagesIn(folder.id);
    return {
      id: folder.id,
      displayName: folder.displayName,
      parentFolderId: mailbox.id,
      childFolderCount: 0,
      unreadItemCount: messages.filter((message) => !message.isRead).length,
      totalItemCount: messages.length,
      isHidden: false,
    };
  }

  private renderOptions(request: GraphApiRequest, prefer: PreferHeader): RenderOptions {
    const expand = request.query.$expand?.split(',').map((name) => name.trim().toLowerCase()) ?? [];
    return {
      select: parseSelect(request.query.$select),
      immutableIds: prefer.immutableIds,
      bodyContentType: prefer.bodyContentType ?? 'html',
      expandAttachments: expand.includes('attachments'),
    };
  }

  private listMessages(mailbox: Mailbox, folderId: string | null, request: GraphApiRequest, prefer: PreferHeader, basePath: string): GraphApiResponse {
    const render = this.renderOptions(request, prefer);
    const filter = parseFilter(request.query.$filter);
    const orderBy = parseOrderBy(request.query.$orderby);
    checkFilterOrderCompatibility(filter, orderBy);
    const top = parseTop(request.query.$top, 10);
    const skip = request.query.$skip === undefined ? 0 : Number(request.query.$skip);
    if (!Number.isInteger(skip) || skip < 0) throw new GraphError(400, 'ErrorInvalidUrlQuery', `Invalid $skip value '${request.query.$skip}'.`);
    // Outlook's default order is newest first.
    const descending = orderBy?.descending ?? true;
    const matching = mailbox
      .messagesIn(folderId)
      .filter((message) => matchesFilter(message, filter))
      .sort((a, b) => (a.receivedAt.getTime() - b.receivedAt.getTime()) * (descending ? -1 : 1) || a.immutableId.localeCompare(b.immutableId));
    const page = matching.slice(skip, skip + top);
    const body: Record<string, unknown> = {
      '@odata.context': this.messageContext(mailbox, render.select, false),
      value: page.map((message) => renderMessage(message, render)),
    };
    if (skip + top < matching.length) {
      const params = Object.entries(request.query).filter(([key]) => key !== '$skip');
      params.push(['$skip', String(skip + top)]);
      body['@odata.nextLink'] = `${this.versionRoot()}${basePath}?${encodeQuery(params)}`;
    }
    return this.ok(body, prefer);
  }

  private attachments(message: StoredMessage, rest: string[]): GraphApiResponse {
    if (rest.length === 0) {
      return this.ok({ '@odata.context': `${this.versionRoot()}/$metadata#attachments`, value: message.attachments });
    }
    const attachment = message.attachments.find((candidate) => candidate.id === rest[0]);
    if (!attachment) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    if (rest.length === 1) return this.ok(attachment);
    if (rest[1] === '$value') {
      return { status: 200, headers: { 'Content-Type': attachment.contentType }, body: Buffer.from(attachment.contentBytes, 'base64') };
    }
    throw new GraphError(400, 'BadRequest', 'Unsupported attachment request.');
  }

  // ---- delta -------------------------------------------------------------------------------

  private delta(mailbox: Mailbox, folderId: string, request: GraphApiRequest, prefer: PreferHeader, basePath: string): GraphApiResponse {
    const pageSize = prefer.maxPageSize ?? (request.query.$top ? parseTop(request.query.$top, 10) : 10);
    const skipToken = request.query.$skiptoken;
    const deltaToken = request.query.$deltatoken;
    if (skipToken !== undefined) {
      const page = this.deltaPages.get(skipToken);
      if (!page || page.mailbox !== mailbox.address || page.folderId !== folderId) throw this.syncStateNotFound();
      this.checkGeneration(mailbox, page, basePath);
      return this.servePage(mailbox, page, pageSize, basePath);
    }
    let query: DeltaQuery;
    let items: DeltaPage['items'];
    if (deltaToken) {
      const state = this.deltaStates.get(deltaToken);
      if (!state || state.mailbox !== mailbox.address || state.folderId !== folderId) throw this.syncStateNotFound();
      this.checkGeneration(mailbox, state, basePath);
      query = state;
      items = mailbox.changesSince(folderId, state.sinceSeq).flatMap(({ immutableId, kind }): DeltaPage['items'] => {
        const message = mailbox.findMessage(immutableId);
        if (kind === 'removed' || !message || message.folderId !== folderId) return [{ immutableId, removed: true }];
        return matchesFilter(message, state.filter) ? [{ immutableId, removed: false }] : [];
      });
    } else {
      const filter = parseFilter(request.query.$filter);
      const orderBy = parseOrderBy(request.query.$orderby);
      if (orderBy && !orderBy.descending) throw new GraphError(400, 'ErrorInvalidUrlQuery', 'Delta supports $orderby=receivedDateTime desc only.');
      if (filter.some((clause) => clause.property !== 'receivedDateTime' || (clause.operator !== 'ge' && clause.operator !== 'gt'))) {
        throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', 'Delta supports $filter=receivedDateTime ge|gt {value} only.');
      }
      query = {
        folderId,
        select: parseSelect(request.query.$select),
        filter,
        filterText: request.query.$filter,
        selectText: request.query.$select,
        immutableIds: prefer.immutableIds,
      };
      const matching = mailbox
        .messagesIn(folderId)
        .filter((message) => matchesFilter(message, filter))
        .sort((a, b) => b.receivedAt.getTime() - a.receivedAt.getTime() || a.immutableId.localeCompare(b.immutableId));
      items = (filter.length > 0 ? matching.slice(0, FILTERED_DELTA_CAP) : matching).map((message) => ({ immutableId: message.immutableId, removed: false }));
    }
    const page: DeltaPage = { ...query, mailbox: mailbox.address, generation: mailbox.deltaGeneration, items, offset: 0, untilSeq: mailbox.latestChangeSeq };
    return this.servePage(mailbox, page, pageSize, basePath);
  }

  private servePage(mailbox: Mailbox, page: DeltaPage, pageSize: number, basePath: string): GraphApiResponse {
    const slice = page.items.slice(page.offset, page.offset + pageSize);
    const render: RenderOptions = { select: page.select, immutableIds: page.immutableIds, bodyContentType: 'html', expandAttachments: false };
    const value = slice.map(({ immutableId, removed }) => {
      const message = mailbox.findMessage(immutableId);
      if (removed || !message || message.folderId !== page.folderId) {
        return { '@odata.type': '#microsoft.graph.message', id: this.removedId(mailbox, immutableId, page.immutableIds), '@removed': { reason: 'deleted' } };
      }
      return renderMessage(message, render);
    });
    const body: Record<string, unknown> = { '@odata.context': `${this.versionRoot()}/$metadata#Collection(message)`, value };
    const nextOffset = page.offset + pageSize;
    if (nextOffset < page.items.length) {
      const token = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
      this.deltaPages.set(token, { ...page, offset: nextOffset });
      body['@odata.nextLink'] = `${this.versionRoot()}${basePath}?${encodeQuery([['$skiptoken', token]])}`;
    } else {
      const token = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
      this.deltaStates.set(token, {
        ...page,
        mailbox: mailbox.address,
        generation: page.generation,
        sinceSeq: page.untilSeq,
      });
      body['@odata.deltaLink'] = `${this.versionRoot()}${basePath}?${encodeQuery([['$deltatoken', token]])}`;
    }
    return { status: 200, headers: { 'Preference-Applied': `odata.maxpagesize=${pageSize}` }, body };
  }

  /** Removed messages keep the id form the client asked for; a hard-deleted one keeps its last mutable id. */
  private removedId(mailbox: Mailbox, immutableId: string, immutableIds: boolean): string {
    if (immutableIds) return immutableId;
    return mailbox.findMessage(immutableId)?.mutableId ?? this.removedMutableIds.get(immutableId) ?? immutableId;
  }

  /** Called before a message leaves the store, so later delta rounds can still name it. */
  rememberRemoved(message: StoredMessage): void {
    this.removedMutableIds.set(message.immutableId, message.mutableId);
  }

  private checkGeneration(mailbox: Mailbox, state: DeltaQuery & { generation: number }, basePath: string): void {
    if (state.generation === mailbox.deltaGeneration) return;
    if (mailbox.deltaResetStyle === 'syncStateNotFound') throw this.syncStateNotFound();
    const params: [string, string][] = [];
    if (state.selectText) params.push(['$select', state.selectText]);
    if (state.filterText) params.push(['$filter', state.filterText]);
    params.push(['$deltatoken', '']);
    throw new GraphError(410, 'SyncStateInvalid', 'Resync required. Replace any local cached data with data from the provided Location header.', {
      Location: `${this.versionRoot()}${basePath}?${encodeQuery(params)}`,
    });
  }

  private syncStateNotFound(): GraphError {
    return new GraphError(400, 'syncStateNotFound', 'The sync state could not be found or has expired; start a new sync without a delta token.');
  }

  // ---- sending -----------------------------------------------------------------------------

  private nextInternetMessageId(mailbox: Mailbox): string {
    this.sentCounter += 1;
    const hash = createHash('sha256').update(`${mailbox.address}:${this.sentCounter}`).digest('hex').toUpperCase();
    // Outlook-style: <MailboxServerTag+random@host.namprd00.prod.outlook.com>
    return `<${hash.slice(0, 24)}@EMU${hash.slice(24, 30)}.namprd00.prod.outlook.com>`;
  }

  private compose(mailbox: Mailbox, input: ComposeInput): string {
    return buildRawMessage({
      from: `${mailbox.displayName} <${mailbox.address}>`,
      to: input.to.map(recipientText).join(', '),
      subject: input.subject,
      body: input.text,
      html: input.html,
      messageId: input.messageId,
      inReplyTo: input.inReplyTo,
      references: input.references,
      date: new Date(),
      headers: input.cc.length ? { Cc: input.cc.map(recipientText).join(', ') } : {},
    });
  }

  private async store(mailbox: Mailbox, input: ComposeInput, folder: WellKnownFolder, thread: { conversationId: string } | { threadKey: string }): Promise<StoredMessage> {
    const raw = this.compose(mailbox, input);
    const content = await parseMessageContent(raw);
    const message = mailbox.add({ raw, content, receivedAt: new Date(), folder, thread, isRead: true, isDraft: folder === 'drafts' });
    if (folder === 'drafts') this.draftInputs.set(message.immutableId, input);
    this.notify(mailbox, message, 'created');
    return message;
  }

  private recordSent(mailbox: Mailbox, message: StoredMessage, kind: SentMessage['kind'], input: ComposeInput): void {
    this.sent.push({
      kind,
      mailbox: mailbox.address,
      internetMessageId: message.content.internetMessageId,
      immutableId: message.immutableId,
      conversationId: message.conversationId,
      subject: input.subject,
      toRecipients: input.to.map((recipient) => recipient.emailAddress.address),
      inReplyTo: input.inReplyTo ?? null,
      references: input.references ?? [],
      raw: message.raw,
      sentAt: new Date(),
    });
  }

  private async respond(mailbox: Mailbox, original: StoredMessage, action: 'reply' | 'replyall' | 'forward', body: unknown, asDraft: boolean): Promise<StoredMessage> {
    const payload = (body ?? {}) as { comment?: unknown; message?: Record<string, unknown>; toRecipients?: unknown };
    const overrides = payload.message ?? {};
    const comment = typeof payload.comment === 'string' ? payload.comment : '';
    const overrideBody = overrides.body as { contentType?: string; content?: string } | undefined;
    if (comment && overrideBody) {
      throw new GraphError(400, 'ErrorInvalidRequest', 'Specify either comment or the body property of the message parameter, not both.');
    }
    const content = original.content;
    const self = mailbox.address.toLowerCase();
    let to: GraphRecipient[];
    let cc: GraphRecipient[] = [];
    if (action === 'forward') {
      to = parseRecipients(payload.toRecipients ?? overrides.toRecipients, 'toRecipients');
      if (to.length === 0 && !asDraft) throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid.');
    } else {
      const replyTarget = content.replyTo.length ? content.replyTo : content.from ? [content.from] : [];
      to = overrides.toRecipients ? parseRecipients(overrides.toRecipients, 'toRecipients') : replyTarget;
      if (action === 'replyall') {
        const others = [...content.toRecipients, ...content.ccRecipients].filter((recipient) => recipient.emailAddress.address.toLowerCase() !== self);
        cc = overrides.ccRecipients ? parseRecipients(overrides.ccRecipients, 'ccRecipients') : others;
      }
    }
    const prefix = action === 'forward' ? 'FW: ' : 'RE: ';
    const subject = typeof overrides.subject === 'string' ? overrides.subject : `${prefix}${content.subject.replace(/^(re|fw|fwd):\s*/i, '')}`;
    const quoted = [
      '',
      '________________________________',
      `From: ${content.from ? recipientText(content.from) : ''}`,
      `Sent: ${new Date(original.receivedAt).toUTCString()}`,
      `To: ${content.toRecipients.map(recipientText).join('; ')}`,
      `Subject: ${content.subject}`,
      '',
      content.textBody,
    ].join('\r\n');
    const input: ComposeInput = {
      subject,
      text: overrideBody?.content !== undefined && overrideBody.contentType !== 'html' ? overrideBody.content : `${comment}\r\n${quoted}`,
      html: overrideBody?.contentType === 'html' ? overrideBody.content : undefined,
      to,
      cc,
      messageId: this.nextInternetMessageId(mailbox),
      inReplyTo: content.internetMessageId || undefined,
      references: content.internetMessageId ? [...content.references, content.internetMessageId] : content.references,
    };
    const message = await this.store(mailbox, input, asDraft ? 'drafts' : 'sentitems', { conversationId: original.conversationId });
    if (!asDraft) this.recordSent(mailbox, message, action === 'replyall' ? 'replyAll' : action, input);
    return message;
  }

  private async createDraft(mailbox: Mailbox, body: unknown, prefer: PreferHeader): Promise<GraphApiResponse> {
    const input = this.composeFromMessageJson(mailbox, (body ?? {}) as Record<string, unknown>);
    const message = await this.store(mailbox, input, 'drafts', { threadKey: input.messageId });
    return { status: 201, headers: {}, body: { '@odata.context': this.messageContext(mailbox, null, true), ...renderMessage(message, { select: null, immutableIds: prefer.immutableIds, bodyContentType: 'html', expandAttachments: false }) } };
  }

  private composeFromMessageJson(mailbox: Mailbox, json: Record<string, unknown>, base?: ComposeInput): ComposeInput {
    const body = json.body as { contentType?: string; content?: string } | undefined;
    return {
      subject: typeof json.subject === 'string' ? json.subject : base?.subject ?? '',
      text: body?.content !== undefined ? (body.contentType === 'html' ? body.content.replace(/<[^>]+>/g, '') : body.content) : base?.text ?? '',
      html: body?.content !== undefined ? (body.contentType === 'html' ? body.content : undefined) : base?.html,
      to: json.toRecipients !== undefined ? parseRecipients(json.toRecipients, 'toRecipients') : base?.to ?? [],
      cc: json.ccRecipients !== undefined ? parseRecipients(json.ccRecipients, 'ccRecipients') : base?.cc ?? [],
      messageId: base?.messageId ?? this.nextInternetMessageId(mailbox),
      inReplyTo: base?.inReplyTo,
      references: base?.references,
    };
  }

  private async sendMail(mailbox: Mailbox, body: unknown): Promise<GraphApiResponse> {
    const payload = (body ?? {}) as { message?: Record<string, unknown>; saveToSentItems?: boolean };
    if (!payload.message) throw new GraphError(400, 'ErrorInvalidRequest', 'The message parameter is required.');
    const input = this.composeFromMessageJson(mailbox, payload.message);
    if (input.to.length === 0) throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid.');
    const message = await this.store(mailbox, input, 'sentitems', { threadKey: input.messageId });
    this.recordSent(mailbox, message, 'sendMail', input);
    if (payload.saveToSentItems === false) {
      this.rememberRemoved(message);
      mailbox.remove(message);
    }
    return { status: 202, headers: {} };
  }

  private async sendDraft(mailbox: Mailbox, draft: StoredMessage): Promise<GraphApiResponse> {
    const input = this.draftInputs.get(draft.immutableId);
    if (!draft.isDraft || !input) throw new GraphError(400, 'ErrorInvalidOperation', 'Only draft messages can be sent.');
    if (input.to.length === 0) throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid.');
    draft.isDraft = false;
    this.draftInputs.delete(draft.immutableId);
    this.moveAndNotify(mailbox, draft, 'sentitems');
    this.recordSent(mailbox, draft, 'draft', input);
    return { status: 202, headers: {} };
  }

  private async patchMessage(mailbox: Mailbox, message: StoredMessage, body: unknown, render: RenderOptions, prefer: PreferHeader): Promise<GraphApiResponse> {
    const patch = (body ?? {}) as Record<string, unknown>;
    if (typeof patch.isRead === 'boolean') message.isRead = patch.isRead;
    const draftInput = this.draftInputs.get(message.immutableId);
    const editsContent = ['subject', 'body', 'toRecipients', 'ccRecipients'].some((key) => key in patch);
    if (editsContent) {
      if (!draftInput) throw new GraphError(400, 'ErrorInvalidPropertyUpdateSentMessage', 'Update operation is invalid for property of a sent message.');
      const input = this.composeFromMessageJson(mailbox, patch, draftInput);
      this.draftInputs.set(message.immutableId, input);
      message.raw = this.compose(mailbox, input);
      message.content = await parseMessageContent(message.raw);
    }
    mailbox.touch(message);
    this.notify(mailbox, message, 'updated');
    return this.ok({ '@odata.context': this.messageContext(mailbox, render.select, true), ...renderMessage(message, render) }, prefer);
  }

  moveAndNotify(mailbox: Mailbox, message: StoredMessage, target: WellKnownFolder): void {
    const sourceFolderId = message.folderId;
    const previousIds = { immutable: message.immutableId, mutable: message.mutableId };
    mailbox.move(message, target);
    this.deps.hub.notifyChange(mailbox, sourceFolderId, 'deleted', { ids: previousIds, etag: messageEtag(message) });
    this.notify(mailbox, message, 'created');
  }

  notify(mailbox: Mailbox, message: StoredMessage, changeType: ChangeType): void {
    this.deps.hub.notifyChange(mailbox, message.folderId, changeType, {
      ids: { immutable: message.immutableId, mutable: message.mutableId },
      etag: messageEtag(message),
    });
  }

  // ---- subscriptions -----------------------------------------------------------------------

  private async subscriptionRoute(request: GraphApiRequest, caller: string, rest: string[]): Promise<GraphApiResponse> {
    const hub = this.deps.hub;
    const context = `${this.versionRoot()}/$metadata#subscriptions`;
    if (rest.length === 0) {
      if (request.method === 'GET') return this.ok({ '@odata.context': context, value: hub.list(caller).map((subscription) => this.subscriptionJson(subscription)) });
      if (request.method === 'POST') return this.createSubscription(request, caller, context);
      throw this.unsupported(request);
    }
    const subscription = hub.get(rest[0]!);
    if (!subscription || subscription.mailboxAddress !== caller) {
      throw new GraphError(404, 'ResourceNotFound', `The object was not found.`);
    }
    if (request.method === 'GET') return this.ok({ '@odata.context': `${context}/$entity`, ...this.subscriptionJson(subscription) });
    if (request.method === 'DELETE') {
      hub.remove(subscription.id);
      return { status: 204, headers: {} };
    }
    if (request.method === 'PATCH') {
      const patch = (request.body ?? {}) as { expirationDateTime?: unknown };
      subscription.expirationDateTime = this.subscriptionExpiry(patch.expirationDateTime);
      return this.ok({ '@odata.context': `${context}/$entity`, ...this.subscriptionJson(subscription) });
    }
    throw this.unsupported(request);
  }

  private subscriptionExpiry(value: unknown): Date {
    const requested = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(requested.getTime())) throw new GraphError(400, 'InvalidRequest', 'expirationDateTime is required and must be an ISO 8601 date-time.');
    if (requested.getTime() <= Date.now()) throw new GraphError(400, 'InvalidRequest', 'Subscription expiration must be in the future.');
    const max = Date.now() + this.deps.subscriptionMaxMinutes * 60_000;
    if (requested.getTime() <= max) return requested;
    if (this.deps.subscriptionOverMax === 'cap') return new Date(max);
    throw new GraphError(400, 'InvalidRequest', `Subscription expiration can only be ${this.deps.subscriptionMaxMinutes} minutes in the future.`);
  }

  private async createSubscription(request: GraphApiRequest, caller: string, context: string): Promise<GraphApiResponse> {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const { changeType, notificationUrl, lifecycleNotificationUrl, resource, clientState } = body;
    if (typeof changeType !== 'string' || !changeType.split(',').every((type) => ['created', 'updated', 'deleted'].includes(type.trim()))) {
      throw new GraphError(400, 'InvalidRequest', 'changeType must be a comma-separated list of created, updated, deleted.');
    }
    if (typeof notificationUrl !== 'string' || !/^https?:\/\//.test(notificationUrl)) {
      throw new GraphError(400, 'InvalidRequest', 'notificationUrl must be an absolute URL.');
    }
    if (lifecycleNotificationUrl !== undefined && (typeof lifecycleNotificationUrl !== 'string' || !/^https?:\/\//.test(lifecycleNotificationUrl))) {
      throw new GraphError(400, 'InvalidRequest', 'lifecycleNotificationUrl must be an absolute URL.');
    }
    if (clientState !== undefined && (typeof clientState !== 'string' || clientState.length > 128)) {
      throw new GraphError(400, 'InvalidRequest', 'clientState must be a string of at most 128 characters.');
    }
    const target = this.subscriptionTarget(String(resource ?? ''), caller);
    const expirationDateTime = this.subscriptionExpiry(body.expirationDateTime);
    await this.deps.hub.validateEndpoint(notificationUrl);
    if (typeof lifecycleNotificationUrl === 'string') await this.deps.hub.validateEndpoint(lifecycleNotificationUrl);
    const subscription = this.deps.hub.add({
      resource: String(resource),
      changeType,
      notificationUrl,
      lifecycleNotificationUrl: typeof lifecycleNotificationUrl === 'string' ? lifecycleNotificationUrl : null,
      expirationDateTime,
      clientState: typeof clientState === 'string' ? clientState : null,
      mailboxAddress: target.mailbox.address,
      mailboxId: target.mailbox.id,
      folderId: target.folderId,
      immutableIds: parsePrefer(request.headers.prefer).immutableIds,
    });
    return { status: 201, headers: {}, body: { '@odata.context': `${context}/$entity`, ...this.subscriptionJson(subscription) } };
  }

  /** Accepts `me/messages`, `/me/mailfolders('inbox')/messages`, `users/{id}/mailFolders/{id}/messages`. */
  private subscriptionTarget(resource: string, caller: string): { mailbox: Mailbox; folderId: string | null } {
    const match = /^\/?(me|users\/([^/]+))\/(?:mailfolders(?:\('([^']+)'\)|\/([^/]+))\/)?messages$/i.exec(resource.trim());
    const invalid = new GraphError(400, 'InvalidRequest', `Resource '${resource}' is not supported for message subscriptions.`);
    if (!match) throw invalid;
    const mailbox = this.mailbox(match[2] ? decodeURIComponent(match[2]) : caller);
    if (!mailbox) throw invalid;
    if (mailbox.address !== caller) throw new GraphError(403, 'ExtensionError', 'Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied.]');
    const folderReference = match[3] ?? match[4];
    if (folderReference === undefined) return { mailbox, folderId: null };
    const folder = mailbox.findFolder(folderReference);
    if (!folder) throw invalid;
    return { mailbox, folderId: folder.id };
  }

  private subscriptionJson(subscription: Subscription): Record<string, unknown> {
    return {
      id: subscription.id,
      resource: subscription.resource,
      applicationId: EMULATED_APPLICATION_ID,
      changeType: subscription.changeType,
      clientState: subscription.clientState,
      notificationUrl: subscription.notificationUrl,
      lifecycleNotificationUrl: subscription.lifecycleNotificationUrl,
      expirationDateTime: subscription.expirationDateTime.toISOString(),
      creatorId: subscription.mailboxId,
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationQueryOptions: null,
      notificationContentType: null,
    };
  }

  // ---- $batch ------------------------------------------------------------------------------

  private async batch(request: GraphApiRequest): Promise<GraphApiResponse> {
    const requests = (request.body as { requests?: unknown } | undefined)?.requests;
    if (!Array.isArray(requests) || requests.length === 0) throw new GraphError(400, 'BadRequest', 'Invalid batch payload format.');
    if (requests.length > BATCH_LIMIT) {
      throw new GraphError(400, 'BadRequest', `Invalid batch payload: the number of requests exceeds the maximum of ${BATCH_LIMIT}.`);
    }
    type Item = { id: string; method: string; url: string; headers?: Record<string, string>; body?: unknown; dependsOn?: string[] };
    const items = requests as Item[];
    const ids = new Set(items.map((item) => String(item.id)));
    if (ids.size !== items.length || items.some((item) => typeof item.url !== 'string' || typeof item.method !== 'string')) {
      throw new GraphError(400, 'BadRequest', 'Invalid batch payload: every request needs a unique id, a method and a url.');
    }
    const results = new Map<string, Promise<{ id: string; status: number; headers: Record<string, string>; body?: unknown }>>();
    let running = 0;
    const waiters: (() => void)[] = [];
    const slot = async () => {
      while (running >= BATCH_PARALLELISM) await new Promise<void>((resolve) => waiters.push(resolve));
      running += 1;
    };
    const freeSlot = () => {
      running -= 1;
      waiters.shift()?.();
    };
    const completed: { id: string; status: number; headers: Record<string, string>; body?: unknown }[] = [];
    const run = async (item: Item) => {
      const dependencies = await Promise.all((item.dependsOn ?? []).map((id) => results.get(String(id))));
      if (dependencies.some((dependency) => !dependency || dependency.status >= 400)) {
        return { id: String(item.id), status: 424, headers: {}, body: { error: { code: 'FailedDependency', message: 'Dependent request failed.' } } };
      }
      await slot();
      try {
        const url = new URL(item.url.replace(/^\//, ''), `${this.versionRoot()}/`);
        const innerPath = url.pathname.replace(/^\/(v1\.0|beta)(?=\/)/, '');
        const headers = Object.fromEntries(Object.entries(item.headers ?? {}).map(([key, value]) => [key.toLowerCase(), value]));
        const response = await this.handle(
          { method: item.method.toUpperCase(), path: innerPath, query: Object.fromEntries(url.searchParams), headers: { ...headers, authorization: request.headers.authorization }, body: item.body },
          true,
        );
        // Non-JSON bodies (MIME from $value) are base64 inside a batch response.
        const body = typeof response.body === 'string' || Buffer.isBuffer(response.body) ? Buffer.from(response.body).toString('base64') : response.body;
        return { id: String(item.id), status: response.status, headers: response.headers, body };
      } finally {
        freeSlot();
      }
    };
    for (const item of items) {
      // dependsOn may only point at earlier requests, so every dependency promise already exists.
      const result = run(item).then((response) => {
        completed.push(response);
        return response;
      });
      results.set(String(item.id), result);
    }
    await Promise.all(results.values());
    // Graph documents that responses may come back in any order; shuffle so importers cannot rely on it.
    const shuffled = [...completed];
    for (let index = shuffled.length - 1; index > 0; index -= 1) {
      const swap = Math.floor(this.deps.random() * (index + 1));
      [shuffled[index], shuffled[swap]] = [shuffled[swap]!, shuffled[index]!];
    }
    return { status: 200, headers: {}, body: { responses: shuffled } };
  }
}
