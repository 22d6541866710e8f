/** A message as listed by a provider: ids only (bodies never travel through workflows). */
export interface MessageRef {
  id: string;
  /** Gmail threadId or Graph conversationId, when the listing carries it. */
  threadId?: string;
  /** ISO time the provider received it, when the listing carries it. */
  receivedAt?: string;
}

export interface FetchedMessage {
  id: string;
  threadId?: string;
  receivedAt: Date;
  raw: Buffer;
}

export type ChangesResult = { stale: false; refs: MessageRef[]; cursor: string } | { stale: true };

export interface PushChannel {
  expiresAt: Date;
  /** Graph only: the subscription notifications name, and the secret they must carry. */
  subscriptionId?: string;
  clientState?: string;
}

/**
 * What the import needs from a mailbox provider. Both implementations use the provider's own
 * client library with its retries off: failures surface as MailProviderError and Temporal retries.
 */
export interface MailConnector {
  mailboxAddress(): Promise<string>;
  /** A change cursor taken before listing, so mail arriving during a backfill is not missed. */
  startCursor(since: Date): Promise<string>;
  listReceivedSince(since: Date, pageToken?: string): Promise<{ refs: MessageRef[]; nextPageToken?: string }>;
  changesSince(cursor: string): Promise<ChangesResult>;
  /** The raw RFC 5322 message, or null when it is gone from the mailbox. */
  fetch(ref: MessageRef): Promise<FetchedMessage | null>;
  /** Creates or renews the push channel; null when push is not configured (polling only). */
  renewPush(current: { subscriptionId?: string; clientState?: string }, notificationUrl: string, lifetimeMinutes: number): Promise<PushChannel | null>;
}

/** Gives an access token; `rejected` names one the provider just refused, forcing a refresh. */
export type AccessTokenSource = (rejected?: string) => Promise<string>;

/** Caps in-flight provider requests per mailbox within this process (Graph allows 4). */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
