import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';

export interface GraphRecipient {
  emailAddress: { name: string; address: string };
}

export interface GraphHeader {
  name: string;
  value: string;
}

export interface GraphFileAttachment {
  '@odata.type': '#microsoft.graph.fileAttachment';
  id: string;
  name: string;
  contentType: string;
  size: number;
  isInline: boolean;
  contentId: string | null;
  contentBytes: string;
}

/** Everything Graph derives from the MIME itself; mailbox state (ids, folder, flags) lives elsewhere. */
export interface MessageContent {
  internetMessageId: string;
  subject: string;
  from: GraphRecipient | null;
  sender: GraphRecipient | null;
  toRecipients: GraphRecipient[];
  ccRecipients: GraphRecipient[];
  bccRecipients: GraphRecipient[];
  replyTo: GraphRecipient[];
  sentDateTime: string | null;
  htmlBody: string;
  textBody: string;
  bodyPreview: string;
  internetMessageHeaders: GraphHeader[];
  references: string[];
  /** Attachment ids are filled in by the mailbox, which knows the message id. */
  attachments: Omit<GraphFileAttachment, 'id'>[];
  hasAttachments: boolean;
}

/** Graph writes instants without milliseconds: `2026-08-01T10:00:00Z`. */
export function graphDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function recipients(field: AddressObject | AddressObject[] | undefined): GraphRecipient[] {
  const groups = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return groups
    .flatMap((group) => group.value)
    .filter((entry) => entry.address)
    .map((entry) => ({ emailAddress: { name: entry.name || entry.address || '', address: entry.address ?? '' } }));
}

/** Header values are reported as they appear on the wire, only unfolded (encoded-words stay encoded). */
function rawHeaders(parsed: ParsedMail): GraphHeader[] {
  return parsed.headerLines.map(({ line }) => {
    const colon = line.indexOf(':');
    return { name: line.slice(0, colon).trim(), value: line.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim() };
  });
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Exchange stores plain-text mail as HTML when asked for the HTML body. */
function textAsOutlookHtml(text: string): string {
  const lines = escapeHtml(text).split(/\r?\n/).join('<br>\r\n');
  return `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n<body>\r\n<div>${lines}</div>\r\n</body>\r\n</html>\r\n`;
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|tr|li|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .trim();
}

const BODY_PREVIEW_LENGTH = 255;

export async function parseMessageContent(raw: string): Promise<MessageContent> {
  const parsed = await simpleParser(raw);
  const from = recipients(parsed.from)[0] ?? null;
  const senderHeader = parsed.headers.get('sender') as AddressObject | undefined;
  const textBody = parsed.text ?? (parsed.html ? htmlToText(parsed.html) : '');
  const htmlBody = parsed.html || textAsOutlookHtml(textBody);
  const attachments = parsed.attachments.map((attachment) => ({
    '@odata.type': '#microsoft.graph.fileAttachment' as const,
    name: attachment.filename ?? 'attachment',
    contentType: attachment.contentType,
    size: attachment.size,
    isInline: attachment.contentDisposition === 'inline' || Boolean(attachment.related),
    contentId: attachment.cid ?? null,
    contentBytes: attachment.content.toString('base64'),
  }));
  const references = parsed.references === undefined ? [] : [parsed.references].flat();
  return {
    internetMessageId: parsed.messageId ?? '',
    subject: parsed.subject ?? '',
    from,
    sender: recipients(senderHeader)[0] ?? from,
    toRecipients: recipients(parsed.to),
    ccRecipients: recipients(parsed.cc),
    bccRecipients: recipients(parsed.bcc),
    replyTo: recipients(parsed.replyTo),
    sentDateTime: parsed.date ? graphDateTime(parsed.date) : null,
    htmlBody,
    textBody,
    bodyPreview: textBody.replace(/\s+/g, ' ').trim().slice(0, BODY_PREVIEW_LENGTH),
    internetMessageHeaders: rawHeaders(parsed),
    references,
    attachments,
    // Graph's hasAttachments ignores inline-only attachments (message resource docs).
    hasAttachments: attachments.some((attachment) => !attachment.isInline),
  };
}
