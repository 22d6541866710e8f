import { createHash } from 'node:crypto';
import type { GraphFileAttachment, MessageContent } from './message-content';

export const WELL_KNOWN_FOLDERS = ['inbox', 'sentitems', 'drafts', 'deleteditems'] as const;
export type WellKnownFolder = (typeof WELL_KNOWN_FOLDERS)[number];

const FOLDER_DISPLAY_NAMES: Record<WellKnownFolder, string> = {
  inbox: 'Inbox',
  sentitems: 'Sent Items',
  drafts: 'Drafts',
  deleteditems: 'Deleted Items',
};

export interface MailFolder {
  id: string;
  wellKnownName: WellKnownFolder;
  displayName: string;
}

export interface StoredMessage {
  /** What `Prefer: IdType="ImmutableId"` returns: never changes, even across moves. */
  immutableId: string;
  /** The default Graph id: regenerated whenever the message changes folder. */
  mutableId: string;
  folderId: string;
  raw: string;
  content: MessageContent;
  attachments: GraphFileAttachment[];
  receivedAt: Date;
  createdAt: Date;
  lastModifiedAt: Date;
  conversationId: string;
  conversationIndex: string;
  isRead: boolean;
  isDraft: boolean;
  /** Bumped on every change; feeds changeKey and @odata.etag. */
  version: number;
}

export type ChangeKind = 'upsert' | 'removed';

interface ChangeEntry {
  seq: number;
  folderId: string;
  immutableId: string;
  kind: ChangeKind;
}

/**
 * Exchange ids are base64 with `-`/`_` for `+`/`/` and keep their `=` padding; importers that
 * mangle `=` in URLs should fail here as they would against Outlook.
 */
