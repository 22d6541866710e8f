import { Types } from 'mongoose';
import type { Config } from '../../lib/config';
import type { SecretBox } from '../../lib/secrets';
import { InboxModel, OutgoingMailModel, TicketMessageModel, TicketModel, type MailProvider } from '../../models';
import { isDuplicateKey } from '../failures';
import { withHeartbeat } from '../heartbeat';
import { MailProviderError, mailActivityFailure } from './errors';
import { providerKeyOf } from './import-message';
import { GmailSender, GraphSender, type ProviderCopy } from './mail-senders';
import { mailProviderSettings } from './oauth';
import { buildOutgoingMime } from './outgoing-mime';
import { MailTokenService } from './tokens';

export interface TicketMailDeps {
  config: Config;
  secrets: SecretBox;
}

/** What the send step hands to the record step (through workflow history, so it survives a crash). */
export interface SentTicketMail extends ProviderCopy {
  rfcMessageId: string;
  subject: string;
  sentAt: string;
}

/** Graph Sent Items are searched from a little before the first attempt (clock skew). */
const SENT_ITEMS_SLACK_MS = 10 * 60_000;

const rejected = (message: string) => new MailProviderError('MailProviderRejected', message);

async function runMailActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await withHeartbeat(work);
  } catch (err) {
    throw mailActivityFailure(err);
  }
}

/**
 * Replies and forwards through the inbox's mailbox (I9). `sendTicketMail` is the only step that
 * talks to the provider and it sends at most once per outgoing mail: before calling the
 * provider it records that it is about to (plus where to look afterwards), and an attempt that
 * finds that mark asks the provider whether the mail already went out before sending again.
 * Its result is not written here but by `recordTicketMailSent`, so a crash at any point after
 * the provider accepted leaves exactly the situation the next attempt checks for.
 */
