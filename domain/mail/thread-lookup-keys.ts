import { normaliseMessageId } from './message-ids';
import type { ParsedMail } from './parse-raw-message';

/**
 * Tagged so a store can look each kind up in its own index: a provider thread id and a msg-id
 * are different namespaces even when the strings happen to look alike.
 */
export type ThreadLookupKey =
  | { kind: 'provider-thread'; id: string }
  | { kind: 'message-id'; id: string };

/**
 * I6: the keys to find the ticket an email belongs to, most reliable first. The provider's own
 * thread (Gmail threadId, Graph conversationId) comes first; then the direct parent(s) from
 * In-Reply-To; then References from newest to oldest, because RFC 5322 lists them oldest first and
 * the nearest ancestor is the likeliest to be on a ticket. The message's own id is left out: finding
 * it means the same email again, which is duplicate detection, not threading.
 */
export function threadLookupKeys(
  mail: Pick<ParsedMail, 'messageId' | 'inReplyTo' | 'references'>,
  providerThreadId: string | null | undefined,
): ThreadLookupKey[] {
  const keys: ThreadLookupKey[] = [];
  const providerThread = providerThreadId?.trim();
  if (providerThread) {
    keys.push({ kind: 'provider-thread', id: providerThread });
  }
  const ownId = mail.messageId === undefined ? undefined : normaliseMessageId(mail.messageId);
  const seen = new Set<string>();
  for (const raw of [...mail.inReplyTo, ...[...mail.references].reverse()]) {
    const id = normaliseMessageId(raw);
    if (id !== undefined && id !== ownId && !seen.has(id)) {
      seen.add(id);
      keys.push({ kind: 'message-id', id });
    }
  }
  return keys;
}
