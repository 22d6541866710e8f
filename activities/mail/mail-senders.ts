import type { Client } from '@microsoft/microsoft-graph-client';
import type { gmail_v1 } from './google';
import { messageIdsIn } from '../../domain/mail';
import type { AccessTokenSource } from './connector';
import { MailProviderError } from './errors';
import { callGmail } from './gmail';
import { GraphSession } from './graph';
import type { MailProviderSettings } from './oauth';

/** Where a sent message landed at the provider. */
export interface ProviderCopy {
  providerMessageId: string;
  providerThreadId?: string;
}

const PAGE_SIZE = 100;
const IMMUTABLE_IDS = 'IdType="ImmutableId"';

/**
 * Gmail sending (I9): `users.messages.send` with our raw RFC 5322 message, and the lookup a
 * retried send makes first. The lookup reads the mailbox history since the mark taken before
 * the first send (history is consistent, search indexing is not); when that history has expired
 * it falls back to searching the SENT label. Every candidate's Message-ID header is compared,
 * so a search that returns more than asked for cannot produce a false match.
 */
export class GmailSender {
  constructor(
    private readonly settings: MailProviderSettings,
    private readonly accessToken: AccessTokenSource,
  ) {}

  private call<T>(request: (gmail: gmail_v1.Gmail) => Promise<{ data: T }>): Promise<T> {
    return callGmail(this.settings, this.accessToken, request);
  }

  async historyId(): Promise<string> {
    return String((await this.call((gmail) => gmail.users.getProfile({ userId: 'me' }))).historyId);
  }

  async send(raw: string, threadId: string | undefined): Promise<ProviderCopy> {
    const sent = await this.call((gmail) => gmail.users.messages.send({ userId: 'me', requestBody: { raw: Buffer.from(raw, 'utf8').toString('base64url'), threadId } }));
    return { providerMessageId: String(sent.id), providerThreadId: sent.threadId ?? undefined };
  }

  async findSent(messageId: string, sinceHistoryId: string | undefined): Promise<ProviderCopy | null> {
    const candidates = sinceHistoryId ? await this.sentSince(sinceHistoryId) : null;
    for (const id of candidates ?? (await this.searchSent(messageId))) {
      const found = await this.withMessageId(id, messageId);
      if (found) return found;
    }
    return null;
  }

  /** Ids of messages added with the SENT label since `historyId`; null when that history is gone. */
  private async sentSince(historyId: string): Promise<string[] | null> {
    const ids = new Set<string>();
    let pageToken: string | undefined;
    try {
      do {
        const page = await this.call((gmail) => gmail.users.history.list({ userId: 'me', startHistoryId: historyId, historyTypes: ['messageAdded'], labelId: 'SENT', maxResults: PAGE_SIZE, pageToken }));
        for (const record of page.history ?? []) for (const { message } of record.messagesAdded ?? []) if (message?.id) ids.add(message.id);
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken);
    } catch (err) {
      if (err instanceof MailProviderError && err.status === 404) return null;
      throw err;
    }
    return [...ids];
  }

  private async searchSent(messageId: string): Promise<string[]> {
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.call((gmail) => gmail.users.messages.list({ userId: 'me', q: `rfc822msgid:${messageId}`, labelIds: ['SENT'], maxResults: PAGE_SIZE, pageToken }));
      ids.push(...(page.messages ?? []).map((m) => String(m.id)));
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    return ids;
  }

  private async withMessageId(id: string, messageId: string): Promise<ProviderCopy | null> {
    try {
      const message = await this.call((gmail) => gmail.users.messages.get({ userId: 'me', id, format: 'metadata', metadataHeaders: ['Message-ID'] }));
      const header = message.payload?.headers?.find((h) => h.name?.toLowerCase() === 'message-id')?.value ?? undefined;
      return messageIdsIn(header)[0] === messageId ? { providerMessageId: id, providerThreadId: message.threadId ?? undefined } : null;
    } catch (err) {
      if (err instanceof MailProviderError && err.status === 404) return null;
      throw err;
    }
  }
}

export interface GraphDraft {
  id: string;
  internetMessageId: string;
  conversationId?: string;
  subject: string;
}

type Recipient = { address: string; name?: string | null };
const recipientsOf = (list: Recipient[]) => list.map((r) => ({ emailAddress: { address: r.address, ...(r.name ? { name: r.name } : {}) } }));

/**
 * Outlook sending (I9): createReply / createForward make a draft in the original's conversation
 * (Exchange sets In-Reply-To and References), `send` sends it. The draft's immutable id and
 * internetMessageId are stored before `send`, so a retry can tell a sent draft (no longer a
 * draft, or found in Sent Items by its internetMessageId) from one that never left.
 */
export class GraphSender {
  private readonly session: GraphSession;

  constructor(settings: MailProviderSettings, accessToken: AccessTokenSource) {
    this.session = new GraphSession(settings, accessToken);
  }

  private call<T>(request: (client: Client) => Promise<T>): Promise<T> {
    return this.session.call(request);
  }

  async createDraft(kind: 'reply' | 'forward', originalId: string, input: { text: string; to: Recipient[]; cc: Recipient[] }): Promise<GraphDraft> {
    const action = kind === 'reply' ? 'createReply' : 'createForward';
    const message = {
      body: { contentType: 'text', content: input.text },
      ...(kind === 'forward' ? { toRecipients: recipientsOf(input.to) } : {}),
      ...(input.cc.length ? { ccRecipients: recipientsOf(input.cc) } : {}),
    };
    const draft = await this.call((client) => client.api(`/me/messages/${originalId}/${action}`).header('Prefer', IMMUTABLE_IDS).post({ message }));
    return { id: String(draft.id), internetMessageId: messageIdsIn(String(draft.internetMessageId ?? ''))[0] ?? '', conversationId: draft.conversationId, subject: String(draft.subject ?? '') };
  }

  async send(draftId: string): Promise<void> {
    await this.call((client) => client.api(`/me/messages/${draftId}/send`).post({}));
  }

  /** `draft`: still unsent; `sent`: sent (immutable ids survive the move to Sent Items); `gone`: deleted. */
  async draftState(draftId: string): Promise<'draft' | 'sent' | 'gone'> {
    try {
      const message = await this.call((client) => client.api(`/me/messages/${draftId}`).select(['id', 'isDraft']).header('Prefer', IMMUTABLE_IDS).get());
      return message.isDraft ? 'draft' : 'sent';
    } catch (err) {
      if (err instanceof MailProviderError && err.status === 404) return 'gone';
      throw err;
    }
  }

  /** Sent Items since `since`, matched on internetMessageId (Graph cannot filter on it everywhere). */
  async findSent(internetMessageId: string, since: Date): Promise<ProviderCopy | null> {
    const instant = `${since.toISOString().slice(0, 19)}Z`;
    let link: string | undefined;
    do {
      const current = link;
      const page = await this.call((client) =>
        current
          ? client.api(current).header('Prefer', IMMUTABLE_IDS).get()
          : client.api('/me/mailFolders/sentitems/messages').filter(`receivedDateTime ge ${instant}`).select(['id', 'internetMessageId', 'conversationId']).top(PAGE_SIZE).header('Prefer', IMMUTABLE_IDS).get(),
      );
      for (const m of (page.value ?? []) as { id: string; internetMessageId?: string; conversationId?: string }[]) {
        if (messageIdsIn(m.internetMessageId)[0] === internetMessageId) return { providerMessageId: m.id, providerThreadId: m.conversationId };
      }
      link = page['@odata.nextLink'];
    } while (link);
    return null;
  }
}