function exchangeStyleId(prefix: Buffer, seed: string, hashBytes: number): string {
  const digest = createHash('sha256').update(seed).digest();
  const body = Buffer.concat([digest, createHash('sha256').update(`${seed}#2`).digest()]).subarray(0, hashBytes);
  return Buffer.concat([prefix, body]).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

const IMMUTABLE_ID_PREFIX = Buffer.from([0x00, 0x09, 0x00, 0x2e, 0x00, 0x00]);
const MUTABLE_ID_PREFIX = Buffer.from([0x00, 0x03, 0x24, 0x00, 0x00]);
const FOLDER_ID_PREFIX = Buffer.from([0x01, 0x03, 0x24, 0x00]);
const CONVERSATION_ID_PREFIX = Buffer.from([0x00, 0x04, 0x24, 0x00, 0x00]);

function uuidFromSeed(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface Thread {
  conversationId: string;
  /** 22-byte header of the first message's conversationIndex; replies append 5 bytes each. */
  indexHeader: Buffer;
  messageCount: number;
}

export interface NewMessage {
  raw: string;
  content: MessageContent;
  receivedAt: Date;
  folder: WellKnownFolder;
  /** Seeded mail names its thread by key; replies created through the API reuse a conversationId. */
  thread: { threadKey: string } | { conversationId: string };
  isRead: boolean;
  isDraft: boolean;
}

export class Mailbox {
  readonly id: string;
  readonly displayName: string;
  readonly folders: MailFolder[];
  private readonly messagesById = new Map<string, StoredMessage>();
  private readonly immutableIdByMutableId = new Map<string, string>();
  private readonly threadsByKey = new Map<string, Thread>();
  private readonly threadsByConversationId = new Map<string, Thread>();
  private readonly changes: ChangeEntry[] = [];
  private messageCounter = 0;
  private mutationCounter = 0;
  /** Bumped by the control surface to make every outstanding delta token unusable. */
  deltaGeneration = 0;
  /** How a stale token is answered: 410 Gone + Location, or the 400 `syncStateNotFound` variant. */
  deltaResetStyle: 'gone' | 'syncStateNotFound' = 'gone';

  constructor(readonly address: string) {
    this.id = uuidFromSeed(`user:${address}`);
    this.displayName = address.split('@')[0] ?? address;
    this.folders = WELL_KNOWN_FOLDERS.map((wellKnownName) => ({
      id: exchangeStyleId(FOLDER_ID_PREFIX, `folder:${address}:${wellKnownName}`, 41),
      wellKnownName,
      displayName: FOLDER_DISPLAY_NAMES[wellKnownName],
    }));
  }

  get latestChangeSeq(): number {
    return this.changes.length === 0 ? 0 : this.changes[this.changes.length - 1]!.seq;
  }

  /** Accepts a well-known name (any case) or a folder id, as Graph does. */
  findFolder(reference: string): MailFolder | undefined {
    const lower = reference.toLowerCase();
    return this.folders.find((folder) => folder.wellKnownName === lower || folder.id === reference);
  }

  folder(wellKnownName: WellKnownFolder): MailFolder {
    return this.folders.find((folder) => folder.wellKnownName === wellKnownName)!;
  }

  /** Resolves either id form; a mutable id from before a move no longer resolves. */
  findMessage(id: string): StoredMessage | undefined {
    return this.messagesById.get(id) ?? this.messagesById.get(this.immutableIdByMutableId.get(id) ?? '');
  }

  messagesIn(folderId: string | null): StoredMessage[] {
    return [...this.messagesById.values()].filter((message) => folderId === null || message.folderId === folderId);
  }

  conversationIdOf(threadKey: string): string | undefined {
    return this.threadsByKey.get(threadKey)?.conversationId;
  }

  add(input: NewMessage): StoredMessage {
    this.messageCounter += 1;
    const immutableId = exchangeStyleId(IMMUTABLE_ID_PREFIX, `message:${this.address}:${this.messageCounter}`, 64);
    const thread = this.threadFor(input.thread, input.receivedAt);
    const conversationIndex = Buffer.concat([thread.indexHeader, this.childBlock(thread.messageCount)]).toString('base64');
    thread.messageCount += 1;
    const now = new Date();
    const message: StoredMessage = {
      immutableId,
      mutableId: '',
      folderId: this.folder(input.folder).id,
      raw: input.raw,
      content: input.content,
      attachments: input.content.attachments.map((attachment, index) => ({
        ...attachment,
        id: exchangeStyleId(MUTABLE_ID_PREFIX, `attachment:${immutableId}:${index}`, 52),
      })),
      receivedAt: input.receivedAt,
      createdAt: now,
      lastModifiedAt: now,
      conversationId: thread.conversationId,
      conversationIndex,
      isRead: input.isRead,
      isDraft: input.isDraft,
      version: 1,
    };
    this.messagesById.set(immutableId, message);
    this.assignMutableId(message);
    this.record(message.folderId, immutableId, 'upsert');
    return message;
  }

  move(message: StoredMessage, target: WellKnownFolder): void {
    const targetFolderId = this.folder(target).id;
    if (message.folderId === targetFolderId) return;
    this.record(message.folderId, message.immutableId, 'removed');
    this.immutableIdByMutableId.delete(message.mutableId);
    message.folderId = targetFolderId;
    this.assignMutableId(message);
    this.touch(message);
  }

  /** Hard delete (as after emptying Deleted Items): the message is gone from every id form. */
  remove(message: StoredMessage): void {
    this.messagesById.delete(message.immutableId);
    this.immutableIdByMutableId.delete(message.mutableId);
    this.record(message.folderId, message.immutableId, 'removed');
  }

  touch(message: StoredMessage): void {
    message.version += 1;
    message.lastModifiedAt = new Date();
    this.record(message.folderId, message.immutableId, 'upsert');
  }

  /** Net change per message in a folder after `sinceSeq`, in the order the last change happened. */
  changesSince(folderId: string, sinceSeq: number): { immutableId: string; kind: ChangeKind }[] {
    const latest = new Map<string, ChangeKind>();
    for (const change of this.changes) {
      if (change.seq <= sinceSeq || change.folderId !== folderId) continue;
      latest.delete(change.immutableId);
      latest.set(change.immutableId, change.kind);
    }
    return [...latest].map(([immutableId, kind]) => ({ immutableId, kind }));
  }

  private record(folderId: string, immutableId: string, kind: ChangeKind): void {
    this.mutationCounter += 1;
    this.changes.push({ seq: this.mutationCounter, folderId, immutableId, kind });
  }

  private assignMutableId(message: StoredMessage): void {
    this.mutationCounter += 1;
    message.mutableId = exchangeStyleId(
      MUTABLE_ID_PREFIX,
      `mutable:${message.immutableId}:${message.folderId}:${this.mutationCounter}`,
      64,
    );
    this.immutableIdByMutableId.set(message.mutableId, message.immutableId);
  }

  private threadFor(reference: NewMessage['thread'], firstReceivedAt: Date): Thread {
    const existing =
      'threadKey' in reference
        ? this.threadsByKey.get(reference.threadKey)
        : this.threadsByConversationId.get(reference.conversationId);
    if (existing) return existing;
    const seed = 'threadKey' in reference ? `thread:${this.address}:${reference.threadKey}` : `conv:${reference.conversationId}`;
    const guid = createHash('sha256').update(seed).digest().subarray(0, 16);
    // conversationIndex header: reserved byte, 5 bytes of FILETIME, 16-byte GUID (MS-OXOMSG 2.2.1.3).
    const filetime = (BigInt(firstReceivedAt.getTime()) + 11_644_473_600_000n) * 10_000n;
    const filetimeBytes = Buffer.alloc(8);
    filetimeBytes.writeBigUInt64BE(filetime);
    const thread: Thread = {
      conversationId:
        'conversationId' in reference ? reference.conversationId : exchangeStyleId(CONVERSATION_ID_PREFIX, seed, 41),
      indexHeader: Buffer.concat([Buffer.from([0x01]), filetimeBytes.subarray(0, 5), guid]),
      messageCount: 0,
    };
    if ('threadKey' in reference) this.threadsByKey.set(reference.threadKey, thread);
    this.threadsByConversationId.set(thread.conversationId, thread);
    return thread;
  }

  private childBlock(position: number): Buffer {
    return position === 0 ? Buffer.alloc(0) : Buffer.alloc(5 * position, position & 0xff);
  }
}
