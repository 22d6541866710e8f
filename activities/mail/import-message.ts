import { Types } from 'mongoose';
import {
  automatedMailReason,
  companyForDomain,
  customerNameFromAddress,
  domainOf,
  filterDecision,
  threadLookupKeys,
  type CompanyDomains,
  type FilterMode,
  type ParsedMail,
} from '../../domain/mail';
import { CompanyModel, CustomerModel, TicketMessageModel, TicketModel, emailKeyOf, siteKey, utcDay } from '../../models';
import { isDuplicateKey } from '../failures';
import type { FetchedMessage } from './connector';

export interface InboxRules {
  inboxId: string;
  siteId: string;
  filterMode: FilterMode;
  excludedDomains: string[];
}

export type ImportOutcome = 'imported' | 'duplicate' | 'skippedAutomated' | 'skippedExcluded' | 'skippedFiltered';

export interface ImportResult {
  outcome: ImportOutcome;
  ticketCreated: boolean;
  customerCreated: boolean;
  /** A customer this message created inside a company (domain matching): contact sync may take it (C9). */
  companyCustomerId?: string;
}

export const providerKeyOf = (inboxId: string, providerMessageId: string) => `${inboxId}:${providerMessageId}`;
const threadKeyOf = (inboxId: string, providerThreadId: string) => `${inboxId}:${providerThreadId}`;

/** Companies whose domain list could match `domain` (exact, `@domain`, or a `*.parent` wildcard). */
export class CompanyDomainLookup {
  private readonly byDomain = new Map<string, Promise<CompanyDomains[]>>();

  constructor(private readonly siteId: string) {}

  candidates(domain: string): Promise<CompanyDomains[]> {
    let found = this.byDomain.get(domain);
    if (!found) {
      const labels = domain.split('.');
      const entries = [domain, `@${domain}`, ...labels.slice(1).map((_, i) => `*.${labels.slice(i + 1).join('.')}`)];
      found = CompanyModel.find({ siteId: this.siteId, domains: { $in: entries } }, { domains: 1 })
        .lean()
        .then((companies) => companies.map((c) => ({ id: String(c._id), domains: c.domains ?? [] })));
      this.byDomain.set(domain, found);
    }
    return found;
  }
}

/**
 * Turns one fetched email into ticket state, idempotently: every write is keyed by a unique
 * index (message per inbox and provider id, message per inbox and Message-ID, ticket per inbox
 * and provider thread, customer per site and email), so a retry after a crash at any point
 * finishes the job without a second ticket, message or customer (I6).
 */
export async function importMessage(rules: InboxRules, message: FetchedMessage, mail: ParsedMail, companies: CompanyDomainLookup): Promise<ImportResult> {
  const none = { ticketCreated: false, customerCreated: false };
  const providerKey = providerKeyOf(rules.inboxId, message.id);
  const rfcKey = mail.messageId ? `${rules.inboxId}:${mail.messageId}` : undefined;
  const already = await TicketMessageModel.exists(rfcKey ? { $or: [{ providerKey }, { rfcKey }] } : { providerKey });
  if (already) return { outcome: 'duplicate', ...none };

  const sender = mail.from?.address ?? '';
  const automated = automatedMailReason(mail);
  const threadTicketId = await findThreadTicket(rules.inboxId, mail, message.threadId);
  let ticketId = threadTicketId;
  let ticketCreated = false;
  let customerCreated = false;
  let companyCustomerId: string | undefined;

  if (!ticketId) {
    const domain = domainOf(sender);
    const emailKey = sender ? siteKey(rules.siteId, emailKeyOf(sender)) : undefined;
    const customer = emailKey ? await CustomerModel.findOne({ emailKey }, { companyId: 1 }).lean() : null;
    const domainCompanyId = domain ? companyForDomain(domain, await companies.candidates(domain)) : null;
    const decision = filterDecision({
      mode: rules.filterMode,
      sender,
      excludedDomains: rules.excludedDomains,
      senderIsCustomerWithCompany: Boolean(customer?.companyId),
      senderDomainCompanyId: domainCompanyId,
      automated,
    });
    if (!decision.import) return { outcome: outcomeOfSkip(decision.reason), ...none };

    let customerId = customer?._id;
    let companyId = customer?.companyId ?? (domainCompanyId ? new Types.ObjectId(domainCompanyId) : undefined);
    if (!customer && emailKey && mail.from) {
      const created = await createTicketCustomer(rules.siteId, emailKey, mail.from, domainCompanyId);
      customerId = created.id;
      companyId = created.companyId ?? companyId;
      customerCreated = created.created;
      if (created.created && created.companyId) companyCustomerId = String(created.id);
    }
    const opened = await openTicket(rules, message, mail, { customerId, companyId, sender });
    ticketId = opened.id;
    ticketCreated = opened.created;
  } else {
    // Threading never overrides I5 and I12: such mail stays out even inside a ticket's thread.
    const decision = filterDecision({ mode: 'all', sender, excludedDomains: rules.excludedDomains, senderIsCustomerWithCompany: false, senderDomainCompanyId: null, automated });
    if (!decision.import) return { outcome: outcomeOfSkip(decision.reason), ...none };
  }

  try {
    await TicketMessageModel.create({
      siteId: rules.siteId,
      inboxId: rules.inboxId,
      ticketId,
      providerMessageId: message.id,
      providerKey,
      providerThreadId: message.threadId,
      providerThreadKey: message.threadId ? threadKeyOf(rules.inboxId, message.threadId) : undefined,
      rfcMessageId: mail.messageId,
      rfcKey,
      parentKeys: [...new Set([...mail.inReplyTo, ...mail.references])].map((id) => `${rules.inboxId}:${id}`),
      inReplyTo: mail.inReplyTo,
      references: mail.references,
      from: mail.from,
      to: mail.to,
      cc: mail.cc,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      attachments: mail.attachments,
      receivedAt: message.receivedAt,
      sentAt: mail.date,
    });
  } catch (err) {
    if (isDuplicateKey(err)) return { outcome: 'duplicate', ticketCreated, customerCreated };
    throw err;
  }
  await TicketModel.updateOne({ _id: ticketId, lastMessageAt: { $lt: message.receivedAt } }, { $set: { lastMessageAt: message.receivedAt } });
  // Backfill can store a reply before its original: the earliest message names and dates the ticket.
  await TicketModel.updateOne(
    { _id: ticketId, firstMessageAt: { $gt: message.receivedAt } },
    { $set: { firstMessageAt: message.receivedAt, createdDay: utcDay(message.receivedAt), subject: mail.subject ?? '' } },
  );
  return { outcome: 'imported', ticketCreated, customerCreated, companyCustomerId };
}

