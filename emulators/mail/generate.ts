/**
 * Deterministic mailbox generator shared by the Gmail and Graph emulators. The same options
 * always produce byte-identical raw messages, and `truth` states what a correct importer must
 * do with them (which messages are automated, which threads exist, what lies outside the window).
 */
import type { MailboxSeed, SeedMessage } from './types';
import { createRandom } from '../random';
import {
  CRLF,
  boundaryFor,
  buildRawMessage,
  renderMessage,
  renderMultipart,
  textPart,
  type MimePart,
} from './mime';

export { buildRawMessage } from './mime';
export type { RawAttachment, RawMessageInput } from './mime';

const DAY_MS = 86_400_000;

export interface MailboxMix {
  /** Fractions of `messages`; defaults in DEFAULT_MIX. */
  autoReplies?: number;
  bounces?: number;
  bulk?: number;
  /** Fraction of ordinary (human) messages carrying a base64 attachment. */
  attachments?: number;
  /** Fraction of ordinary messages with non-ASCII subject/body (encoded-words, UTF-8 bodies). */
  nonAscii?: number;
}

export interface GenerateMailboxOptions {
  seed: number;
  address: string;
  /** Total messages, including automated ones and those older than the window. */
  messages: number;
  /** Conversation threads formed by the ordinary in-window messages; default ≈ a third of them. */
  threads?: number;
  /** Import window; `receivedAt` of in-window mail is spread over the last `days` days. */
  days?: number;
  now?: Date;
  /** Number of distinct customer sender domains. */
  domains?: number;
  mix?: MailboxMix;
  /** How many of `messages` are older than the window (an importer must not import them). */
  olderThanWindow?: number;
}

export type GeneratedKind = 'ordinary' | 'auto-reply' | 'bounce' | 'bulk';

export interface GeneratedMessageFacts {
  /** Message-ID header value, with angle brackets. */
  messageId: string;
  threadKey: string;
  kind: GeneratedKind;
  fromAddress: string;
  senderDomain: string;
  subject: string;
  receivedAt: Date;
  insideWindow: boolean;
  hasAttachment: boolean;
}

export interface MailboxTruth {
  address: string;
  /** Messages received at or after this instant are inside the import window. */
  windowStart: Date;
  /** Everything generated, in `seed.messages` order. */
  messages: GeneratedMessageFacts[];
  /** Message-IDs of auto-replies, bounces and bulk mail together (SPEC I12). */
  automatedMessageIds: string[];
  autoReplyMessageIds: string[];
  bounceMessageIds: string[];
  bulkMessageIds: string[];
  attachmentMessageIds: string[];
  /** threadKey → Message-IDs of that thread, oldest first. */
  threads: Record<string, string[]>;
  /** Threads of ordinary in-window mail: what should become tickets under filterMode `all`. */
  ticketThreadKeys: string[];
  /** Customer domains used by ordinary mail, sorted. */
  senderDomains: string[];
  insideWindow: number;
  outsideWindow: number;
}

export const DEFAULT_MIX: Required<MailboxMix> = {
  autoReplies: 0.03,
  bounces: 0.02,
  bulk: 0.1,
  attachments: 0.1,
  nonAscii: 0.15,
};

const COMPANY_WORDS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'wonka', 'tyrell', 'cyberdyne', 'soylent', 'vandelay', 'oscorp', 'gringotts', 'monarch', 'aperture', 'duff', 'nakatomi', 'pied', 'massive'];
const TLDS = ['test', 'example', 'invalid'];
const FIRST_NAMES = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eva', 'Farid', 'Grace', 'Hiroshi', 'Ines', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Nora', 'Oskar', 'Priya', 'Quinn', 'Rósa', 'Sven', 'Tomás'];
const LAST_NAMES = ['Müller', 'Smith', 'Okafor', 'Tanaka', 'García', 'Novak', 'Brown', 'Dubois', 'Kowalski', 'Larsen', 'Silva', 'Chen'];
const TOPICS = ['Invoice question', 'Cannot log in', 'Order delayed', 'Feature request', 'Billing address change', 'Contract renewal', 'Bug in export', 'Onboarding help', 'Password reset not arriving', 'Refund request', 'Integration failing', 'Quote for 20 seats'];
const NON_ASCII_TOPICS = ['Grüße aus München – Rechnung', 'Problème de facturation, merci', 'Pedido atrasado — ¿novedades?', '請求書について', 'Заказ не пришёл', 'Café order ☕ missing'];
const BODY_LINES = ['Could you take a look when you have a moment?', 'We are blocked on this since yesterday.', 'Attached is the screenshot from our side.', 'Thanks in advance for your help.', 'Let me know if you need more details.', 'This affects three of our users.'];
const NON_ASCII_LINES = ['Vielen Dank für Ihre schnelle Antwort!', 'Merci beaucoup, c’est très urgent.', 'よろしくお願いいたします。', 'Спасибо заранее.'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** Fisher–Yates, so exact per-kind counts land on random positions. */
function shuffle<T>(random: () => number, items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other], items[index]];
  }
  return items;
}

