/**
 * Small RFC 5322 / MIME writing helpers shared by the mailbox generator and tests that craft
 * single messages. Output always uses CRLF, because both Gmail `raw` and Graph `$value` return
 * messages that way and parsers downstream must cope with exactly that.
 */

export const CRLF = '\r\n';

export type TransferEncoding = 'quoted-printable' | 'base64';

export interface RawAttachment {
  filename: string;
  contentType: string;
  content: Buffer | string;
}

export interface RawMessageInput {
  /** Formatted address, e.g. `Ana <ana@acme.test>`; non-ASCII display names are encoded. */
  from: string;
  to: string;
  subject: string;
  /** Plain-text body; an HTML alternative is derived from it unless `html` is given. */
  body: string;
  html?: string;
  /** With or without angle brackets. */
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  date: Date;
  /** Extra headers, written after the standard ones in insertion order. */
  headers?: Record<string, string>;
  attachments?: RawAttachment[];
  /** Encoding of the text and HTML parts; quoted-printable unless stated. */
  bodyEncoding?: TransferEncoding;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in UTC with a numeric zone (`toUTCString` emits the obsolete `GMT`). */
export function formatRfc5322Date(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${WEEKDAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

export function angleBracketed(messageId: string): string {
  return messageId.startsWith('<') ? messageId : `<${messageId}>`;
}

function isAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** RFC 2047 B-encoding, only when needed; chunks stay below the 75-char encoded-word limit. */
export function encodeHeaderWord(text: string): string {
  if (isAscii(text)) return text;
  const words: string[] = [];
  let chunk = '';
  for (const character of text) {
    if (Buffer.byteLength(chunk + character, 'utf8') > 42) {
      words.push(chunk);
      chunk = '';
    }
    chunk += character;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join(`${CRLF} `);
}

/** Encodes the display name of `Name <addr>` when it is not ASCII. */
export function encodeAddress(address: string): string {
  const match = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(address);
  if (!match || isAscii(match[1])) return address;
  return `${encodeHeaderWord(match[1])} <${match[2]}>`;
}

/** Quoted-printable (RFC 2045 §6.7) over UTF-8 bytes, with CRLF hard breaks and soft breaks at 76. */
export function encodeQuotedPrintable(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      const escaped = Buffer.from(line, 'utf8')
        .toString('latin1')
        .replace(/[^\x20\x21-\x3c\x3e-\x7e\t]/g, (byte) => `=${byte.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
        // Trailing whitespace would be stripped in transit, so it is encoded.
        .replace(/[ \t]$/, (space) => (space === ' ' ? '=20' : '=09'));
      if (escaped.length <= 76) return escaped;
      const chunks: string[] = [];
      let start = 0;
      while (escaped.length - start > 76) {
        let end = start + 75;
        // Never split an =XX escape across a soft line break.
        if (escaped[end - 1] === '=') end -= 1;
        else if (escaped[end - 2] === '=') end -= 2;
        chunks.push(`${escaped.slice(start, end)}=`);
        start = end;
      }
      chunks.push(escaped.slice(start));
      return chunks.join(CRLF);
    })
    .join(CRLF);
}

export function encodeBase64Lines(content: Buffer | string): string {
  const base64 = (typeof content === 'string' ? Buffer.from(content, 'utf8') : content).toString('base64');
  const lines: string[] = [];
  for (let offset = 0; offset < base64.length; offset += 76) lines.push(base64.slice(offset, offset + 76));
  return lines.join(CRLF);
}

function encodeBody(text: string, encoding: TransferEncoding): string {
  // RFC 2045 canonical text form uses CRLF line breaks, also inside base64.
  return encoding === 'base64' ? encodeBase64Lines(text.replace(/\r?\n/g, CRLF)) : encodeQuotedPrintable(text);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function textToHtml(text: string): string {
  const paragraphs = text.split(/\r?\n\r?\n/).map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\r?\n/g, '<br>')}</p>`);
  return `<html><head><meta charset="utf-8"></head><body>${paragraphs.join('')}</body></html>`;
}

/** Folds a list header (References) so no line passes the 78-character recommendation. */
export function foldIdList(name: string, ids: string[]): string {
  let header = `${name}:`;
  let lineLength = header.length;
  for (const id of ids) {
    if (lineLength + id.length + 1 > 78 && lineLength > name.length + 1) {
      header += `${CRLF} ${id}`;
      lineLength = id.length + 1;
    } else {
      header += ` ${id}`;
      lineLength += id.length + 1;
    }
  }
  return header;
}

/** A MIME part as header lines plus an already-encoded body. */
export interface MimePart {
  headers: string[];
  body: string;
}

/**
 * Boundaries derive from the message's Message-ID, so output stays deterministic and unique per
 * message; `=_` can occur in neither base64 nor the generator's quoted-printable text.
 */
export function boundaryFor(messageId: string, subtype: string): string {
  return `----=_${subtype}_${messageId.replace(/[^A-Za-z0-9.]/g, '')}`;
}

export function renderMultipart(boundary: string, subtype: string, parts: MimePart[], extraContentType = ''): MimePart {
  const body = parts
    .map((part) => `--${boundary}${CRLF}${part.headers.join(CRLF)}${CRLF}${CRLF}${part.body}${CRLF}`)
    .join('');
  return {
    headers: [`Content-Type: multipart/${subtype}; boundary="${boundary}"${extraContentType}`],
    body: `${body}--${boundary}--`,
  };
}

export function textPart(mimeType: 'text/plain' | 'text/html', text: string, encoding: TransferEncoding): MimePart {
  return {
    headers: [`Content-Type: ${mimeType}; charset="UTF-8"`, `Content-Transfer-Encoding: ${encoding}`],
    body: encodeBody(text, encoding),
  };
}

export function attachmentPart(attachment: RawAttachment): MimePart {
  return {
    headers: [
      `Content-Type: ${attachment.contentType}; name="${attachment.filename}"`,
      `Content-Disposition: attachment; filename="${attachment.filename}"`,
      'Content-Transfer-Encoding: base64',
    ],
    body: encodeBase64Lines(attachment.content),
  };
}

export interface EnvelopeHeaders {
  from: string;
  to: string;
  subject: string;
  date: Date;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
}

/** Writes top-level headers followed by a root MIME part. */
export function renderMessage(envelope: EnvelopeHeaders, root: MimePart): string {
  const lines = [
    `From: ${encodeAddress(envelope.from)}`,
    `To: ${encodeAddress(envelope.to)}`,
    `Subject: ${encodeHeaderWord(envelope.subject)}`,
    `Date: ${formatRfc5322Date(envelope.date)}`,
    `Message-ID: ${angleBracketed(envelope.messageId)}`,
  ];
  if (envelope.inReplyTo) lines.push(`In-Reply-To: ${angleBracketed(envelope.inReplyTo)}`);
  if (envelope.references?.length) lines.push(foldIdList('References', envelope.references.map(angleBracketed)));
  for (const [name, value] of Object.entries(envelope.headers ?? {})) lines.push(`${name}: ${value}`);
  lines.push('MIME-Version: 1.0', ...root.headers);
  return `${lines.join(CRLF)}${CRLF}${CRLF}${root.body}${CRLF}`;
}

/**
 * One RFC 5322 message: multipart/alternative (text + HTML), wrapped in multipart/mixed when
 * there are attachments.
 */
export function buildRawMessage(input: RawMessageInput): string {
  const encoding = input.bodyEncoding ?? 'quoted-printable';
  const alternative = renderMultipart(boundaryFor(input.messageId, 'alt'), 'alternative', [
    textPart('text/plain', input.body, encoding),
    textPart('text/html', input.html ?? textToHtml(input.body), encoding),
  ]);
  const root = input.attachments?.length
    ? renderMultipart(boundaryFor(input.messageId, 'mixed'), 'mixed', [alternative, ...input.attachments.map(attachmentPart)])
    : alternative;
  return renderMessage(input, root);
}
