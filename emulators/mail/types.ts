/**
 * The shape both mail emulators (Gmail, Graph) are seeded with, so one generated mailbox can be
 * served by either provider and the importer's counts can be compared across them.
 */
export interface SeedMessage {
  /** Full RFC 5322 message (CRLF line endings), exactly as a provider would return it raw. */
  raw: string;
  /** When the provider received it (Gmail internalDate, Graph receivedDateTime). */
  receivedAt: Date;
  /** Messages with the same key are one provider thread (Gmail threadId, Graph conversationId). */
  threadKey: string;
  /** Folder/label the message sits in; defaults to the inbox. */
  folder?: 'inbox' | 'sent';
}

export interface MailboxSeed {
  /** Mailbox owner address, e.g. agent@example.com */
  address: string;
  messages: SeedMessage[];
}
