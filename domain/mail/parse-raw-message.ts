import { isUtf8 } from 'node:buffer';
import { simpleParser, type AddressObject, type EmailAddress, type HeaderLines } from 'mailparser';
import { messageIdsIn } from './message-ids';

export interface MailAddress {
  /** Lower-cased: mailbox local parts are case-sensitive in theory, never in the providers we import from. */
  address: string;
  name: string;
}

/** Attachment metadata only: content is fetched from the provider when a ticket needs it. */
export interface MailAttachment {
  filename?: string;
  contentType: string;
  size: number;
  contentId?: string;
  /** Shown in the body (inline disposition or referenced by a `cid:` link) rather than listed as a file. */
  inline: boolean;
}

/** Headers the import rules read (I12), kept as raw unfolded text of their first occurrence. */
export const RULE_HEADER_NAMES = [
  'auto-submitted',
  'precedence',
  'list-id',
  'list-unsubscribe',
  'x-autoreply',
  'x-autorespond',
  'x-auto-response-suppress',
  'x-failed-recipients',
  'content-type',
  'return-path',
] as const;
export type RuleHeaderName = (typeof RULE_HEADER_NAMES)[number];
export type RuleHeaders = Partial<Record<RuleHeaderName, string>>;

export interface ContentType {
  /** Lower-cased `type/subtype`. */
  mimeType: string;
  /** Lower-cased `report-type` parameter of a `multipart/report` (RFC 6522). */
  reportType?: string;
}

/**
 * A provider-independent view of one email. A field the message lacks, or that could not be
 * parsed, is undefined (lists are empty); nothing here ever holds attachment content.
 */
export interface ParsedMail {
  messageId?: string;
  /** RFC 5322 allows several parents; usually there is one. */
  inReplyTo: string[];
  /** Oldest first, as written (RFC 5322 §3.6.4). */
  references: string[];
  from?: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  replyTo: MailAddress[];
  subject?: string;
  date?: Date;
  text?: string;
  /** Unsanitised, exactly as sent; `cid:` links are left in place. */
  html?: string;
  attachments: MailAttachment[];
  headers: RuleHeaders;
  contentType?: ContentType;
}

function emptyMail(): ParsedMail {
  return { inReplyTo: [], references: [], to: [], cc: [], replyTo: [], attachments: [], headers: {} };
}

/**
 * Parses a raw RFC 5322 message (Gmail `format=raw`, Graph `/$value`). Never rejects: mail that
 * mailparser cannot read at all yields an empty ParsedMail, so one broken message cannot stall an
 * import.
 */
export async function parseRawMessage(raw: Buffer | string): Promise<ParsedMail> {
  try {
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    const parsed = await simpleParser(withUtf8HeaderBlock(bytes), {
      // Keeps `cid:` links instead of inlining image bytes as data: URIs into the html.
      keepCidLinks: true,
      // Only html that was actually sent; mailparser would otherwise synthesise it from the text.
      skipTextToHtml: true,
    });
    const rawHeaders = firstHeaderValues(parsed.headerLines);
    const contentTypeHeader = rawHeaders.get('content-type');
    return {
      messageId: messageIdsIn(rawHeaders.get('message-id'))[0],
      inReplyTo: messageIdsIn(rawHeaders.get('in-reply-to')),
      references: messageIdsIn(rawHeaders.get('references')),
      from: addressesOf(parsed.from)[0],
      to: addressesOf(parsed.to),
      cc: addressesOf(parsed.cc),
      replyTo: addressesOf(parsed.replyTo),
      subject: parsed.subject,
      date: parsed.date !== undefined && !Number.isNaN(parsed.date.getTime()) ? parsed.date : undefined,
      text: parsed.text,
      html: typeof parsed.html === 'string' ? parsed.html : undefined,
      attachments: parsed.attachments.map((attachment) => ({
        filename: attachment.filename,
        contentType: attachment.contentType,
        size: attachment.size,
        contentId: attachment.cid,
        inline: attachment.related || attachment.contentDisposition === 'inline',
      })),
      headers: Object.fromEntries(
        RULE_HEADER_NAMES.flatMap((name) => {
          const value = rawHeaders.get(name);
          return value === undefined ? [] : [[name, value]];
        }),
      ),
      contentType: contentTypeHeader === undefined ? undefined : parseContentType(contentTypeHeader),
    };
  } catch {
    return emptyMail();
  }
}

/**
 * RFC 6532 allows raw UTF-8 in headers, but older clients wrote raw bytes in their local charset
 * instead (Outlook 2000 sent ISO-8859-1 names and subjects), which mailparser turns into U+FFFD.
 * A header block that is not valid UTF-8 is re-read as windows-1252, the superset of ISO-8859-1
 * those clients meant; bodies are untouched because they declare their own charset.
 */
function withUtf8HeaderBlock(raw: Buffer): Buffer {
  const blankLine = [raw.indexOf('\n\r\n'), raw.indexOf('\n\n')].filter((index) => index >= 0);
  const headerEnd = blankLine.length > 0 ? Math.min(...blankLine) : raw.length;
  const headerBytes = raw.subarray(0, headerEnd);
  if (isUtf8(headerBytes)) {
    return raw;
  }
  const headerText = new TextDecoder('windows-1252').decode(headerBytes);
  return Buffer.concat([Buffer.from(headerText, 'utf8'), raw.subarray(headerEnd)]);
}

/**
 * Raw, unfolded value of the first occurrence of each header. The first is the one the final
 * receiving MTA wrote, which matters for Return-Path: copies further down came along with
 * forwarded or resent mail.
 */
function firstHeaderValues(headerLines: HeaderLines): Map<string, string> {
  const values = new Map<string, string>();
  for (const { key, line } of headerLines) {
    const name = key.toLowerCase();
    if (!values.has(name)) {
      const colon = line.indexOf(':');
      // RFC 5322 §2.2.3 unfolding: only the line breaks go, the whitespace after them stays.
      values.set(name, line.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').trim());
    }
  }
  return values;
}

function addressesOf(header: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const objects = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return objects.flatMap((object) => object.value.flatMap(flattenGroup));
}

function flattenGroup(entry: EmailAddress): MailAddress[] {
  if (entry.group !== undefined) {
    return entry.group.flatMap(flattenGroup);
  }
  const address = entry.address?.trim().toLowerCase() ?? '';
  return address === '' ? [] : [{ address, name: entry.name.trim() }];
}

function parseContentType(value: string): ContentType {
  const [mediaType = ''] = value.split(';');
  const reportType = /;\s*report-type\s*=\s*"?([^";\s]+)/i.exec(value)?.[1];
  return { mimeType: mediaType.trim().toLowerCase(), reportType: reportType?.toLowerCase() };
}
