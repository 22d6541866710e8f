import crypto from 'node:crypto';
import { isValidObjectId, Types } from 'mongoose';
import { z } from 'zod';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import {
  OutgoingMailModel,
  TicketMessageModel,
  TicketModel,
  TicketNoteModel,
  UserModel,
  outgoingMailKinds,
  outgoingMailStates,
  ticketPriorities,
  ticketStatuses,
  type OutgoingMail,
  type OutgoingMailKind,
  type TicketNote,
} from '../../models';
import { forwardSubject, newMessageId, replySubject } from '../../activities/mail/outgoing-mime';
import { workflowIds } from '../../workflows/ids';
import { entityAttribute, inboxIdAttribute, siteIdAttribute } from '../../workflows/search-attributes';
import type { ticketMail } from '../../workflows/ticket-mail';
import type { Actor } from '../auth';
import type { AppDeps } from '../deps';
import { loadTicketFor } from '../access/ticket-access';
import { problems } from '../problem';
import { isDuplicateKey } from '../../activities/failures';
import type { RouteTable } from '../routing';
import { errorResponses, idParams } from '../schemas';
import { ticketView, ticketViewSchema } from './tickets';

const TEXT_MAX = 100_000;
const addressSchema = z.strictObject({ address: z.email().max(320), name: z.string().trim().max(200).optional() });
const textSchema = z.string().trim().min(1).max(TEXT_MAX);

