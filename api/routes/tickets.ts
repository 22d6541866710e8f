import { isValidObjectId, Types } from 'mongoose';
import { z } from 'zod';
import { TicketMessageModel, TicketModel, ticketPriorities, ticketStatuses, type Ticket, type TicketMessage } from '../../models';
import type { RouteTable } from '../routing';
import { errorResponses, idParams, pageOf } from '../schemas';
import type { AppDeps } from '../deps';
import { loadVisibleInbox, loadVisibleTicket, visibleTicketFilter } from '../access/inbox-access';

const listQuerySchema = z.strictObject({
  inboxId: z.string().refine(isValidObjectId, 'not an id').optional(),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(50),
});

const addressSchema = z.object({ address: z.string(), name: z.string() });
export const ticketViewSchema = z.object({
  id: z.string(),
  inboxId: z.string(),
  inboxType: z.enum(['individual', 'team']),
  subject: z.string(),
  status: z.enum(ticketStatuses),
  priority: z.enum(ticketPriorities),
  assigneeId: z.string().nullable(),
  tags: z.array(z.string()),
  customerId: z.string().nullable(),
  companyId: z.string().nullable(),
  fromAddress: z.string().nullable(),
  firstMessageAt: z.string(),
  lastMessageAt: z.string(),
  createdDay: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const ticketMessageViewSchema = z.object({
  id: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  messageId: z.string().nullable(),
  inReplyTo: z.array(z.string()),
  references: z.array(z.string()),
  from: addressSchema.nullable(),
  to: z.array(addressSchema),
  cc: z.array(addressSchema),
  subject: z.string().nullable(),
  text: z.string().nullable(),
  html: z.string().nullable(),
  attachments: z.array(z.object({ filename: z.string().nullable(), contentType: z.string(), size: z.number(), inline: z.boolean() })),
  receivedAt: z.string(),
});

type WithId<T> = T & { _id: unknown; createdAt?: Date; updatedAt?: Date };
const idOrNull = (id: unknown) => (id ? String(id) : null);
const addressOf = (a: { address?: string | null; name?: string | null }) => ({ address: a.address ?? '', name: a.name ?? '' });

export function ticketView(t: WithId<Ticket>) {
  return {
    id: String(t._id),
    inboxId: String(t.inboxId),
    inboxType: t.inboxType,
    subject: t.subject ?? '',
    status: t.status,
    priority: t.priority,
    assigneeId: idOrNull(t.assigneeId),
    tags: t.tags ?? [],
    customerId: idOrNull(t.customerId),
    companyId: idOrNull(t.companyId),
    fromAddress: t.fromAddress ?? null,
    firstMessageAt: t.firstMessageAt,
    lastMessageAt: t.lastMessageAt,
    createdDay: t.createdDay,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

/** Provider ids and dedupe keys are internal; the message shows what the email said. */
export function ticketMessageView(m: WithId<TicketMessage>) {
  return {
    id: String(m._id),
    direction: m.direction,
    messageId: m.rfcMessageId ?? null,
    inReplyTo: m.inReplyTo ?? [],
    references: m.references ?? [],
    from: m.from ? addressOf(m.from) : null,
    to: (m.to ?? []).map(addressOf),
    cc: (m.cc ?? []).map(addressOf),
    subject: m.subject ?? null,
    text: m.text ?? null,
    html: m.html ?? null,
    attachments: (m.attachments ?? []).map((a) => ({ filename: a.filename ?? null, contentType: a.contentType ?? 'application/octet-stream', size: a.size ?? 0, inline: Boolean(a.inline) })),
    receivedAt: m.receivedAt,
  };
}

/** Tickets of the inboxes the caller may see (I8); anything else is 404. */
export function addTicketRoutes(routes: RouteTable, _deps: AppDeps): void {
  routes.add({
    method: 'get', path: '/api/tickets', tag: 'tickets', auth: 'user', summary: 'Tickets the caller may see, optionally of one inbox',
    query: listQuerySchema,
    responses: { 200: { description: 'A page of tickets', schema: pageOf(ticketViewSchema) }, 400: errorResponses[400], 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, query, res }) => {
    const filter = query.inboxId ? { siteId: new Types.ObjectId(actor.siteId), inboxId: (await loadVisibleInbox(actor, query.inboxId))._id } : await visibleTicketFilter(actor);
    const [tickets, total] = await Promise.all([
      TicketModel.find(filter).sort({ _id: 1 }).skip((query.page - 1) * query.pageSize).limit(query.pageSize).lean(),
      TicketModel.countDocuments(filter),
    ]);
    res.json({ items: tickets.map(ticketView), page: query.page, pageSize: query.pageSize, total, hasMore: query.page * query.pageSize < total });
  });

  routes.add({
    method: 'get', path: '/api/tickets/:id', tag: 'tickets', auth: 'user', summary: 'One ticket with its messages, oldest first',
    params: idParams,
    responses: { 200: { description: 'The ticket', schema: ticketViewSchema.extend({ messages: z.array(ticketMessageViewSchema) }) }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const ticket = await loadVisibleTicket(actor, params.id);
    const messages = await TicketMessageModel.find({ ticketId: ticket._id }).sort({ receivedAt: 1, _id: 1 }).limit(1000).lean();
    res.json({ ...ticketView(ticket), messages: messages.map(ticketMessageView) });
  });
}
