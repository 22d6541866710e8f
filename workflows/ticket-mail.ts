import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { TicketMailActivities } from '../activities/mail/ticket-mail-activities';

export interface TicketMailInput {
  mailId: string;
  siteId: string;
  inboxId: string;
  ticketId: string;
}

export type TicketMailResult = { state: 'sent'; ticketMessageId: string; providerMessageId: string } | { state: 'failed'; failure: { type: string; message: string } };

/** Provider outages and rate limits are waited out for hours; a refusal (revoked consent, gone message) is final. */
const { sendTicketMail } = proxyActivities<TicketMailActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 40 },
});
const { recordTicketMailSent, failTicketMail } = proxyActivities<TicketMailActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * One reply or forward written in Desk, sent through the inbox's mailbox (I9). The send is a
 * single idempotent activity (it checks the provider before sending again), and its outcome
 * travels through this workflow's history to the step that stores it on the ticket.
 */
export async function ticketMail(input: TicketMailInput): Promise<TicketMailResult> {
  let sent;
  try {
    sent = await sendTicketMail({ mailId: input.mailId });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
    const failure = { type: cause?.type ?? 'MailSendFailed', message: cause?.message ?? err.message };
    await failTicketMail({ mailId: input.mailId, failure });
    return { state: 'failed', failure };
  }
  const { ticketMessageId } = await recordTicketMailSent({ mailId: input.mailId, sent });
  return { state: 'sent', ticketMessageId, providerMessageId: sent.providerMessageId };
}
