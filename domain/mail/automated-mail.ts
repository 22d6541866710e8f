import type { ParsedMail } from './parse-raw-message';

export type AutomatedMailReason = 'auto-reply' | 'bounce' | 'bulk';

/**
 * Why a message is machine-sent and must never become a ticket (I12), or null for mail a person
 * wrote. Bounces are tested first because delivery reports usually also carry Auto-Submitted;
 * bulk comes last because a list can relay an auto-reply and the more specific reason wins.
 */
export function automatedMailReason(
  mail: Pick<ParsedMail, 'from' | 'subject' | 'headers' | 'contentType'>,
): AutomatedMailReason | null {
  if (isBounce(mail)) {
    return 'bounce';
  }
  if (isAutoReply(mail)) {
    return 'auto-reply';
  }
  if (isBulk(mail)) {
    return 'bulk';
  }
  // RFC 3834 §3.3 has auto-responders send from the null reverse-path too, so an empty
  // Return-Path with no other mark is read as a bounce only once auto-replies are ruled out.
  if (hasNullReturnPath(mail)) {
    return 'bounce';
  }
  return null;
}

const BOUNCE_SENDER_LOCAL_PARTS = new Set(['mailer-daemon', 'postmaster']);

function isBounce({ from, headers, contentType }: Pick<ParsedMail, 'from' | 'headers' | 'contentType'>): boolean {
  // RFC 3464 delivery status notifications travel as multipart/report (RFC 6522).
  if (contentType?.mimeType === 'multipart/report' && contentType.reportType === 'delivery-status') {
    return true;
  }
  // Exim and Gmail name the failed addresses here, also on plain-text bounces without a DSN part.
  if (headers['x-failed-recipients'] !== undefined) {
    return true;
  }
  const localPart = from?.address.split('@')[0];
  return localPart !== undefined && BOUNCE_SENDER_LOCAL_PARTS.has(localPart);
}

/** Exchange and common clients; matched only as corroboration of X-Auto-Response-Suppress. */
const AUTO_REPLY_SUBJECT =
  /^\s*(automatic reply|auto[- ]?reply|out of (the )?office( autoreply)?|automatische antwort|réponse automatique|respuesta automática|risposta automatica|autosvar)\s*:/i;

function isAutoReply({ subject, headers, contentType }: Pick<ParsedMail, 'subject' | 'headers' | 'contentType'>): boolean {
  // RFC 3834 §5: any Auto-Submitted value other than `no` marks mail sent by a program. The
  // keyword may carry parameters or a comment (`auto-generated (warning-timeout)`).
  const autoSubmitted = firstToken(headers['auto-submitted']);
  if (autoSubmitted !== undefined && autoSubmitted !== 'no') {
    return true;
  }
  // Vendor headers older than RFC 3834 (Exim, qmail/vacation, many helpdesks).
  if (isSetAndNotNo(headers['x-autoreply']) || headers['x-autorespond'] !== undefined) {
    return true;
  }
  if (firstToken(headers.precedence) === 'auto_reply') {
    return true;
  }
  // RFC 8098 read receipts answer a message automatically, like an auto-reply.
  if (contentType?.mimeType === 'multipart/report' && contentType.reportType === 'disposition-notification') {
    return true;
  }
  // X-Auto-Response-Suppress asks the *recipient* not to auto-answer ([MS-OXCMAIL] 2.1.3.2.20);
  // Outlook, Symfony, Django apps and ticket systems put it on ordinary person-written mail, so on
  // its own it proves nothing. Exchange out-of-office replies carry All/OOF together with an
  // auto-reply subject, and only that combination is taken as a signal.
  const suppressed = headers['x-auto-response-suppress']?.toLowerCase() ?? '';
  return /\b(all|oof)\b/.test(suppressed) && AUTO_REPLY_SUBJECT.test(subject ?? '');
}

const BULK_PRECEDENCE = new Set(['bulk', 'junk', 'list']);

function isBulk({ headers }: Pick<ParsedMail, 'headers'>): boolean {
  // Precedence is not standardised (RFC 2076 lists it as non-standard) but is what list servers
  // and bulk senders write; RFC 2919 List-Id and RFC 2369 List-Unsubscribe name list and bulk mail.
  const precedence = firstToken(headers.precedence);
  return (
    (precedence !== undefined && BULK_PRECEDENCE.has(precedence)) ||
    headers['list-id'] !== undefined ||
    headers['list-unsubscribe'] !== undefined
  );
}

function hasNullReturnPath({ headers }: Pick<ParsedMail, 'headers'>): boolean {
  // RFC 5321 §4.5.5 null reverse-path; IIS SMTP writes it doubled as `<<>>`.
  const returnPath = headers['return-path']?.replace(/\s+/g, '');
  return returnPath !== undefined && /^<+>+$/.test(returnPath);
}

/** Lower-cased keyword before any parameter or comment, or undefined for an absent/empty value. */
function firstToken(value: string | undefined): string | undefined {
  const token = value?.split(/[;(\s]/)[0]?.trim().toLowerCase();
  return token === undefined || token === '' ? undefined : token;
}

function isSetAndNotNo(value: string | undefined): boolean {
  return value !== undefined && firstToken(value) !== 'no';
}
