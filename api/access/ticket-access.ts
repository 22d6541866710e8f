import { InboxModel } from '../../models';
import type { Actor } from '../auth';
import { problems } from '../problem';
import { loadVisibleTicket } from './inbox-access';

/**
 * What a caller may do with a ticket (I8), on top of inbox-access's visibility rules:
 * `view` and `note` need any access to the inbox, `reply` (reply, forward, edit status,
 * priority, assignee, tags) needs `read_reply`. The owner, the inbox's creator and its inbox
 * admins may do everything.
 */
export type TicketNeed = 'view' | 'note' | 'reply';
export type TicketAccess = 'full' | 'read_reply' | 'read_only';

type InboxLike = { createdBy?: unknown; members?: { userId?: unknown; access?: string | null; inboxAdmin?: boolean | null }[] | null };

export function ticketAccessOf(actor: Actor, inbox: InboxLike): TicketAccess | null {
  if (actor.role === 'owner' || String(inbox.createdBy) === actor.userId) return 'full';
  const member = (inbox.members ?? []).find((m) => String(m.userId) === actor.userId);
  if (!member) return null;
  if (member.inboxAdmin) return 'full';
  return member.access === 'read_reply' ? 'read_reply' : 'read_only';
}

const allows: Record<TicketNeed, TicketAccess[]> = {
  view: ['full', 'read_reply', 'read_only'],
  note: ['full', 'read_reply', 'read_only'],
  reply: ['full', 'read_reply'],
};

/**
 * The ticket, loaded through the caller's site- and rights-scoped filter: a ticket the caller
 * may not see is 404; one they see but may not act on this way is 403.
 */
export async function loadTicketFor(actor: Actor, id: string, need: TicketNeed) {
  const ticket = await loadVisibleTicket(actor, id);
  const inbox = await InboxModel.findOne({ _id: ticket.inboxId, siteId: actor.siteId }, { createdBy: 1, members: 1, provider: 1, status: 1, mailboxAddress: 1 }).lean();
  // The ticket outlived its inbox (deleted inbox): only the owner still sees it, and cannot mail from it.
  const access = inbox ? ticketAccessOf(actor, inbox) : actor.role === 'owner' ? 'full' : null;
  if (!access) throw problems.notFound('Ticket');
  if (!allows[need].includes(access)) throw problems.forbidden(`${need === 'reply' ? 'replying, forwarding and editing a ticket need' : 'this needs'} read_reply access to its inbox`);
  return { ticket, inbox, access };
}
