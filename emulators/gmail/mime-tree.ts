/**
 * Turns a raw RFC 5322 message into Gmail's `MessagePart` tree (format=full/metadata).
 * Deliberately independent of mailparser: the emulator must show what Gmail shows (raw structure,
 * part ids, transfer-decoded bodies), not what a convenience parser makes of it.
 */

export interface GmailHeader {
  name: string;
  value: string;
}

export interface GmailMessagePartBody {
  size: number;
  data?: string;
  attachmentId?: string;
}

export interface GmailMessagePart {
  partId: string;
  mimeType: string;
  filename: string;
  headers: GmailHeader[];
  body: GmailMessagePartBody;
  parts?: GmailMessagePart[];
}

/** A leaf's decoded bytes, kept so attachments.get can serve them by id. */
export interface ParsedAttachment {
  attachmentId: string;
  partId: string;
  data: Buffer;
}

export interface ParsedMessage {
  payload: GmailMessagePart;
  attachments: ParsedAttachment[];
  /** Decoded first text/plain part (or stripped HTML), for the snippet. */
  text: string;
}

export function toBase64Url(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

/** Splits header block and body at the first empty line (CRLF or bare LF tolerated). */
function splitEntity(entity: string): { headerBlock: string; body: string } {
  const match = /\r?\n\r?\n/.exec(entity);
  if (!match) return { headerBlock: entity, body: '' };
  return { headerBlock: entity.slice(0, match.index), body: entity.slice(match.index + match[0].length) };
}

/** Unfolds continuation lines; values are kept exactly as written (still RFC 2047-encoded). */
export function parseHeaderBlock(headerBlock: string): GmailHeader[] {
  const headers: GmailHeader[] = [];
  for (const line of headerBlock.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1].value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return headers;
}

function decodeCharset(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** RFC 2047 decoding; Gmail returns header values decoded in payload.headers. */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?[^?]+\?[bBqQ]\?)/g, '$1')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, charset: string, encoding: string, text: string) => {
      const bytes =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (__, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              'latin1',
            );
      return decodeCharset(bytes, charset);
    });
}

export function headerValue(headers: GmailHeader[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((header) => header.name.toLowerCase() === lower)?.value;
}

interface ContentType {
  mimeType: string;
  params: Record<string, string>;
}

function parseParameterised(value: string | undefined): ContentType {
  if (!value) return { mimeType: '', params: {} };
  const [type, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const parameter of rest) {
    const equals = parameter.indexOf('=');
    if (equals < 0) continue;
    params[parameter.slice(0, equals).trim().toLowerCase()] = parameter.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { mimeType: type.trim().toLowerCase(), params };
}

function decodeTransfer(body: string, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64');
    case 'quoted-printable':
      return Buffer.from(
        body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      );
    default:
      return Buffer.from(body, 'latin1');
  }
}

function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  const lines = body.split(/\r?\n/);
  let current: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `${delimiter}--`) break;
    if (trimmed === delimiter) {
      if (current) parts.push(current.join('\r\n'));
      current = [];
    } else if (current) {
      current.push(line);
    }
  }
  if (current) parts.push(current.join('\r\n'));
  return parts;
}

function stripHtml(html: string): string {
  return html.replace(/<(style|script)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ');
}

/**
 * @param raw whole message as a latin1 string (one char per byte) so 8-bit bodies survive
 * @param messageId used to derive stable attachment ids
 */
export function parseMessage(raw: string, messageId: string): ParsedMessage {
  const attachments: ParsedAttachment[] = [];
  let plainText: string | undefined;
  let htmlText: string | undefined;

  const visit = (entity: string, partId: string, parentMultipart: string | undefined): GmailMessagePart => {
    const { headerBlock, body } = splitEntity(entity);
    const rawHeaders = parseHeaderBlock(headerBlock);
    const headers = rawHeaders.map((header) => ({ name: header.name, value: decodeEncodedWords(decodeCharset(Buffer.from(header.value, 'latin1'), 'utf-8')) }));
    const contentType = parseParameterised(headerValue(rawHeaders, 'Content-Type'));
    // RFC 2046 §5.1.5: parts of multipart/digest default to message/rfc822, everything else to text/plain.
    const mimeType = contentType.mimeType || (parentMultipart === 'multipart/digest' ? 'message/rfc822' : 'text/plain');
    const disposition = parseParameterised(headerValue(rawHeaders, 'Content-Disposition'));
    const filename = decodeEncodedWords(disposition.params.filename ?? contentType.params.name ?? '');

    if (mimeType.startsWith('multipart/') && contentType.params.boundary) {
      const children = splitMultipart(body, contentType.params.boundary).map((child, index) =>
        visit(child, partId === '' ? String(index) : `${partId}.${index}`, mimeType),
      );
      return { partId, mimeType, filename, headers, body: { size: 0 }, parts: children };
    }

    const data = decodeTransfer(body, headerValue(rawHeaders, 'Content-Transfer-Encoding'));
    if (filename) {
      const attachmentId = toBase64Url(`${messageId}:${partId}`);
      attachments.push({ attachmentId, partId, data });
      return { partId, mimeType, filename, headers, body: { attachmentId, size: data.length } };
    }
    if (mimeType === 'text/plain' && plainText === undefined) plainText = decodeCharset(data, contentType.params.charset ?? 'utf-8');
    if (mimeType === 'text/html' && htmlText === undefined) htmlText = stripHtml(decodeCharset(data, contentType.params.charset ?? 'utf-8'));
    return { partId, mimeType, filename, headers, body: { size: data.length, data: toBase64Url(data) } };
  };

  const payload = visit(raw, '', undefined);
  return { payload, attachments, text: plainText ?? htmlText ?? '' };
}

/** Gmail snippets: whitespace collapsed, about 200 characters, HTML-escaped. */
export function snippetOf(text: string): string {
  const collapsed = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return collapsed.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
