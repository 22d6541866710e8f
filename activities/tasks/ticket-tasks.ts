import { ApplicationFailure } from '@temporalio/common';
import { Types } from 'mongoose';
import { siteKey, TicketTaskModel, ticketTaskIdInMarker, ticketTaskMarker, type TicketTask, type TicketTaskState } from '../../models';
import type { SecretBox } from '../../lib/secrets';
import { isDuplicateKey, runActivity } from '../failures';
import { teamworkClientForSite } from '../contact-sync/site-access';
import type { TeamworkClient, TeamworkClientFactory } from '../teamwork/client';
import { TeamworkError, TeamworkFailure } from '../teamwork/errors';
import type { TeamworkTask } from '../teamwork/wire';

export interface TicketTaskDeps {
  secrets: SecretBox;
  teamwork: TeamworkClientFactory;
  publicBaseUrl: () => string;
}

export const TicketTaskFailure = { missing: 'TicketTaskMissing' } as const;

/**
 * Teamwork.com's clock is not ours: a task an earlier attempt created is at most this much older
 * than our record says, so the marker search only reads tasks changed since then.
 */
const clockSkewAllowanceMs = 24 * 60 * 60 * 1000;

export function backLinkLine(publicBaseUrl: string, ticketId: string, ticketTaskId: string): string {
  return `Created from Teamwork Desk ticket ${ticketId}: ${publicBaseUrl}/api/tickets/${ticketId} ${ticketTaskMarker(ticketTaskId)}`;
}

export function createTicketTaskActivities(deps: TicketTaskDeps) {
  return {
    /**
     * Creates the Teamwork.com task of a ticket task (I13), idempotently: a task that already
     * carries this record's marker in the task list is adopted instead, so a retry after a lost
     * response (the task was made, the answer never came) never makes a second one.
     */
    async createTeamworkTaskForTicket(input: { siteId: string; ticketTaskId: string }): Promise<{ teamworkTaskId: number; adopted: boolean }> {
      return runActivity(async () => {
        const record = await TicketTaskModel.findOne({ _id: input.ticketTaskId, siteId: input.siteId }).lean();
        if (!record) throw ApplicationFailure.create({ type: TicketTaskFailure.missing, message: `ticket task ${input.ticketTaskId} does not exist`, nonRetryable: true });
        if (record.teamworkTaskId) return { teamworkTaskId: record.teamworkTaskId, adopted: true };
        const { client } = await teamworkClientForSite(input.siteId, deps.secrets, deps.teamwork);
        const earlier = await findMarkedTask(client, record);
        const task = earlier ?? (await client.createTask(record.tasklistId, {
          name: record.title,
          description: [record.description, backLinkLine(deps.publicBaseUrl(), String(record.ticketId), String(record._id))].filter(Boolean).join('\n\n'),
          assigneeUserIds: record.assigneeId ? [record.assigneeId] : undefined,
          dueAt: record.dueDate ?? undefined,
        }));
        await linkAndApply(input.siteId, record._id, task);
        return { teamworkTaskId: task.id, adopted: Boolean(earlier) };
      });
    },

    /** Makes a permanent failure visible on the ticket's task list (O3). */
    async recordTicketTaskFailure(input: { siteId: string; ticketTaskId: string; type: string; message: string }): Promise<void> {
      await TicketTaskModel.updateOne(
        { _id: input.ticketTaskId, siteId: input.siteId, teamworkTaskId: { $exists: false } },
        { $set: { state: 'failed', failure: { type: input.type, message: input.message } } },
      );
    },

    /**
     * Re-reads one Teamwork.com task and copies its state to the ticket task it belongs to: found
     * by its id, or, for a task whose creation response was lost, by the marker in its description.
     */
    async refreshTicketTask(input: { siteId: string; teamworkTaskId: number }): Promise<{ state: TicketTaskState | 'unknown' }> {
      return runActivity(async () => {
        const known = await TicketTaskModel.findOne({ teamworkKey: siteKey(input.siteId, input.teamworkTaskId) }, { _id: 1 }).lean();
        const { client } = await teamworkClientForSite(input.siteId, deps.secrets, deps.teamwork);
        let task: TeamworkTask;
        try {
          task = await client.getTask(input.teamworkTaskId);
        } catch (err) {
          if (!(err instanceof TeamworkError && err.type === TeamworkFailure.notFound) || !known) throw err;
          await TicketTaskModel.updateOne({ _id: known._id }, { $set: { state: 'deleted' } });
          return { state: 'deleted' };
        }
        const markedId = ticketTaskIdInMarker(task.description);
        const recordId = known?._id ?? (markedId ? new Types.ObjectId(markedId) : undefined);
        if (!recordId || !(await TicketTaskModel.exists({ _id: recordId, siteId: input.siteId }))) return { state: 'unknown' };
        await linkAndApply(input.siteId, recordId, task);
        return { state: stateOf(task.status) };
      });
    },
  };
}

export type TicketTaskActivities = ReturnType<typeof createTicketTaskActivities>;

async function findMarkedTask(client: TeamworkClient, record: TicketTask & { _id: Types.ObjectId; createdAt?: Date }): Promise<TeamworkTask | undefined> {
  const since = new Date((record.createdAt ?? new Date()).getTime() - clockSkewAllowanceMs).toISOString();
  for (let page = 1; ; page++) {
    const listed = await client.listTasks({ page, tasklistIds: [record.tasklistId], updatedAfter: since });
    const found = listed.items.find((task) => ticketTaskIdInMarker(task.description) === String(record._id));
    if (found) return found;
    if (!listed.hasMore) return undefined;
  }
}

const teamworkTaskStates: readonly TicketTaskState[] = ['new', 'reopened', 'completed', 'deleted'];

/** Teamwork.com statuses deskbridge does not know (it may add some) read as an open task. */
function stateOf(status: string): TicketTaskState {
  return teamworkTaskStates.find((state) => state === status) ?? 'new';
}

/**
 * Records the link and the task's state, unless a newer state is already held: re-reads may
 * finish out of order, and Teamwork.com's `updatedAt` only grows.
 */
async function linkAndApply(siteId: string, recordId: Types.ObjectId, task: TeamworkTask): Promise<void> {
  const state = {
    teamworkTaskId: task.id,
    teamworkKey: siteKey(siteId, task.id),
    state: stateOf(task.status),
    progress: task.progress,
    teamworkUpdatedAt: task.updatedAt,
    failure: null,
  };
  const notNewer = task.updatedAt ? { $or: [{ teamworkUpdatedAt: { $exists: false } }, { teamworkUpdatedAt: null }, { teamworkUpdatedAt: { $lte: task.updatedAt } }] } : {};
  try {
    await TicketTaskModel.updateOne({ _id: recordId, siteId, ...notNewer }, { $set: state });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    throw ApplicationFailure.create({ type: 'TicketTaskConflict', message: `Teamwork.com task ${task.id} is already linked to another ticket task`, nonRetryable: true });
  }
}