const noteBodySchema = z.strictObject({ text: textSchema });
const replyBodySchema = z.strictObject({ text: textSchema, cc: z.array(addressSchema).max(50).default([]) });
const forwardBodySchema = z.strictObject({ to: z.array(addressSchema).min(1).max(50), cc: z.array(addressSchema).max(50).default([]), text: textSchema });
const idempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'printable ASCII, 1 to 255 characters')
    .optional()
    .describe('Repeating a request with the same key sends nothing again and answers with the mail the first request queued'),
});
/** Ticket options a `read_reply` user may edit (I8); anything else in the body is refused. */
const ticketPatchSchema = z
  .strictObject({
    status: z.enum(ticketStatuses).optional(),
    priority: z.enum(ticketPriorities).optional(),
    assigneeId: z.string().refine(isValidObjectId, 'not an id').nullable().optional(),
    tags: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'nothing to change');

const noteViewSchema = z.object({ id: z.string(), ticketId: z.string(), authorId: z.string(), text: z.string(), createdAt: z.string() });
const mailAddressView = z.object({ address: z.string(), name: z.string().nullable() });
const outgoingMailViewSchema = z.object({
  id: z.string(),
  ticketId: z.string(),
  kind: z.enum(outgoingMailKinds),
  state: z.enum(outgoingMailStates),
  authorId: z.string(),
  to: z.array(mailAddressView),
  cc: z.array(mailAddressView),
  subject: z.string(),
  text: z.string(),
  messageId: z.string().nullable(),
  workflowId: z.string(),
  ticketMessageId: z.string().nullable(),
  sentAt: z.string().nullable(),
  failure: z.object({ type: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
});

type WithId<T> = T & { _id: unknown; createdAt?: Date; updatedAt?: Date };

function noteView(n: WithId<TicketNote>) {
  return { id: String(n._id), ticketId: String(n.ticketId), authorId: String(n.authorId), text: n.text, createdAt: n.createdAt };
}

/** Provider ids and retry marks stay internal; the client sees what was sent and how far it got. */
function outgoingMailView(m: WithId<OutgoingMail>) {
  const address = (a: { address: string; name?: string | null }) => ({ address: a.address, name: a.name ?? null });
  return {
    id: String(m._id),
    ticketId: String(m.ticketId),
    kind: m.kind,
    state: m.state,
    authorId: String(m.authorId),
    to: (m.to ?? []).map(address),
    cc: (m.cc ?? []).map(address),
    subject: m.subject,
    text: m.text,
    messageId: m.rfcMessageId ?? null,
    workflowId: m.workflowId,
    ticketMessageId: m.ticketMessageId ? String(m.ticketMessageId) : null,
    sentAt: m.sentAt ?? null,
    failure: m.failure?.type ? { type: m.failure.type, message: m.failure.message ?? '' } : null,
    createdAt: m.createdAt,
  };
}

const forbiddenOrMissing = { 403: { ...errorResponses[404], description: 'Visible, but the caller’s inbox access does not allow this' }, 404: errorResponses[404] };

/**
 * Stores a reply or forward and starts the workflow that sends it through the inbox's mailbox
 * (I9). The mail is stored first, so the send step has everything it needs to be retried.
 */
async function queueTicketMail(
  deps: AppDeps,
  actor: Actor,
  ticketId: string,
  kind: OutgoingMailKind,
  input: { text: string; to?: { address: string; name?: string }[]; cc: { address: string; name?: string }[] },
  idempotencyKey: string | undefined,
) {
  const { ticket, inbox } = await loadTicketFor(actor, ticketId, 'reply');
  // The key names the mail itself, so a repeat finds it by _id and two racing repeats meet at the unique _id.
  const mailId = idempotencyKey ? objectIdOf(`${actor.siteId}:${actor.userId}:${ticket._id}:${kind}:${idempotencyKey}`) : new Types.ObjectId();
  const repeated = idempotencyKey ? await findQueuedMail(mailId) : null;
  const mail = repeated ? sameRequestOrRefuse(repeated, input) : await storeOutgoingMail(mailId, actor, ticket, inbox, kind, input);
  // A repeat also finishes what a first attempt that died before starting the workflow left undone.
  if (mail.state !== 'pending') return mail;
  try {
    await deps.temporal.workflow.start<typeof ticketMail>('ticketMail', {
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      workflowId: mail.workflowId,
      args: [{ mailId: String(mailId), siteId: actor.siteId, inboxId: String(ticket.inboxId), ticketId: String(ticket._id) }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: [
        { key: siteIdAttribute, value: actor.siteId },
        { key: entityAttribute, value: 'ticket' },
        { key: inboxIdAttribute, value: String(ticket.inboxId) },
      ],
      memo: { siteId: actor.siteId, kind: `ticket-${kind}`, ticketId: String(ticket._id) },
    });
  } catch (err) {
    // Nothing was sent and nothing will be: leave no pending mail behind. A repeat's mail may
    // belong to a workflow that is running, so the client's next repeat starts it instead.
    if (!repeated) await OutgoingMailModel.deleteOne({ _id: mailId });
    throw err;
  }
  return mail;
}

async function storeOutgoingMail(
  mailId: Types.ObjectId,
  actor: Actor,
  ticket: { _id: Types.ObjectId; inboxId: Types.ObjectId; subject?: string | null },
  inbox: { status?: string | null; mailboxAddress?: string | null; provider?: string | null } | null | undefined,
  kind: OutgoingMailKind,
  input: { text: string; to?: { address: string; name?: string }[]; cc: { address: string; name?: string }[] },
) {
  if (!inbox || inbox.status !== 'connected' || !inbox.mailboxAddress) {
    throw problems.conflict('the inbox’s mailbox is not connected, so nothing can be sent from it', { reason: 'inbox-not-connected' });
  }
  const basis =
    (await TicketMessageModel.findOne({ ticketId: ticket._id, direction: 'inbound' }).sort({ receivedAt: -1, _id: -1 }).lean()) ??
    (await TicketMessageModel.findOne({ ticketId: ticket._id }).sort({ receivedAt: -1, _id: -1 }).lean());
  if (!basis) throw problems.conflict('the ticket has no message to answer yet', { reason: 'no-message' });
  const subject = basis.subject ?? ticket.subject ?? '';
  let to = input.to ?? [];
  if (kind === 'reply') {
    if (!basis.from?.address) throw problems.conflict('the message being answered has no sender address', { reason: 'no-sender' });
    to = [{ address: basis.from.address, ...(basis.from.name ? { name: basis.from.name } : {}) }];
  }
  const threaded = kind === 'reply' && basis.rfcMessageId;
  try {
    const mail = await OutgoingMailModel.create({
      _id: mailId,
      siteId: actor.siteId,
      inboxId: ticket.inboxId,
      ticketId: ticket._id,
      authorId: actor.userId,
      kind,
      workflowId: workflowIds.ticketMail(kind, String(ticket._id), String(mailId)),
      basisMessageId: basis._id,
      to,
      cc: input.cc,
      subject: kind === 'reply' ? replySubject(subject) : forwardSubject(subject),
      text: input.text,
      // Gmail sends the message we build, with our Message-ID; Outlook assigns one to its draft.
      rfcMessageId: inbox.provider === 'gmail' ? newMessageId(inbox.mailboxAddress) : undefined,
      inReplyTo: threaded ? [basis.rfcMessageId] : [],
      references: threaded ? [...new Set([...(basis.references ?? []), basis.rfcMessageId!])] : [],
    });
    return mail.toObject();
  } catch (err) {
    const raced = isDuplicateKey(err) ? await findQueuedMail(mailId) : null;
    if (raced) return sameRequestOrRefuse(raced, input);
    throw err;
  }
}

const objectIdOf = (key: string) => new Types.ObjectId(crypto.createHash('sha256').update(key).digest('hex').slice(0, 24));

const findQueuedMail = (id: Types.ObjectId) => OutgoingMailModel.findById(id).lean();

/** A key reused for a different message is a client bug; sending either one silently would hide it. */
function sameRequestOrRefuse(mail: NonNullable<Awaited<ReturnType<typeof findQueuedMail>>>, input: { text: string; to?: { address: string }[]; cc: { address: string }[] }) {
  const addresses = (list: { address: string }[] | undefined) => (list ?? []).map((a) => a.address.toLowerCase()).join(',');
  const same = mail.text === input.text && addresses(mail.cc) === addresses(input.cc) && (input.to === undefined || addresses(mail.to) === addresses(input.to));
  if (!same) throw problems.unprocessable('this Idempotency-Key was already used for a different message', { reason: 'idempotency-key-reused' });
  return mail;
}

/** Notes, replies, forwards and ticket options (I8, I9); every ticket is loaded through ticket-access. */
export function addTicketActionRoutes(routes: RouteTable, deps: AppDeps): void {
  routes.add({
    method: 'post', path: '/api/tickets/:id/notes', tag: 'tickets', auth: 'user', summary: 'Add an internal note (read_only access and up; I8)',
    params: idParams,
    body: noteBodySchema,
    responses: { 201: { description: 'The note', schema: noteViewSchema }, 400: errorResponses[400], 401: errorResponses[401], ...forbiddenOrMissing },
  }, async ({ actor, params, body, res }) => {
    const { ticket } = await loadTicketFor(actor, params.id, 'note');
    const note = await TicketNoteModel.create({ siteId: actor.siteId, inboxId: ticket.inboxId, ticketId: ticket._id, authorId: actor.userId, text: body.text });
    res.status(201).json(noteView(note.toObject()));
  });

  routes.add({
    method: 'get', path: '/api/tickets/:id/notes', tag: 'tickets', auth: 'user', summary: 'The ticket’s internal notes, oldest first',
    params: idParams,
    responses: { 200: { description: 'Notes', schema: z.object({ items: z.array(noteViewSchema) }) }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const { ticket } = await loadTicketFor(actor, params.id, 'view');
    const notes = await TicketNoteModel.find({ ticketId: ticket._id, siteId: actor.siteId }).sort({ _id: 1 }).limit(1000).lean();
    res.json({ items: notes.map(noteView) });
  });

  routes.add({
    method: 'post', path: '/api/tickets/:id/replies', tag: 'tickets', auth: 'user',
    summary: 'Reply to the customer through the inbox’s mailbox, in the ticket’s thread (read_reply; I8, I9)',
    params: idParams,
    body: replyBodySchema,
    headers: idempotencyHeaders,
    responses: {
      202: { description: 'Accepted: the reply is being sent', schema: outgoingMailViewSchema },
      400: errorResponses[400], 401: errorResponses[401], ...forbiddenOrMissing,
      409: { ...errorResponses[404], description: 'The inbox is not connected, or the ticket has nothing to answer' },
      422: { ...errorResponses[404], description: 'The Idempotency-Key was already used for a different message' },
    },
  }, async ({ actor, params, body, headers, res }) => {
    const mail = await queueTicketMail(deps, actor, params.id, 'reply', { text: body.text, cc: body.cc }, headers['idempotency-key']);
    res.status(202).location(`/api/tickets/${params.id}/outgoing/${mail._id}`).json(outgoingMailView(mail));
  });

  routes.add({
    method: 'post', path: '/api/tickets/:id/forwards', tag: 'tickets', auth: 'user',
    summary: 'Forward the ticket’s latest message to someone else through the inbox’s mailbox (read_reply; I8, I9)',
    params: idParams,
    body: forwardBodySchema,
    headers: idempotencyHeaders,
    responses: {
      202: { description: 'Accepted: the forward is being sent', schema: outgoingMailViewSchema },
      400: errorResponses[400], 401: errorResponses[401], ...forbiddenOrMissing,
      409: { ...errorResponses[404], description: 'The inbox is not connected, or the ticket has no message' },
      422: { ...errorResponses[404], description: 'The Idempotency-Key was already used for a different message' },
    },
  }, async ({ actor, params, body, headers, res }) => {
    const mail = await queueTicketMail(deps, actor, params.id, 'forward', { text: body.text, to: body.to, cc: body.cc }, headers['idempotency-key']);
    res.status(202).location(`/api/tickets/${params.id}/outgoing/${mail._id}`).json(outgoingMailView(mail));
  });

  routes.add({
    method: 'get', path: '/api/tickets/:id/outgoing', tag: 'tickets', auth: 'user', summary: 'Replies and forwards of the ticket with their send state (I9)',
    params: idParams,
    responses: { 200: { description: 'Outgoing mail, oldest first', schema: z.object({ items: z.array(outgoingMailViewSchema) }) }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const { ticket } = await loadTicketFor(actor, params.id, 'view');
    const mails = await OutgoingMailModel.find({ ticketId: ticket._id, siteId: actor.siteId }).sort({ _id: 1 }).limit(1000).lean();
    res.json({ items: mails.map(outgoingMailView) });
  });

  routes.add({
    method: 'patch', path: '/api/tickets/:id', tag: 'tickets', auth: 'user', summary: 'Change status, priority, assignee or tags (read_reply; I8)',
    params: idParams,
    body: ticketPatchSchema,
    responses: { 200: { description: 'The ticket', schema: ticketViewSchema }, 400: errorResponses[400], 401: errorResponses[401], ...forbiddenOrMissing },
  }, async ({ actor, params, body, res }) => {
    const { ticket } = await loadTicketFor(actor, params.id, 'reply');
    const set: Record<string, unknown> = {};
    if (body.status) set.status = body.status;
    if (body.priority) set.priority = body.priority;
    if (body.tags) set.tags = [...new Set(body.tags)];
    if (body.assigneeId !== undefined) {
      if (body.assigneeId && !(await UserModel.exists({ _id: body.assigneeId, siteId: actor.siteId }))) {
        throw problems.validation('assigneeId: must be a user of this site', [{ path: 'assigneeId', message: 'must be a user of this site' }]);
      }
      set.assigneeId = body.assigneeId ? new Types.ObjectId(body.assigneeId) : null;
    }
    await TicketModel.updateOne({ _id: ticket._id, siteId: actor.siteId }, { $set: set });
    const updated = await TicketModel.findOne({ _id: ticket._id, siteId: actor.siteId }).lean();
    if (!updated) throw problems.notFound('Ticket');
    res.json(ticketView(updated));
  });
}
