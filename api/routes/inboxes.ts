import { isValidObjectId, Types } from 'mongoose';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  InboxModel,
  OAuthConnectionModel,
  OAuthConsentModel,
  SiteModel,
  UserModel,
  filterModes,
  inboxStatuses,
  mailProviders,
  memberAccesses,
  type Inbox,
  type ImportCounts,
} from '../../models';
import { Problem, problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, idParams } from '../schemas';
import type { AppDeps } from '../deps';
import type { Actor } from '../auth';
import { loadManageableInbox, loadVisibleInbox, visibleInboxFilter } from '../access/inbox-access';
import { mailboxProgressQuery, type MailboxProgress } from '../../workflows/mailbox';
import { workflowIds } from '../../workflows/ids';

/** As admins type them: `x.com`, `@x.com`, `.x.com` or `*.x.com`; subdomains are always excluded too (I5). */
const excludedDomainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(\*\.|@|\.)?([a-z0-9-]+\.)+[a-z0-9-]{2,}$/, 'a domain such as example.com');
const objectIdSchema = z.string().refine(isValidObjectId, 'not an id');
const memberSchema = z.strictObject({
  userId: objectIdSchema,
  access: z.enum(memberAccesses),
  inboxAdmin: z.boolean().default(false),
});
const inboxFields = {
  name: z.string().trim().min(1).max(200),
  importEmails: z.boolean(),
  filterMode: z.enum(filterModes),
  excludedDomains: z.array(excludedDomainSchema).max(200),
  members: z
    .array(memberSchema)
    .max(500)
    .refine((members) => new Set(members.map((m) => m.userId)).size === members.length, 'a user is listed twice'),
  notifications: z.boolean(),
  happinessRatings: z.boolean(),
};
export const createInboxSchema = z.strictObject({
  provider: z.enum(mailProviders),
  ...inboxFields,
  excludedDomains: inboxFields.excludedDomains.default([]),
  members: inboxFields.members.default([]),
  notifications: inboxFields.notifications.default(false),
  happinessRatings: inboxFields.happinessRatings.default(false),
});
export const updateInboxSchema = z
  .strictObject({
    name: inboxFields.name.optional(),
    filterMode: inboxFields.filterMode.optional(),
    excludedDomains: inboxFields.excludedDomains.optional(),
    members: inboxFields.members.optional(),
    notifications: inboxFields.notifications.optional(),
    happinessRatings: inboxFields.happinessRatings.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'nothing to change');

export const inboxViewSchema = z.object({
  id: z.string(),
  type: z.literal('individual'),
  name: z.string(),
  provider: z.enum(mailProviders),
  importEmails: z.boolean(),
  filterMode: z.enum(filterModes),
  excludedDomains: z.array(z.string()),
  members: z.array(z.object({ userId: z.string(), access: z.enum(memberAccesses), inboxAdmin: z.boolean() })),
  createdBy: z.string(),
  notifications: z.boolean(),
  happinessRatings: z.boolean(),
  status: z.enum(inboxStatuses),
  mailboxAddress: z.string().nullable(),
  connectedAt: z.string().nullable(),
  workflowId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const countsSchema = z.object({
  listed: z.number(), imported: z.number(), ticketsCreated: z.number(), customersCreated: z.number(), duplicates: z.number(),
  skippedAutomated: z.number(), skippedExcluded: z.number(), skippedFiltered: z.number(), gone: z.number(),
});
export const importProgressSchema = z.object({
  status: z.enum(inboxStatuses),
  state: z.enum(['not_started', 'running', 'following', 'paused', 'failed']),
  live: z.boolean(),
  phase: z.string().nullable(),
  backfillDone: z.boolean(),
  since: z.string().nullable(),
  startedAt: z.string().nullable(),
  counts: countsSchema,
  workflowId: z.string().nullable(),
  failure: z.object({ type: z.string(), message: z.string() }).nullable(),
});

type InboxDoc = Inbox & { _id: unknown; createdAt?: Date; updatedAt?: Date };

/** The API shape of an inbox: tokens, push secrets and import internals never leave the server. */
export function inboxView(inbox: InboxDoc) {
  return {
    id: String(inbox._id),
    type: 'individual' as const,
    name: inbox.name,
    provider: inbox.provider,
    importEmails: Boolean(inbox.importEmails),
    filterMode: inbox.filterMode,
    excludedDomains: inbox.excludedDomains ?? [],
    members: (inbox.members ?? []).map((m) => ({ userId: String(m.userId), access: m.access, inboxAdmin: Boolean(m.inboxAdmin) })),
    createdBy: String(inbox.createdBy),
    notifications: Boolean(inbox.notifications),
    happinessRatings: Boolean(inbox.happinessRatings),
    status: inbox.status,
    mailboxAddress: inbox.mailboxAddress ?? null,
    connectedAt: inbox.connectedAt ?? null,
    workflowId: inbox.workflowId ?? null,
    createdAt: inbox.createdAt,
    updatedAt: inbox.updatedAt,
  };
}

const zeroCounts = (): ImportCounts => ({
  listed: 0, imported: 0, ticketsCreated: 0, customersCreated: 0, duplicates: 0, skippedAutomated: 0, skippedExcluded: 0, skippedFiltered: 0, gone: 0,
});

/** Members must be users of the caller's site; the creator is always an inbox admin (I1). */
async function membersFor(actor: Actor, members: z.infer<typeof memberSchema>[], creatorId?: string) {
  const ids = [...new Set([...members.map((m) => m.userId), ...(creatorId ? [creatorId] : [])])];
  const known = await UserModel.countDocuments({ _id: { $in: ids }, siteId: actor.siteId });
  if (known !== ids.length) throw problems.validation('members: every member must be a user of this site');
  const list = members.map((m) => ({ userId: new Types.ObjectId(m.userId), access: m.access, inboxAdmin: m.inboxAdmin }));
  if (creatorId) {
    const creator = list.find((m) => String(m.userId) === creatorId);
    if (creator) creator.inboxAdmin = true;
    else list.unshift({ userId: new Types.ObjectId(creatorId), access: 'read_reply', inboxAdmin: true });
  }
  return list;
}

/** I11: happiness ratings can only be turned on for premium and enterprise sites. */
async function assertHappinessRatingsAllowed(siteId: string): Promise<void> {
  const site = await SiteModel.findById(siteId, { plan: 1 }).lean();
  if (site?.plan !== 'premium' && site?.plan !== 'enterprise') {
    throw new Problem(403, 'plan-required', 'Not available on this plan', 'happiness ratings need a premium or enterprise plan');
  }
}

/** Individual inboxes (I1, I8, I11) and their backfill progress (O2). */
export function addInboxRoutes(routes: RouteTable, deps: AppDeps): void {
  const notFoundOrForbidden = { 403: { ...errorResponses[404], description: 'Visible, but the caller may not manage it' }, 404: errorResponses[404] };

  routes.add({
    method: 'post', path: '/api/inboxes', tag: 'inboxes', auth: 'user', summary: 'Create an individual inbox; the creator is inbox admin (I1)',
    body: createInboxSchema,
    responses: { 201: { description: 'Created', schema: inboxViewSchema }, 400: errorResponses[400], 401: errorResponses[401], 403: { ...errorResponses[404], description: 'Plan does not allow happiness ratings' } },
  }, async ({ actor, body, res }) => {
    if (body.happinessRatings) await assertHappinessRatingsAllowed(actor.siteId);
    const inbox = await InboxModel.create({
      siteId: actor.siteId,
      name: body.name,
      provider: body.provider,
      importEmails: body.importEmails,
      filterMode: body.filterMode,
      excludedDomains: body.excludedDomains,
      members: await membersFor(actor, body.members, actor.userId),
      createdBy: actor.userId,
      notifications: body.notifications,
      happinessRatings: body.happinessRatings,
    });
    res.status(201).location(`/api/inboxes/${inbox._id}`).json(inboxView(inbox.toObject()));
  });

  routes.add({
    method: 'get', path: '/api/inboxes', tag: 'inboxes', auth: 'user', summary: 'Inboxes the caller may see (I8)',
    responses: { 200: { description: 'Inboxes', schema: z.object({ items: z.array(inboxViewSchema) }) }, 401: errorResponses[401] },
  }, async ({ actor, res }) => {
    const inboxes = await InboxModel.find(visibleInboxFilter(actor)).sort({ _id: 1 }).limit(1000).lean();
    res.json({ items: inboxes.map(inboxView) });
  });

  routes.add({
    method: 'get', path: '/api/inboxes/:id', tag: 'inboxes', auth: 'user', summary: 'One inbox',
    params: idParams,
    responses: { 200: { description: 'The inbox', schema: inboxViewSchema }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    res.json(inboxView(await loadVisibleInbox(actor, params.id)));
  });

  routes.add({
    method: 'patch', path: '/api/inboxes/:id', tag: 'inboxes', auth: 'user', summary: 'Change settings or members (owner, creator or inbox admin; I8)',
    params: idParams,
    body: updateInboxSchema,
    responses: { 200: { description: 'Updated', schema: inboxViewSchema }, 400: errorResponses[400], 401: errorResponses[401], ...notFoundOrForbidden },
  }, async ({ actor, params, body, res }) => {
    const inbox = await loadManageableInbox(actor, params.id);
    if (body.happinessRatings) await assertHappinessRatingsAllowed(actor.siteId);
    const set: Record<string, unknown> = { ...body };
    if (body.members) set.members = await membersFor(actor, body.members, String(inbox.createdBy));
    // FerretDB's findAndModify takes no projection, and the push secret is always projected out.
    await InboxModel.updateOne({ _id: inbox._id, siteId: actor.siteId }, { $set: set });
    const updated = await InboxModel.findOne({ _id: inbox._id, siteId: actor.siteId }).lean();
    if (!updated) throw problems.notFound('Inbox');
    res.json(inboxView(updated));
  });

  routes.add({
    method: 'delete', path: '/api/inboxes/:id', tag: 'inboxes', auth: 'user',
    summary: 'Delete an inbox: its import stops and its tokens are erased; tickets already imported stay',
    params: idParams,
    responses: { 204: { description: 'Deleted' }, 401: errorResponses[401], ...notFoundOrForbidden },
  }, async ({ actor, params, res }) => {
    const inbox = await loadManageableInbox(actor, params.id);
    try {
      await deps.temporal.workflow.getHandle(workflowIds.mailbox(String(inbox._id))).cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    await OAuthConnectionModel.deleteOne({ inboxId: inbox._id });
    await OAuthConsentModel.deleteMany({ inboxId: inbox._id });
    await InboxModel.deleteOne({ _id: inbox._id, siteId: actor.siteId });
    res.status(204).end();
  });

  routes.add({
    method: 'get', path: '/api/inboxes/:id/import', tag: 'inboxes', auth: 'user',
    summary: 'Backfill progress: live counts while the import runs, the stored ones afterwards (O2)',
    params: idParams,
    responses: { 200: { description: 'Import progress', schema: importProgressSchema }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const inbox = await loadVisibleInbox(actor, params.id);
    const live = inbox.workflowId ? await queryProgress(deps, String(inbox._id)) : undefined;
    const stored = inbox.import;
    const liveState = live ? (live.paused ? 'paused' : live.phase === 'following' ? 'following' : 'running') : undefined;
    res.json({
      status: inbox.status,
      state: liveState ?? stored?.state ?? 'not_started',
      live: Boolean(live),
      phase: live?.phase ?? stored?.phase ?? null,
      backfillDone: live?.backfillDone ?? Boolean(stored?.backfillDone),
      since: live?.since ?? stored?.since ?? null,
      startedAt: live?.startedAt ?? stored?.startedAt ?? null,
      counts: { ...zeroCounts(), ...(live?.counts ?? stored?.counts ?? {}) },
      workflowId: inbox.workflowId ?? null,
      failure: stored?.failure?.type ? { type: stored.failure.type, message: stored.failure.message ?? '' } : null,
    });
  });
}

async function queryProgress(deps: AppDeps, inboxId: string): Promise<MailboxProgress | undefined> {
  try {
    const handle = deps.temporal.workflow.getHandle(workflowIds.mailbox(inboxId));
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return undefined;
    return await handle.query(mailboxProgressQuery);
  } catch {
    return undefined;
  }
}
