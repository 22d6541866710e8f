import {
  AuthenticationHandler,
  Client,
  GraphError,
  HTTPMessageHandler,
  RedirectHandler,
  ResponseType,
  TelemetryHandler,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { CaTrustingHttpHandler } from '../../lib/ca-trusting-http-handler';
import type { AccessTokenSource, ChangesResult, FetchedMessage, MailConnector, MessageRef, PushChannel, Semaphore } from './connector';
import { MailProviderError, providerErrorFor } from './errors';
import type { MailProviderSettings } from './oauth';

const PAGE_SIZE = 500;
const DELTA_PAGE_SIZE = 999;
/** Immutable ids survive moves between folders, so a message is never imported twice as "new". */
const IMMUTABLE_IDS = 'IdType="ImmutableId"';
const LIST_FIELDS = ['id', 'conversationId', 'receivedDateTime'];
const INBOX_MESSAGES = '/me/mailFolders/inbox/messages';

interface GraphPage {
  value?: { id: string; conversationId?: string; receivedDateTime?: string; '@removed'?: unknown }[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/** Graph takes unquoted ISO instants in $filter; whole seconds keep the value plain. */
const graphInstant = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/**
 * Outlook through `@microsoft/microsoft-graph-client`. The middleware chain is the SDK's default
 * minus RetryHandler (Temporal retries, honouring Retry-After); with GRAPH_CA_FILE the transport
 * trusts that CA (the local emulator), otherwise it is the stock fetch handler and normal TLS.
 */
/**
 * One mailbox's Graph client: the SDK's middleware with our token source and, for the local
 * emulator, a transport that trusts its CA. An access token can die before its stated expiry
 * (revocation), so a 401 refreshes it once and retries. Shared by the importer and the sender.
 */
export class GraphSession {
  private readonly client: Client;
  private currentToken: string | undefined;

  constructor(
    settings: MailProviderSettings,
    private readonly accessToken: AccessTokenSource,
  ) {
    const transport: Middleware = settings.graphCa ? new CaTrustingHttpHandler(settings.graphCa) : new HTTPMessageHandler();
    this.client = Client.initWithMiddleware({
      baseUrl: settings.graphBaseUrl,
      defaultVersion: 'v1.0',
      customHosts: new Set([new URL(settings.graphBaseUrl).hostname]),
      middleware: [
        new AuthenticationHandler({ getAccessToken: async () => (this.currentToken = await this.accessToken()) }),
        new RedirectHandler(),
        new TelemetryHandler(),
        transport,
      ],
    });
  }

  async call<T>(request: (client: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await request(this.client);
      } catch (err) {
        if (err instanceof GraphError && err.statusCode === 401 && attempt === 0) {
          await this.accessToken(this.currentToken);
          continue;
        }
        throw graphError(err);
      }
    }
  }
}

export class GraphConnector implements MailConnector {
  private readonly session: GraphSession;

  constructor(
    settings: MailProviderSettings,
    accessToken: AccessTokenSource,
    private readonly limiter: Semaphore,
  ) {
    this.session = new GraphSession(settings, accessToken);
  }

  private call<T>(request: (client: Client) => Promise<T>): Promise<T> {
    return this.limiter.run(() => this.session.call(request));
  }

  async mailboxAddress(): Promise<string> {
    const me = await this.call((client) => client.api('/me').select(['mail', 'userPrincipalName']).get());
    return String(me.mail ?? me.userPrincipalName ?? '').toLowerCase();
  }

  /**
   * Takes a delta baseline over the import window: one round of ids, whose deltaLink then yields
   * just the changes (with the same fields, which the token remembers). The round's contents
   * are covered by the backfill listing.
   */
  async startCursor(since: Date): Promise<string> {
    let page: GraphPage = await this.call((client) =>
      client
        .api(`${INBOX_MESSAGES}/delta`)
        .select(LIST_FIELDS)
        .filter(`receivedDateTime ge ${graphInstant(since)}`)
        .header('Prefer', `odata.maxpagesize=${DELTA_PAGE_SIZE}, ${IMMUTABLE_IDS}`)
        .get(),
    );
    while (page['@odata.nextLink']) {
      const next = page['@odata.nextLink'];
      page = await this.call((client) => client.api(next).header('Prefer', `odata.maxpagesize=${DELTA_PAGE_SIZE}, ${IMMUTABLE_IDS}`).get());
    }
    if (!page['@odata.deltaLink']) throw new MailProviderError('MailProviderRejected', 'Graph delta round ended without a deltaLink');
    return page['@odata.deltaLink'];
  }

  async listReceivedSince(since: Date, pageToken?: string): Promise<{ refs: MessageRef[]; nextPageToken?: string }> {
    // nextLink is followed verbatim, as Graph requires; it is the page token.
    const page: GraphPage = await this.call((client) =>
      pageToken
        ? client.api(pageToken).header('Prefer', IMMUTABLE_IDS).get()
        : client
            .api(INBOX_MESSAGES)
            .filter(`receivedDateTime ge ${graphInstant(since)}`)
            .orderby('receivedDateTime desc')
            .select(LIST_FIELDS)
            .top(PAGE_SIZE)
            .header('Prefer', IMMUTABLE_IDS)
            .get(),
    );
    return { refs: refsOf(page), nextPageToken: page['@odata.nextLink'] };
  }

  async changesSince(cursor: string): Promise<ChangesResult> {
    const refs = new Map<string, MessageRef>();
    let link = cursor;
    try {
      for (;;) {
        const current = link;
        const page: GraphPage = await this.call((client) =>
          client.api(current).header('Prefer', `odata.maxpagesize=${DELTA_PAGE_SIZE}, ${IMMUTABLE_IDS}`).get(),
        );
        for (const ref of refsOf(page)) refs.set(ref.id, ref);
        if (page['@odata.deltaLink']) return { stale: false, refs: [...refs.values()], cursor: page['@odata.deltaLink'] };
        if (!page['@odata.nextLink']) throw new MailProviderError('MailProviderRejected', 'Graph delta page had neither nextLink nor deltaLink');
        link = page['@odata.nextLink'];
      }
    } catch (err) {
      // 410 Gone (resync required) or an evicted sync state: start over with a full resync.
      if (err instanceof MailProviderError && (err.status === 410 || (err.status === 400 && /syncState/i.test(err.message)))) return { stale: true };
      throw err;
    }
  }

  async fetch(ref: MessageRef): Promise<FetchedMessage | null> {
    try {
      let { threadId, receivedAt } = ref;
      if (!threadId || !receivedAt) {
        const meta = await this.call((client) => client.api(`/me/messages/${ref.id}`).select(LIST_FIELDS).header('Prefer', IMMUTABLE_IDS).get());
        threadId = meta.conversationId;
        receivedAt = meta.receivedDateTime;
      }
      const mime: ArrayBuffer = await this.call((client) =>
        client.api(`/me/messages/${ref.id}/$value`).header('Prefer', IMMUTABLE_IDS).responseType(ResponseType.ARRAYBUFFER).get(),
      );
      return { id: ref.id, threadId, receivedAt: new Date(receivedAt ?? Date.now()), raw: Buffer.from(mime) };
    } catch (err) {
      if (err instanceof MailProviderError && err.status === 404) return null;
      throw err;
    }
  }

  async renewPush(current: { subscriptionId?: string; clientState?: string }, notificationUrl: string, lifetimeMinutes: number): Promise<PushChannel | null> {
    const expirationDateTime = new Date(Date.now() + lifetimeMinutes * 60_000).toISOString();
    if (current.subscriptionId) {
      const subscriptionId = current.subscriptionId;
      try {
        const renewed = await this.call((client) => client.api(`/subscriptions/${subscriptionId}`).patch({ expirationDateTime }));
        return { expiresAt: new Date(renewed.expirationDateTime), subscriptionId, clientState: current.clientState };
      } catch (err) {
        // Removed (lifecycle `subscriptionRemoved`, or expired): create a new one below.
        if (!(err instanceof MailProviderError && err.status === 404)) throw err;
      }
    }
    const clientState = current.clientState;
    const created = await this.call((client) =>
      client.api('/subscriptions').header('Prefer', IMMUTABLE_IDS).post({
        changeType: 'created',
        notificationUrl,
        lifecycleNotificationUrl: notificationUrl,
        resource: "/me/mailFolders('inbox')/messages",
        expirationDateTime,
        clientState,
      }),
    );
    return { expiresAt: new Date(created.expirationDateTime), subscriptionId: String(created.id), clientState };
  }
}

function refsOf(page: GraphPage): MessageRef[] {
  return (page.value ?? [])
    .filter((m) => m['@removed'] === undefined)
    .map((m) => ({ id: m.id, threadId: m.conversationId, receivedAt: m.receivedDateTime }));
}

export function graphError(err: unknown): unknown {
  if (!(err instanceof GraphError)) return err instanceof MailProviderError ? err : new MailProviderError('MailProviderUnavailable', `Graph unreachable: ${(err as Error).message}`, 0);
  if (err.statusCode === -1) return new MailProviderError('MailProviderUnavailable', `Graph unreachable: ${err.message}`, 0);
  return providerErrorFor(err.statusCode, `Graph answered ${err.statusCode} ${err.code ?? ''}: ${err.message}`, err.headers?.get('retry-after'));
}
