import request from 'supertest';
import type { GmailEmulator } from '../../emulators/gmail';
import { TicketModel } from '../../models';
import { bearer } from '../../test/support/sites';
import { connectedGmailInbox } from './mailbox';
import type { HistoryScenario, ScenarioContext } from './scenario';

type MailAction = { kind: 'replies'; body: { text: string } } | { kind: 'forwards'; body: { to: Array<{ address: string }>; text: string } };

/**
 * A connected Gmail inbox whose backfill made a handful of tickets; one of them is answered
 * through the mailbox. The mailbox workflow is stopped first (its tokens stay) so that faults
 * injected into Gmail meet the send and nothing else.
 */
async function sendFromTicket(context: ScenarioContext, action: MailAction, injectFaults?: (gmail: GmailEmulator) => void) {
  const inbox = await connectedGmailInbox(context, { messages: 5 });
  await inbox.system.runtime.temporal.workflow.getHandle(inbox.mailboxWorkflowId).cancel();
  await context.waitUntilClosed(inbox.mailboxWorkflowId);
  const ticket = await TicketModel.findOne({ inboxId: inbox.inboxId }).sort({ firstMessageAt: 1 }).lean();
  if (!ticket) throw new Error('the backfill made no ticket');
  injectFaults?.(inbox.gmail);
  const res = await request(inbox.system.app).post(`/api/tickets/${ticket._id}/${action.kind}`).set(bearer(inbox.site.token)).send(action.body);
  if (res.status !== 202) throw new Error(`POST ${action.kind} answered ${res.status}: ${JSON.stringify(res.body)}`);
  await context.waitUntilClosed(res.body.workflowId);
  return { workflowId: res.body.workflowId as string };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'The site owner replies to an imported ticket: the reply is sent through Gmail in the ticket’s thread and stored on the ticket without a single failure',
    run: (context) => sendFromTicket(context, { kind: 'replies', body: { text: 'Thanks, the refund is on its way.' } }),
  },
  {
    name: 'retries',
    description: 'The site owner forwards an imported ticket while Gmail answers 503 twice: the send fails, the retry asks Gmail for the copy before sending, and the forward goes out once',
    run: (context) =>
      sendFromTicket(context, { kind: 'forwards', body: { to: [{ address: 'billing@partner.example' }], text: 'Could you check this invoice?' } }, (gmail) =>
        gmail.control.injectFaults({ serverError: { next: 2, status: 503 } }),
      ),
  },
];