function randomBytes(random: () => number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size + 3);
  for (let index = 0; index < size; index += 4) bytes.writeUInt32LE(Math.floor(random() * 4294967296), index);
  return bytes.subarray(0, size);
}

interface Participant {
  name: string;
  address: string;
  domain: string;
}

function buildBounce(options: { owner: string; reporter: string; failedRecipient: string; messageId: string; date: Date }): string {
  const explanation = textPart(
    'text/plain',
    `This is the mail system at host ${options.reporter.split('@')[1]}.${CRLF}${CRLF}` +
      `I'm sorry to have to inform you that your message could not be delivered to one or more recipients.${CRLF}${CRLF}` +
      `<${options.failedRecipient}>: host mx.${options.failedRecipient.split('@')[1]} said: 550 5.1.1 User unknown`,
    'quoted-printable',
  );
  const status: MimePart = {
    headers: ['Content-Type: message/delivery-status'],
    body: [
      `Reporting-MTA: dns; ${options.reporter.split('@')[1]}`,
      '',
      `Final-Recipient: rfc822; ${options.failedRecipient}`,
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
    ].join(CRLF),
  };
  const originalHeaders: MimePart = {
    headers: ['Content-Type: text/rfc822-headers'],
    body: [`From: ${options.owner}`, `To: ${options.failedRecipient}`, 'Subject: Following up on your request'].join(CRLF),
  };
  const report = renderMultipart(boundaryFor(options.messageId, 'report'), 'report', [explanation, status, originalHeaders], '; report-type=delivery-status');
  return renderMessage(
    {
      from: `Mail Delivery System <${options.reporter}>`,
      to: options.owner,
      subject: 'Undelivered Mail Returned to Sender',
      date: options.date,
      messageId: options.messageId,
    },
    report,
  );
}

/** Spreads `total` items over `buckets` buckets, each getting at least one. */
function distribute(random: () => number, total: number, buckets: number): number[] {
  const sizes = new Array<number>(buckets).fill(1);
  for (let remaining = total - buckets; remaining > 0; remaining -= 1) {
    // Squaring skews towards low indexes, so some threads get long like real conversations.
    sizes[Math.floor(random() ** 2 * buckets)] += 1;
  }
  return sizes;
}

