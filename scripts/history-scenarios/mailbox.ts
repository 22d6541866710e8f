import request from 'supertest';
import { startGmailEmulator, type GmailEmulator } from '../../emulators/gmail';
import { buildRawMessage, generateMailbox } from '../../emulators/mail/generate';
import { GOOGLE_CLIENT, PUBSUB_AUDIENCE, PUBSUB_TOPIC, consentRedirect, gmailEnv, counts, createInbox, signUpSite, waitFor, waitForFollowing, type TestSite } from '../../test/mailbox/support';
import { bearer } from '../../test/support/sites';
import type { TestSystem } from '../../test/support/system';
import { workflowIds } from '../../workflows/ids';
import type { HistoryScenario, ScenarioContext } from './scenario';

export interface ConnectedGmailInbox {
  system: TestSystem;
  gmail: GmailEmulator;
  site: TestSite;
  address: string;
  inboxId: string;
  mailboxWorkflowId: string;
}

/**
 * A Gmail emulator holding `messages` generated messages (20 threads at most), a deskbridge
 * configured for it, and an inbox connected through the OAuth consent. `afterConsent` runs once
 * the callback has answered, which is when the mailbox workflow starts talking to Gmail.
 */
export async function connectedGmailInbox(
  context: ScenarioContext,
  options: { messages: number; env?: Record<string, string>; afterConsent?: (gmail: GmailEmulator) => void },
): Promise<ConnectedGmailInbox> {
  const gmail = await startGmailEmulator({ oauthClients: [GOOGLE_CLIENT] });
  context.onCleanup(() => gmail.close());
  const system = await context.restartSystem({
    ...gmailEnv(gmail.url),
    MAILBOX_POLL_INTERVAL_SECONDS: '2',
    ...options.env,
  });
  gmail.control.setPushEndpoint(PUBSUB_TOPIC, `${system.apiUrl}/webhooks/gmail`, PUBSUB_AUDIENCE);

  const site = await signUpSite(system);
  const address = `desk-${site.siteId}@gmail.test`;
  const { seed } = generateMailbox({ seed: 11, address, messages: options.messages, threads: Math.min(20, options.messages), olderThanWindow: 2, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
  gmail.control.seedMailbox(seed);
  const inbox = await createInbox(system, site.token, { provider: 'gmail', importEmails: true, filterMode: 'all' });
  const connect = await request(system.app).post(`/api/inboxes/${inbox.id}/connect`).set(bearer(site.token)).send({ loginHint: address });
  if (connect.status !== 200) throw new Error(`connect answered ${connect.status}: ${JSON.stringify(connect.body)}`);
  const back = await consentRedirect(connect.body.consentUrl);
  const callback = await request(system.app).get(`${back.pathname}${back.search}`);
  if (callback.status !== 200) throw new Error(`the OAuth callback answered ${callback.status}: ${JSON.stringify(callback.body)}`);
  options.afterConsent?.(gmail);
  await waitForFollowing(inbox.id);
  // The push channel is registered in the first follow cycle, after the backfill.
  await waitFor('the Gmail watch', async () => gmail.control.watchExpiration(address), (expiry) => expiry !== undefined, 30_000);
  return { system, gmail, site, address, inboxId: inbox.id, mailboxWorkflowId: workflowIds.mailbox(inbox.id) };
}

/**
 * Backfill, then one message delivered while following, then the inbox is deleted: the workflow
 * follows mail forever otherwise, and deleting the inbox is how a real one ends (cancelled).
 */
async function followThenDelete(context: ScenarioContext, afterConsent?: (gmail: GmailEmulator) => void) {
  const inbox = await connectedGmailInbox(context, { messages: 20, env: { MAILBOX_BATCH_SIZE: '5' }, afterConsent });
  const before = await counts(inbox.inboxId);
  const now = new Date();
  inbox.gmail.control.deliver(inbox.address, {
    raw: buildRawMessage({ from: 'Nina New <nina@customer.example>', to: inbox.address, subject: 'A new question', body: 'Arrived while following', messageId: `followed-${inbox.inboxId}@customer.example`, date: now }),
    receivedAt: now,
    threadKey: 'followed',
  });
  await waitFor('the followed message', () => counts(inbox.inboxId), (now) => now.messages === before.messages + 1, 30_000);
  const deleted = await request(inbox.system.app).delete(`/api/inboxes/${inbox.inboxId}`).set(bearer(inbox.site.token));
  if (deleted.status !== 204) throw new Error(`deleting the inbox answered ${deleted.status}`);
  await context.waitUntilClosed(inbox.mailboxWorkflowId);
  return { workflowId: inbox.mailboxWorkflowId };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A Gmail inbox with 20 messages (18 inside the window) is backfilled in batches of 5, a new message is followed in, then the inbox is deleted and the workflow is cancelled',
    run: (context) => followThenDelete(context),
  },
  {
    name: 'retries',
    description: 'Gmail answers 500 to the first two requests of the import: the activities fail and are retried, the backfill completes, a new message is followed in, then the inbox is deleted',
    run: (context) => followThenDelete(context, (gmail) => gmail.control.injectFaults({ serverError: { next: 2 } })),
  },
];