export function createTicketMailActivities(deps: TicketMailDeps) {
  const settings = mailProviderSettings(deps.config);
  const tokens = new MailTokenService(deps.secrets, settings);
  const tokenFor = (inboxId: string) => (rejectedToken?: string) => tokens.accessToken(inboxId, rejectedToken);

  async function load(mailId: string) {
    const mail = await OutgoingMailModel.findById(mailId).lean();
    if (!mail) throw rejected(`outgoing mail ${mailId} no longer exists`);
    const inbox = await InboxModel.findById(mail.inboxId, { provider: 1, mailboxAddress: 1 }).lean();
    if (!inbox?.mailboxAddress) throw rejected('the inbox is gone or was never connected');
    const basis = await TicketMessageModel.findById(mail.basisMessageId, { providerMessageId: 1, providerThreadId: 1 }).lean();
    if (!basis) throw rejected('the message being answered is gone');
    return { mail, inbox, basis };
  }

  async function sendThroughGmail(input: Awaited<ReturnType<typeof load>>): Promise<SentTicketMail> {
    const { mail, inbox, basis } = input;
    const sender = new GmailSender(settings, tokenFor(String(mail.inboxId)));
    const rfcMessageId = mail.rfcMessageId!;
    const done = (copy: ProviderCopy, sentAt: Date): SentTicketMail => ({ ...copy, rfcMessageId, subject: mail.subject, sentAt: sentAt.toISOString() });
    if (mail.sendAttemptedAt) {
      const copy = await sender.findSent(rfcMessageId, mail.gmailHistoryId ?? undefined);
      if (copy) return done(copy, mail.sendAttemptedAt);
    }
    const historyId = await sender.historyId();
    const attemptedAt = new Date();
    await OutgoingMailModel.updateOne({ _id: mail._id }, { $set: { sendAttemptedAt: attemptedAt, gmailHistoryId: historyId } });
    const raw = buildOutgoingMime({
      from: { address: inbox.mailboxAddress! },
      to: mail.to,
      cc: mail.cc,
      subject: mail.subject,
      text: mail.text,
      date: attemptedAt,
      messageId: rfcMessageId,
      inReplyTo: mail.inReplyTo.at(-1),
      references: mail.references,
    });
    // A forward starts its own conversation: it is not a message to the customer.
    const copy = await sender.send(raw, mail.kind === 'reply' ? (basis.providerThreadId ?? undefined) : undefined);
    return done(copy, attemptedAt);
  }

  async function sendThroughGraph(input: Awaited<ReturnType<typeof load>>): Promise<SentTicketMail> {
    const { mail, basis } = input;
    const sender = new GraphSender(settings, tokenFor(String(mail.inboxId)));
    let draftId = mail.graphDraftId ?? undefined;
    let rfcMessageId = mail.rfcMessageId ?? '';
    let subject = mail.subject;
    let threadId: string | undefined = mail.providerThreadId ?? undefined;
    if (draftId) {
      const state = await sender.draftState(draftId);
      if (state === 'sent') return { providerMessageId: draftId, providerThreadId: threadId, rfcMessageId, subject, sentAt: (mail.sendAttemptedAt ?? new Date()).toISOString() };
      if (state === 'gone') {
        const since = new Date((mail.sendAttemptedAt ?? mail.createdAt ?? new Date()).getTime() - SENT_ITEMS_SLACK_MS);
        const copy = mail.sendAttemptedAt ? await sender.findSent(rfcMessageId, since) : null;
        if (copy) return { ...copy, rfcMessageId, subject, sentAt: mail.sendAttemptedAt!.toISOString() };
        // The draft was deleted in Outlook before it was ever sent: make a new one.
        draftId = undefined;
      }
    }
    if (!draftId) {
      const draft = await sender.createDraft(mail.kind as 'reply' | 'forward', basis.providerMessageId, { text: mail.text, to: mail.to, cc: mail.cc });
      if (!draft.internetMessageId) throw rejected('Graph made a draft without an internetMessageId');
      ({ id: draftId, internetMessageId: rfcMessageId, subject } = draft);
      threadId = draft.conversationId;
      await OutgoingMailModel.updateOne(
        { _id: mail._id },
        { $set: { graphDraftId: draftId, rfcMessageId, subject, providerThreadId: threadId }, $unset: { sendAttemptedAt: 1 } },
      );
    }
    const attemptedAt = new Date();
    await OutgoingMailModel.updateOne({ _id: mail._id }, { $set: { sendAttemptedAt: attemptedAt } });
    await sender.send(draftId);
    return { providerMessageId: draftId, providerThreadId: threadId, rfcMessageId, subject, sentAt: attemptedAt.toISOString() };
  }

  return {
    /** Sends one reply or forward through the mailbox, at most once however often it is retried. */
    async sendTicketMail(input: { mailId: string }): Promise<SentTicketMail> {
      return runMailActivity(async () => {
        const loaded = await load(input.mailId);
        const { mail } = loaded;
        if (mail.state === 'sent' && mail.providerMessageId) {
          return { providerMessageId: mail.providerMessageId, providerThreadId: mail.providerThreadId ?? undefined, rfcMessageId: mail.rfcMessageId!, subject: mail.subject, sentAt: (mail.sentAt ?? new Date()).toISOString() };
        }
        return (loaded.inbox.provider as MailProvider) === 'gmail' ? sendThroughGmail(loaded) : sendThroughGraph(loaded);
      });
    },

    /**
     * Stores the sent mail as the agent's message on the ticket, keyed like imported mail
     * (provider id and Message-ID per inbox), so the provider's copy coming back through the
     * mailbox import is recognised as already there. If the import got there first, that
     * message is the one kept and is marked as ours.
     */
    async recordTicketMailSent(input: { mailId: string; sent: SentTicketMail }): Promise<{ ticketMessageId: string }> {
      const mail = await OutgoingMailModel.findById(input.mailId).lean();
      if (!mail) throw rejected(`outgoing mail ${input.mailId} no longer exists`);
      const inbox = await InboxModel.findById(mail.inboxId, { mailboxAddress: 1 }).lean();
      const inboxId = String(mail.inboxId);
      const { sent } = input;
      const providerKey = providerKeyOf(inboxId, sent.providerMessageId);
      const rfcKey = `${inboxId}:${sent.rfcMessageId}`;
      const sentAt = new Date(sent.sentAt);
      let ticketMessageId: Types.ObjectId;
      try {
        const created = await TicketMessageModel.create({
          siteId: mail.siteId,
          inboxId: mail.inboxId,
          ticketId: mail.ticketId,
          providerMessageId: sent.providerMessageId,
          providerKey,
          providerThreadId: sent.providerThreadId,
          providerThreadKey: sent.providerThreadId ? `${inboxId}:${sent.providerThreadId}` : undefined,
          rfcMessageId: sent.rfcMessageId,
          rfcKey,
          parentKeys: [...new Set([...mail.inReplyTo, ...mail.references])].map((id) => `${inboxId}:${id}`),
          inReplyTo: mail.inReplyTo,
          references: mail.references,
          direction: 'outbound',
          from: { address: inbox?.mailboxAddress ?? '', name: '' },
          to: mail.to.map((a) => ({ address: a.address, name: a.name ?? '' })),
          cc: mail.cc.map((a) => ({ address: a.address, name: a.name ?? '' })),
          subject: sent.subject,
          text: mail.text,
          receivedAt: sentAt,
          sentAt,
        });
        ticketMessageId = created._id;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await TicketMessageModel.findOne({ $or: [{ providerKey }, { rfcKey }] }, { _id: 1 }).lean();
        if (!existing) throw err;
        ticketMessageId = existing._id;
        await TicketMessageModel.updateOne({ _id: existing._id }, { $set: { direction: 'outbound' } });
      }
      await TicketModel.updateOne({ _id: mail.ticketId, lastMessageAt: { $lt: sentAt } }, { $set: { lastMessageAt: sentAt } });
      await OutgoingMailModel.updateOne(
        { _id: mail._id },
        {
          $set: {
            state: 'sent',
            providerMessageId: sent.providerMessageId,
            providerThreadId: sent.providerThreadId,
            rfcMessageId: sent.rfcMessageId,
            subject: sent.subject,
            sentAt,
            ticketMessageId,
            failure: null,
          },
        },
      );
      return { ticketMessageId: String(ticketMessageId) };
    },

    /** A send that can never succeed (revoked consent, message gone) is shown as failed on the mail. */
    async failTicketMail(input: { mailId: string; failure: { type: string; message: string } }): Promise<void> {
      await OutgoingMailModel.updateOne({ _id: input.mailId, state: 'pending' }, { $set: { state: 'failed', failure: input.failure } });
    },
  };
}

export type TicketMailActivities = ReturnType<typeof createTicketMailActivities>;