export function generateMailbox(options: GenerateMailboxOptions): { seed: MailboxSeed; truth: MailboxTruth } {
  const random = createRandom(options.seed);
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const days = options.days ?? 30;
  const now = (options.now ?? new Date()).getTime();
  const windowStart = new Date(now - days * DAY_MS);
  const total = Math.max(0, Math.floor(options.messages));
  const olderCount = Math.min(total, options.olderThanWindow ?? 0);

  const autoReplyCount = Math.round(total * mix.autoReplies);
  const bounceCount = Math.round(total * mix.bounces);
  const bulkCount = Math.round(total * mix.bulk);
  const automatedCount = autoReplyCount + bounceCount + bulkCount;
  if (automatedCount + olderCount > total) {
    throw new Error(`mix (${automatedCount} automated) plus olderThanWindow (${olderCount}) exceeds messages (${total})`);
  }
  const ordinaryInWindow = total - automatedCount - olderCount;

  const domainCount = Math.max(1, options.domains ?? 20);
  const domains = Array.from({ length: domainCount }, (_, index) => {
    const word = COMPANY_WORDS[index % COMPANY_WORDS.length];
    const suffix = index < COMPANY_WORDS.length ? '' : String(Math.floor(index / COMPANY_WORDS.length));
    return `${word}${suffix}.${TLDS[index % TLDS.length]}`;
  });
  const seedTag = (options.seed >>> 0).toString(36);
  const randomPerson = (): Participant => {
    const domain = pick(random, domains);
    const first = pick(random, FIRST_NAMES);
    const last = pick(random, LAST_NAMES);
    const local = `${first}.${last}`.normalize('NFD').replace(/[^A-Za-z.]/g, '').toLowerCase();
    return { name: `${first} ${last}`, address: `${local}@${domain}`, domain };
  };
  const messageIdFor = (index: number, domain: string) => `<gen.${seedTag}.${index.toString(36)}@${domain}>`;
  const windowTime = () => now - Math.floor(random() * days * DAY_MS);

  const seedMessages: SeedMessage[] = [];
  const facts: GeneratedMessageFacts[] = [];
  const record = (raw: string, fact: GeneratedMessageFacts) => {
    seedMessages.push({ raw, receivedAt: fact.receivedAt, threadKey: fact.threadKey });
    facts.push(fact);
  };
  let messageIndex = 0;
  let threadIndex = 0;
  const newThreadKey = () => `thread-${seedTag}-${(threadIndex++).toString(36)}`;

  const writeOrdinary = (params: {
    sender: Participant;
    subject: string;
    nonAscii: boolean;
    receivedAt: Date;
    threadKey: string;
    previousIds: string[];
    withAttachment: boolean;
    insideWindow: boolean;
  }): string => {
    const messageId = messageIdFor(messageIndex++, params.sender.domain);
    const lines = [`Hi,`, '', pick(random, BODY_LINES), pick(random, BODY_LINES)];
    if (params.nonAscii) lines.push(pick(random, NON_ASCII_LINES));
    lines.push('', `Best regards,`, params.sender.name);
    const subject = params.previousIds.length ? `Re: ${params.subject}` : params.subject;
    const raw = buildRawMessage({
      from: `${params.sender.name} <${params.sender.address}>`,
      to: options.address,
      subject,
      body: lines.join('\n'),
      messageId,
      inReplyTo: params.previousIds.at(-1),
      references: params.previousIds.length ? params.previousIds : undefined,
      // Date: is set by the sender a little before the provider accepts the message.
      date: new Date(params.receivedAt.getTime() - Math.floor(random() * 120_000)),
      bodyEncoding: random() < 0.5 ? 'quoted-printable' : 'base64',
      attachments: params.withAttachment
        ? [{ filename: `report-${messageIndex}.pdf`, contentType: 'application/pdf', content: randomBytes(random, 512 + Math.floor(random() * 2048)) }]
        : undefined,
    });
    record(raw, {
      messageId,
      threadKey: params.threadKey,
      kind: 'ordinary',
      fromAddress: params.sender.address,
      senderDomain: params.sender.domain,
      subject,
      receivedAt: params.receivedAt,
      insideWindow: params.insideWindow,
      hasAttachment: params.withAttachment,
    });
    return messageId;
  };

  // Ordinary conversation threads inside the window.
  const threadCount = ordinaryInWindow === 0 ? 0 : Math.min(ordinaryInWindow, Math.max(1, options.threads ?? Math.ceil(ordinaryInWindow / 3)));
  const attachmentSlots = new Set(
    shuffle(random, Array.from({ length: ordinaryInWindow + olderCount }, (_, index) => index)).slice(
      0,
      Math.round((ordinaryInWindow + olderCount) * mix.attachments),
    ),
  );
  let ordinarySlot = 0;
  for (const size of threadCount ? distribute(random, ordinaryInWindow, threadCount) : []) {
    const threadKey = newThreadKey();
    const sender = randomPerson();
    const nonAscii = random() < mix.nonAscii;
    const subject = nonAscii ? pick(random, NON_ASCII_TOPICS) : `${pick(random, TOPICS)} #${threadIndex}`;
    const times = Array.from({ length: size }, windowTime).sort((a, b) => a - b);
    const previousIds: string[] = [];
    for (const time of times) {
      previousIds.push(
        writeOrdinary({
          sender,
          subject,
          nonAscii,
          receivedAt: new Date(time),
          threadKey,
          previousIds: [...previousIds],
          withAttachment: attachmentSlots.has(ordinarySlot++),
          insideWindow: true,
        }),
      );
    }
  }

  // Mail older than the window: single-message threads from the same customer domains.
  for (let index = 0; index < olderCount; index += 1) {
    const receivedAt = new Date(windowStart.getTime() - DAY_MS - Math.floor(random() * days * DAY_MS));
    writeOrdinary({
      sender: randomPerson(),
      subject: `${pick(random, TOPICS)} (old)`,
      nonAscii: false,
      receivedAt,
      threadKey: newThreadKey(),
      previousIds: [],
      withAttachment: attachmentSlots.has(ordinarySlot++),
      insideWindow: false,
    });
  }

  // Automated mail, each in its own thread, all inside the window so only I12 keeps it out.
  const automatedKinds = shuffle(random, [
    ...new Array<GeneratedKind>(autoReplyCount).fill('auto-reply'),
    ...new Array<GeneratedKind>(bounceCount).fill('bounce'),
    ...new Array<GeneratedKind>(bulkCount).fill('bulk'),
  ]);
  automatedKinds.forEach((kind, kindIndex) => {
    const receivedAt = new Date(windowTime());
    const threadKey = newThreadKey();
    const person = randomPerson();
    let raw: string;
    let fromAddress = person.address;
    let subject: string;
    const messageId = messageIdFor(messageIndex++, person.domain);
    if (kind === 'bounce') {
      fromAddress = `MAILER-DAEMON@${person.domain}`;
      subject = 'Undelivered Mail Returned to Sender';
      raw = buildBounce({ owner: options.address, reporter: fromAddress, failedRecipient: person.address, messageId, date: receivedAt });
    } else if (kind === 'auto-reply') {
      subject = `${kindIndex % 2 ? 'Out of Office' : 'Automatic reply'}: ${pick(random, TOPICS)}`;
      // Alternate the two marker conventions so a filter must recognise both.
      const headers: Record<string, string> = kindIndex % 2 ? { 'X-Autoreply': 'yes' } : { 'Auto-Submitted': 'auto-replied' };
      raw = buildRawMessage({
        from: `${person.name} <${person.address}>`,
        to: options.address,
        subject,
        body: `I am out of the office until next week with limited access to email.\n\n${person.name}`,
        messageId,
        date: receivedAt,
        headers,
      });
    } else {
      fromAddress = `newsletter@news.${person.domain}`;
      subject = `${person.domain} monthly update`;
      raw = buildRawMessage({
        from: `${person.domain} News <${fromAddress}>`,
        to: options.address,
        subject,
        body: `Here is what happened at ${person.domain} this month.\n\nUnsubscribe at any time.`,
        messageId,
        date: receivedAt,
        headers: {
          Precedence: kindIndex % 2 ? 'list' : 'bulk',
          'List-Id': `${person.domain} news <news.${person.domain}>`,
          'List-Unsubscribe': `<mailto:unsubscribe@news.${person.domain}>, <https://news.${person.domain}/unsubscribe>`,
        },
      });
    }
    record(raw, {
      messageId,
      threadKey,
      kind,
      fromAddress,
      senderDomain: fromAddress.split('@')[1],
      subject,
      receivedAt,
      insideWindow: true,
      hasAttachment: false,
    });
  });

  const idsOf = (predicate: (fact: GeneratedMessageFacts) => boolean) => facts.filter(predicate).map((fact) => fact.messageId);
  const threads: Record<string, string[]> = {};
  for (const fact of facts) (threads[fact.threadKey] ??= []).push(fact.messageId);
  const ticketThreadKeys = [...new Set(facts.filter((fact) => fact.kind === 'ordinary' && fact.insideWindow).map((fact) => fact.threadKey))];

  return {
    seed: { address: options.address, messages: seedMessages },
    truth: {
      address: options.address,
      windowStart,
      messages: facts,
      automatedMessageIds: idsOf((fact) => fact.kind !== 'ordinary'),
      autoReplyMessageIds: idsOf((fact) => fact.kind === 'auto-reply'),
      bounceMessageIds: idsOf((fact) => fact.kind === 'bounce'),
      bulkMessageIds: idsOf((fact) => fact.kind === 'bulk'),
      attachmentMessageIds: idsOf((fact) => fact.hasAttachment),
      threads,
      ticketThreadKeys,
      senderDomains: [...new Set(facts.filter((fact) => fact.kind === 'ordinary').map((fact) => fact.senderDomain))].sort(),
      insideWindow: facts.filter((fact) => fact.insideWindow).length,
      outsideWindow: facts.filter((fact) => !fact.insideWindow).length,
    },
  };
}

