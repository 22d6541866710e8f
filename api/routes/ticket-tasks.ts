import crypto from 'node:crypto';
import { Types } from 'mongoose';
import { z } from 'zod';
import { SiteModel, TicketTaskModel, ticketTaskStates, type TicketTask } from '../../models';
import { isDuplicateKey } from '../../activities/failures';
import { workflowIds } from '../../workflows/ids';
import { loadTicketFor } from '../access/ticket-access';
import type { AppDeps } from '../deps';
import { problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, idParams } from '../schemas';
import { startTicketTask } from '../ticket-task-workflows';

const isCalendarDay = (day: string) => {
  const parsed = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === day;
};

const createTaskBodySchema = z.strictObject({
  tasklistId: z.number().int().positive(),
  title: z.string().trim().min(1).max(250),
  description: z.string().max(10_000).optional(),
  /** A Teamwork.com person id. */
  assigneeId: z.number().int().positive().optional(),
  dueDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').refine(isCalendarDay, 'not a calendar day').optional(),
  /** The client's idempotency key: the same key for the same ticket is the same task. */
  requestId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" or "-", at most 100').optional(),
});

export const ticketTaskViewSchema = z.object({
  id: z.string(),
  ticketId: z.string(),
  requestId: z.string(),
  tasklistId: z.number(),
  title: z.string(),
  description: z.string(),
  assigneeId: z.number().nullable(),
  dueDate: z.string().nullable(),
  state: z.enum(ticketTaskStates),
  progress: z.number(),
  teamworkTaskId: z.number().nullable(),
  failure: z.object({ type: z.string(), message: z.string() }).nullable(),
  workflowId: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

type StoredTicketTask = TicketTask & { _id: unknown; createdAt?: Date; updatedAt?: Date };

export function ticketTaskView(t: StoredTicketTask) {
  return {
    id: String(t._id),
    ticketId: String(t.ticketId),
    requestId: t.requestKey.slice(t.requestKey.indexOf(':') + 1),
    tasklistId: t.tasklistId,
    title: t.title,
    description: t.description ?? '',
    assigneeId: t.assigneeId ?? null,
    dueDate: t.dueDate ?? null,
    state: t.state,
    progress: t.progress ?? 0,
    teamworkTaskId: t.teamworkTaskId ?? null,
    failure: t.failure?.type ? { type: t.failure.type, message: t.failure.message ?? '' } : null,
    workflowId: t.workflowId,
    createdBy: String(t.createdBy),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

/**
 * Teamwork.com tasks created from tickets (I13): creating one takes `read_reply` access or more,
 * reading them any access to the ticket (I8).
 */
export function addTicketTaskRoutes(routes: RouteTable, deps: AppDeps): void {
  routes.add({
    method: 'post', path: '/api/tickets/:id/tasks', tag: 'tickets', auth: 'user',
    summary: 'Create a Teamwork.com task from the ticket; created in the background, idempotent per requestId',
    params: idParams,
    body: createTaskBodySchema,
    responses: {
      202: { description: 'Accepted; the task is created by a durable workflow', schema: ticketTaskViewSchema },
      400: errorResponses[400],
      401: errorResponses[401],
      403: { ...errorResponses[404], description: 'The caller sees the ticket but has read-only access' },
      404: errorResponses[404],
      409: { ...errorResponses[400], description: 'The site is not linked to Teamwork.com, or the requestId was used for a different task' },
      503: { ...errorResponses[400], description: 'The workflow could not be started; nothing was stored' },
    },
  }, async ({ actor, params, body, res }) => {
    const { ticket } = await loadTicketFor(actor, params.id, 'reply');
    const site = await SiteModel.findById(actor.siteId, { teamwork: 1 }).lean();
    if (!site?.teamwork?.baseUrl) throw problems.conflict('the site is not linked to Teamwork.com');

    const requestId = body.requestId ?? crypto.randomUUID();
    const ticketId = String(ticket._id);
    const fields = {
      siteId: ticket.siteId,
      ticketId: ticket._id,
      requestKey: `${ticketId}:${requestId}`,
      workflowId: workflowIds.ticketTask(ticketId, requestId),
      tasklistId: body.tasklistId,
      title: body.title,
      description: body.description ?? '',
      assigneeId: body.assigneeId,
      dueDate: body.dueDate,
      createdBy: new Types.ObjectId(actor.userId),
    };
    let record: StoredTicketTask;
    let fresh = true;
    try {
      record = (await TicketTaskModel.create(fields)).toObject();
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      fresh = false;
      record = (await TicketTaskModel.findOne({ requestKey: fields.requestKey }).lean())!;
      if (record.tasklistId !== fields.tasklistId || record.title !== fields.title) throw problems.conflict(`requestId ${requestId} was used for a different task of this ticket`);
    }

    try {
      await startTicketTask(deps, { siteId: actor.siteId, ticketTaskId: String(record._id), workflowId: record.workflowId });
    } catch (err) {
      if (fresh) await TicketTaskModel.deleteOne({ _id: record._id, state: 'pending' }).catch(() => undefined);
      deps.logger.warn({ err, ticketId }, 'ticket task workflow could not be started');
      throw problems.unavailable('the task could not be handed over; retry with the same requestId');
    }
    res.status(202).location(`/api/tickets/${ticketId}/tasks`).json(ticketTaskView(record));
  });

  routes.add({
    method: 'get', path: '/api/tickets/:id/tasks', tag: 'tickets', auth: 'user', summary: "The ticket's Teamwork.com tasks with their current state, oldest first",
    params: idParams,
    responses: { 200: { description: 'The tasks', schema: z.object({ items: z.array(ticketTaskViewSchema) }) }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const { ticket } = await loadTicketFor(actor, params.id, 'view');
    const tasks = await TicketTaskModel.find({ ticketId: ticket._id, siteId: ticket.siteId }).sort({ _id: 1 }).limit(500).lean();
    res.json({ items: tasks.map(ticketTaskView) });
  });
}
