import crypto from 'node:crypto';

export interface MailAddress {
  address: string;
  name?: string | null;
}

export interface OutgoingMime {
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  subject: string;
  text: string;
  date: Date;
  /** Message-IDs without angle brackets. */
  messageId: string;
  inReplyTo?: string;
  references?: string[];
}

const CRLF = '\r\n';

/** A Message-ID of our own, in the mailbox's domain so it reads like the mailbox's other mail. */
export function newMessageId(mailboxAddress: string): string {
  const domain = mailboxAddress.split('@')[1] || 'deskbridge.invalid';
  return `deskbridge.${crypto.randomBytes(12).toString('hex')}@${domain}`;
}

/** Header values never carry line breaks: a client-supplied CR/LF would inject headers. */
const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ').trim();

/** RFC 2047 encoded-word (base64) for anything that is not plain printable ASCII. */
function encodeWord(value: string): string {
  const clean = oneLine(value);
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

function encodeAddress(a: MailAddress): string {
  const address = oneLine(a.address);
  if (!a.name) return address;
  const name = oneLine(a.name);
  const display = /^[\x20-\x7e]*$/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : encodeWord(name);
  return `${display} <${address}>`;
}

/** RFC 5322 §3.3 date-time in UTC. */
function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Long id lists are folded (RFC 5322 §2.2.3) so no header line exceeds 998 octets. */
function foldedIds(name: string, ids: string[]): string {
  return `${name}: ${ids.map((id) => `<${id}>`).join(`${CRLF} `)}`;
}

/**
 * One text/plain RFC 5322 message (UTF-8, base64 body), with the headers that keep a reply in
 * its thread at every mail client: In-Reply-To names the message answered, References its
 * chain plus that message.
 */
export function buildOutgoingMime(mail: OutgoingMime): string {
  const headers = [
    `From: ${encodeAddress(mail.from)}`,
    `To: ${mail.to.map(encodeAddress).join(', ')}`,
    ...(mail.cc.length ? [`Cc: ${mail.cc.map(encodeAddress).join(', ')}`] : []),
    `Subject: ${encodeWord(mail.subject)}`,
    `Date: ${rfc5322Date(mail.date)}`,
    `Message-ID: <${oneLine(mail.messageId)}>`,
    ...(mail.inReplyTo ? [`In-Reply-To: <${oneLine(mail.inReplyTo)}>`] : []),
    ...(mail.references?.length ? [foldedIds('References', mail.references.map(oneLine))] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
  ];
  const body = Buffer.from(mail.text.replace(/\r?\n/g, CRLF), 'utf8').toString('base64').replace(/.{76}/g, `$&${CRLF}`);
  return `${headers.join(CRLF)}${CRLF}${CRLF}${body}${CRLF}`;
}

/** `Re: subject`, without stacking prefixes. */
export function replySubject(subject: string): string {
  return /^re:/i.test(subject.trim()) ? subject.trim() : `Re: ${subject.trim()}`;
}

export function forwardSubject(subject: string): string {
  return `Fwd: ${subject.trim().replace(/^(fwd?|fw):\s*/i, '')}`;
}