function outcomeOfSkip(reason: string): ImportOutcome {
  if (reason === 'excluded-domain') return 'skippedExcluded';
  if (reason === 'auto-reply' || reason === 'bounce' || reason === 'bulk') return 'skippedAutomated';
  return 'skippedFiltered';
}

/**
 * I6: the ticket of the provider thread, else of a message named in In-Reply-To/References,
 * else of a reply already stored that names this message.
 */
async function findThreadTicket(inboxId: string, mail: ParsedMail, providerThreadId: string | undefined): Promise<Types.ObjectId | undefined> {
  for (const key of threadLookupKeys(mail, providerThreadId)) {
    if (key.kind === 'provider-thread') {
      const threadKey = threadKeyOf(inboxId, key.id);
      const ticket = await TicketModel.findOne({ threadKey }, { _id: 1 }).lean();
      if (ticket) return ticket._id;
      const sibling = await TicketMessageModel.findOne({ providerThreadKey: threadKey }, { ticketId: 1 }).lean();
      if (sibling) return sibling.ticketId;
    } else {
      const parent = await TicketMessageModel.findOne({ rfcKey: `${inboxId}:${key.id}` }, { ticketId: 1 }).lean();
      if (parent) return parent.ticketId;
    }
  }
  // A reply stored earlier that names this message: the original joins the reply's ticket.
  if (mail.messageId) {
    const reply = await TicketMessageModel.findOne({ parentKeys: `${inboxId}:${mail.messageId}` }, { ticketId: 1 }).lean();
    if (reply) return reply.ticketId;
  }
  return undefined;
}

/** I7: a sender new to the site becomes a customer (origin `ticket`), in the company its domain matches. */
async function createTicketCustomer(
  siteId: string,
  emailKey: string,
  from: { address: string; name: string },
  domainCompanyId: string | null,
): Promise<{ id: Types.ObjectId; companyId?: Types.ObjectId; created: boolean }> {
  const { firstName, lastName } = customerNameFromAddress(from);
  try {
    const customer = await CustomerModel.create({
      siteId,
      email: from.address,
      emailKey,
      firstName: firstName || undefined,
      lastName: lastName || undefined,
      companyId: domainCompanyId ?? undefined,
      origin: 'ticket',
    });
    return { id: customer._id, companyId: customer.companyId ?? undefined, created: true };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await CustomerModel.findOne({ emailKey }, { companyId: 1 }).lean();
    if (!existing) throw err;
    return { id: existing._id, companyId: existing.companyId ?? undefined, created: false };
  }
}

async function openTicket(
  rules: InboxRules,
  message: FetchedMessage,
  mail: ParsedMail,
  who: { customerId?: Types.ObjectId; companyId?: Types.ObjectId; sender: string },
): Promise<{ id: Types.ObjectId; created: boolean }> {
  const threadKey = threadKeyOf(rules.inboxId, message.threadId ?? `message:${message.id}`);
  try {
    const ticket = await TicketModel.create({
      siteId: rules.siteId,
      inboxId: rules.inboxId,
      inboxType: 'individual',
      subject: mail.subject ?? '',
      customerId: who.customerId,
      companyId: who.companyId,
      fromAddress: who.sender || undefined,
      threadKey,
      firstMessageAt: message.receivedAt,
      lastMessageAt: message.receivedAt,
      createdDay: utcDay(message.receivedAt),
    });
    return { id: ticket._id, created: true };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await TicketModel.findOne({ threadKey }, { _id: 1 }).lean();
    if (!existing) throw err;
    return { id: existing._id, created: false };
  }
}
