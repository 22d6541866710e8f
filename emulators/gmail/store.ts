/**
 * Mailbox state of the Gmail emulator: messages, threads, labels and the history log.
 * History ids are per mailbox, increase with random gaps (as Gmail documents) and every
 * mutation appends a record, so history.list behaves like the real incremental-sync API.
 */
import type { SeedMessage } from '../mail/types';
import { headerValue, parseHeaderBlock, parseMessage, type ParsedMessage } from './mime-tree';

export type HistoryType = 'messageAdded' | 'messageDeleted' | 'labelAdded' | 'labelRemoved';

export interface StoredMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  /** Raw bytes as a latin1 string: one char per byte, so 8-bit content round-trips. */
  raw: string;
  internalDate: number;
  historyId: number;
  /** Message-ID header, used to thread later mail by In-Reply-To/References. */
  rfc822MessageId?: string;
  parsed?: ParsedMessage;
}

export interface HistoryRecord {
  id: number;
  type: HistoryType;
  messageId: string;
  threadId: string;
  /** Labels of the message right after the change (what Gmail reports in messagesAdded). */
  labelIdsAfter: string[];
  /** Labels added or removed, for labelAdded/labelRemoved. */
  changedLabelIds?: string[];
}

export interface WatchState {
  topicName: string;
  labelIds: string[];
  labelFilterBehavior: 'INCLUDE' | 'EXCLUDE';
  expiration: number;
}

export const SYSTEM_LABELS = ['INBOX', 'SENT', 'UNREAD', 'STARRED', 'IMPORTANT', 'SPAM', 'TRASH', 'DRAFT', 'CATEGORY_PERSONAL', 'CATEGORY_SOCIAL', 'CATEGORY_PROMOTIONS', 'CATEGORY_UPDATES', 'CATEGORY_FORUMS'];

export class Mailbox {
  readonly messages = new Map<string, StoredMessage>();
  /** Newest first (internalDate desc, id desc), the order messages.list returns. */
  private ordered: StoredMessage[] = [];
  private orderedDirty = false;
  readonly history: HistoryRecord[] = [];
  private readonly threadIdByKey = new Map<string, string>();
  private readonly threadIdByRfc822Id = new Map<string, string>();
  private readonly threadIds = new Set<string>();
  historyId: number;
  /** Smallest startHistoryId history.list still accepts; older ones get 404. */
  oldestValidStartHistoryId: number;
  watch?: WatchState;

  constructor(
    readonly address: string,
    private readonly nextMessageId: () => string,
    private readonly historyGap: () => number,
  ) {
    this.historyId = 1000 + historyGap();
    this.oldestValidStartHistoryId = this.historyId;
  }

  private bumpHistoryId(): number {
    this.historyId += this.historyGap();
    return this.historyId;
  }

  sortedNewestFirst(): StoredMessage[] {
    if (this.orderedDirty) {
      this.ordered.sort((a, b) => b.internalDate - a.internalDate || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      this.orderedDirty = false;
    }
    return this.ordered;
  }

  /** Gmail threads by explicit threadId, else by the References/In-Reply-To chain. */
  private resolveThreadId(raw: string, threadKey: string | undefined, requestedThreadId: string | undefined, messageId: string): string {
    if (requestedThreadId && this.threadIds.has(requestedThreadId)) return requestedThreadId;
    if (threadKey !== undefined) {
      const known = this.threadIdByKey.get(threadKey);
      if (known) return known;
    }
    const headers = parseHeaderBlock(raw.split(/\r?\n\r?\n/, 1)[0]);
    const referenced = `${headerValue(headers, 'References') ?? ''} ${headerValue(headers, 'In-Reply-To') ?? ''}`.match(/<[^>]+>/g) ?? [];
    for (const reference of referenced.reverse()) {
      const threadId = this.threadIdByRfc822Id.get(reference);
      if (threadId) return threadId;
    }
    // Gmail's thread id is the id of the thread's first message.
    return messageId;
  }

  addMessage(input: { raw: string; internalDate: number; labelIds: string[]; threadKey?: string; threadId?: string }): StoredMessage {
    const id = this.nextMessageId();
    const threadId = this.resolveThreadId(input.raw, input.threadKey, input.threadId, id);
    const headers = parseHeaderBlock(input.raw.split(/\r?\n\r?\n/, 1)[0]);
    const rfc822MessageId = headerValue(headers, 'Message-ID')?.match(/<[^>]+>/)?.[0];
    const message: StoredMessage = {
      id,
      threadId,
      labelIds: [...input.labelIds],
      raw: input.raw,
      internalDate: input.internalDate,
      historyId: this.bumpHistoryId(),
      rfc822MessageId,
    };
    this.messages.set(id, message);
    this.ordered.push(message);
    this.orderedDirty = true;
    this.threadIds.add(threadId);
    if (input.threadKey !== undefined && !this.threadIdByKey.has(input.threadKey)) this.threadIdByKey.set(input.threadKey, threadId);
    if (rfc822MessageId) this.threadIdByRfc822Id.set(rfc822MessageId, threadId);
    this.history.push({ id: message.historyId, type: 'messageAdded', messageId: id, threadId, labelIdsAfter: [...message.labelIds] });
    return message;
  }

  addSeedMessage(seed: SeedMessage): StoredMessage {
    const labelIds = seed.folder === 'sent' ? ['SENT'] : ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'];
    return this.addMessage({ raw: Buffer.from(seed.raw, 'utf8').toString('latin1'), internalDate: seed.receivedAt.getTime(), labelIds, threadKey: seed.threadKey });
  }

  modifyLabels(messageId: string, add: string[], remove: string[]): StoredMessage | undefined {
    const message = this.messages.get(messageId);
    if (!message) return undefined;
    const added = add.filter((label) => !message.labelIds.includes(label));
    const removed = remove.filter((label) => message.labelIds.includes(label));
    message.labelIds = [...message.labelIds.filter((label) => !removed.includes(label)), ...added];
    if (added.length) {
      message.historyId = this.bumpHistoryId();
      this.history.push({ id: message.historyId, type: 'labelAdded', messageId, threadId: message.threadId, labelIdsAfter: [...message.labelIds], changedLabelIds: added });
    }
    if (removed.length) {
      message.historyId = this.bumpHistoryId();
      this.history.push({ id: message.historyId, type: 'labelRemoved', messageId, threadId: message.threadId, labelIdsAfter: [...message.labelIds], changedLabelIds: removed });
    }
    return message;
  }

  deleteMessage(messageId: string): boolean {
    const message = this.messages.get(messageId);
    if (!message) return false;
    this.messages.delete(messageId);
    this.ordered = this.ordered.filter((candidate) => candidate.id !== messageId);
    this.history.push({ id: this.bumpHistoryId(), type: 'messageDeleted', messageId, threadId: message.threadId, labelIdsAfter: message.labelIds });
    return true;
  }

  /**
   * Drops all retained history: every startHistoryId handed out so far becomes stale, while the
   * current mailbox historyId (from getProfile or watch) is valid again for a fresh baseline.
   */
  expireHistory(): void {
    this.bumpHistoryId();
    this.oldestValidStartHistoryId = this.historyId;
    this.history.length = 0;
  }

  parsed(message: StoredMessage): ParsedMessage {
    message.parsed ??= parseMessage(message.raw, message.id);
    return message.parsed;
  }

  threadCount(): number {
    return new Set([...this.messages.values()].map((message) => message.threadId)).size;
  }
}
