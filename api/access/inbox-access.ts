import { isValidObjectId, Types } from 'mongoose';
import { InboxModel, TicketModel } from '../../models';
import type { Actor } from '../auth';
import { problems } from '../problem';

/**
 * Who may see and manage individual inboxes and their tickets (SPEC §1, I8), in one place.
 * Objects are always loaded through a filter built from the caller's site and rights, never
 * loaded by id and checked afterwards, so a record the caller may not see is simply not found.
 */

/** Owner: every inbox of the site. Admin and agent: inboxes they created or are a member of. */
export function visibleInboxFilter(actor: Actor): Record<string, unknown> {
  const site = { siteId: new Types.ObjectId(actor.siteId) };
  if (actor.role === 'owner') return site;
  const userId = new Types.ObjectId(actor.userId);
  return { ...site, $or: [{ createdBy: userId }, { 'members.userId': userId }] };
}

type InboxLike = { createdBy?: unknown; members?: { userId?: unknown; inboxAdmin?: boolean | null }[] | null };

/** Owner, the inbox's creator, or one of its inbox admins may change settings, members or delete it. */
export function canManageInbox(actor: Actor, inbox: InboxLike): boolean {
  if (actor.role === 'owner' || String(inbox.createdBy) === actor.userId) return true;
  return (inbox.members ?? []).some((m) => String(m.userId) === actor.userId && m.inboxAdmin === true);
}

export async function loadVisibleInbox(actor: Actor, id: string) {
  const inbox = isValidObjectId(id) ? await InboxModel.findOne({ _id: id, ...visibleInboxFilter(actor) }).lean() : null;
  if (!inbox) throw problems.notFound('Inbox');
  return inbox;
}

/** 404 when the caller cannot see the inbox, 403 when they can see but not manage it. */
export async function loadManageableInbox(actor: Actor, id: string) {
  const inbox = await loadVisibleInbox(actor, id);
  if (!canManageInbox(actor, inbox)) throw problems.forbidden('only the site owner, the inbox creator or an inbox admin may change this inbox');
  return inbox;
}

/** Tickets of the inboxes the caller sees; the owner sees every ticket of the site. */
export async function visibleTicketFilter(actor: Actor): Promise<Record<string, unknown>> {
  const site = { siteId: new Types.ObjectId(actor.siteId) };
  if (actor.role === 'owner') return site;
  const inboxes = await InboxModel.find(visibleInboxFilter(actor), { _id: 1 }).lean();
  return { ...site, inboxId: { $in: inboxes.map((i) => i._id) } };
}

export async function loadVisibleTicket(actor: Actor, id: string) {
  const ticket = isValidObjectId(id) ? await TicketModel.findOne({ _id: id, ...(await visibleTicketFilter(actor)) }).lean() : null;
  if (!ticket) throw problems.notFound('Ticket');
  return ticket;
}
