import { google, type gmail_v1 } from './google';
import type { AccessTokenSource, ChangesResult, FetchedMessage, MailConnector, MessageRef, PushChannel, Semaphore } from './connector';
import { MailProviderError, providerErrorFor } from './errors';
import { googleOAuthClient, type MailProviderSettings } from './oauth';

const PAGE_SIZE = 500;
const RATE_LIMIT_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded']);

export interface GaxiosLikeError {
  message: string;
  response?: { status?: number; headers?: unknown; data?: { error?: { message?: string; errors?: { reason?: string }[] } } };
}

function headerOf(headers: unknown, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}

/** Gmail through `googleapis`, pointed at GMAIL_API_ROOT_URL; gaxios retries are off. */
export class GmailConnector implements MailConnector {
  constructor(
    private readonly settings: MailProviderSettings,
    private readonly accessToken: AccessTokenSource,
    private readonly limiter: Semaphore,
    private readonly pubsubTopic: string | undefined,
  ) {}

  private call<T>(request: (gmail: gmail_v1.Gmail) => Promise<{ data: T }>): Promise<T> {
    return this.limiter.run(() => callGmail(this.settings, this.accessToken, request));
  }

  async mailboxAddress(): Promise<string> {
    const profile = await this.call((gmail) => gmail.users.getProfile({ userId: 'me' }));
    return String(profile.emailAddress ?? '').toLowerCase();
  }

  async startCursor(): Promise<string> {
    const profile = await this.call((gmail) => gmail.users.getProfile({ userId: 'me' }));
    return String(profile.historyId);
  }

  async listReceivedSince(since: Date, pageToken?: string): Promise<{ refs: MessageRef[]; nextPageToken?: string }> {
    // Epoch seconds make the bound exact; dates in `q` are read as midnight Pacific.
    const q = `after:${Math.floor(since.getTime() / 1000)}`;
    const page = await this.call((gmail) => gmail.users.messages.list({ userId: 'me', q, labelIds: ['INBOX'], maxResults: PAGE_SIZE, pageToken }));
    return {
      refs: (page.messages ?? []).map((m) => ({ id: String(m.id), threadId: m.threadId ?? undefined })),
      nextPageToken: page.nextPageToken ?? undefined,
    };
  }

  async changesSince(cursor: string): Promise<ChangesResult> {
    const refs = new Map<string, MessageRef>();
    let pageToken: string | undefined;
    let historyId = cursor;
    try {
      do {
        const page = await this.call((gmail) =>
          gmail.users.history.list({ userId: 'me', startHistoryId: cursor, historyTypes: ['messageAdded', 'labelAdded'], labelId: 'INBOX', maxResults: PAGE_SIZE, pageToken }),
        );
        for (const record of page.history ?? []) {
          // Mail reaches the inbox by arriving or by getting the INBOX label (e.g. leaving spam).
          const arrived = [...(record.messagesAdded ?? []), ...(record.labelsAdded ?? []).filter((l) => l.labelIds?.includes('INBOX'))];
          for (const { message } of arrived) {
            if (message?.id && (message.labelIds ?? ['INBOX']).includes('INBOX')) refs.set(message.id, { id: message.id, threadId: message.threadId ?? undefined });
          }
        }
        pageToken = page.nextPageToken ?? undefined;
        if (page.historyId) historyId = String(page.historyId);
      } while (pageToken);
    } catch (err) {
      // "An out-of-date startHistoryId typically returns 404": the app must do a full sync.
      if (err instanceof MailProviderError && err.status === 404) return { stale: true };
      throw err;
    }
    return { stale: false, refs: [...refs.values()], cursor: historyId };
  }

  async fetch(ref: MessageRef): Promise<FetchedMessage | null> {
    try {
      const message = await this.call((gmail) => gmail.users.messages.get({ userId: 'me', id: ref.id, format: 'raw' }));
      return {
        id: ref.id,
        threadId: message.threadId ?? ref.threadId,
        receivedAt: new Date(Number(message.internalDate ?? Date.now())),
        raw: Buffer.from(String(message.raw ?? ''), 'base64url'),
      };
    } catch (err) {
      if (err instanceof MailProviderError && err.status === 404) return null;
      throw err;
    }
  }

  async renewPush(): Promise<PushChannel | null> {
    if (!this.pubsubTopic) return null;
    const topicName = this.pubsubTopic;
    const watch = await this.call((gmail) => gmail.users.watch({ userId: 'me', requestBody: { topicName, labelIds: ['INBOX'], labelFilterBehavior: 'INCLUDE' } }));
    return { expiresAt: new Date(Number(watch.expiration)) };
  }
}

export function gmailError(err: GaxiosLikeError): unknown {
  const response = err.response;
  if (!response?.status) return new MailProviderError('MailProviderUnavailable', `Gmail unreachable: ${err.message}`, 0);
  const reason = response.data?.error?.errors?.[0]?.reason ?? '';
  const message = `Gmail answered ${response.status} ${reason || (response.data?.error?.message ?? '')}`.trim();
  return providerErrorFor(response.status, message, headerOf(response.headers, 'retry-after'), RATE_LIMIT_REASONS.has(reason));
}

/**
 * One Gmail API call with the mailbox's access token. An access token can die before its stated
 * expiry (revocation), so a 401 refreshes it once and retries. Shared by the importer and the sender.
 */
export async function callGmail<T>(settings: MailProviderSettings, accessToken: AccessTokenSource, request: (gmail: gmail_v1.Gmail) => Promise<{ data: T }>): Promise<T> {
  let token = await accessToken();
  for (let attempt = 0; ; attempt += 1) {
    const auth = googleOAuthClient(settings);
    auth.setCredentials({ access_token: token });
    const gmail = google.gmail({ version: 'v1', auth, rootUrl: settings.gmailRootUrl, retry: false });
    try {
      return (await request(gmail)).data;
    } catch (err) {
      if ((err as GaxiosLikeError).response?.status === 401 && attempt === 0) {
        token = await accessToken(token);
        continue;
      }
      throw gmailError(err as GaxiosLikeError);
    }
  }
}
