import { ActivityFailure, ApplicationFailure, condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { TicketTaskActivities } from '../activities/tasks/ticket-tasks';

export interface TicketTaskInput {
  siteId: string;
  /** The TicketTask record the API stored (pending) before starting this workflow. */
  ticketTaskId: string;
  heartbeatTimeoutSeconds?: number;
}

const activitiesFor = (heartbeatTimeoutSeconds = 20) =>
  proxyActivities<TicketTaskActivities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });

/**
 * Creates the Teamwork.com task of one ticket task (I13). The activity is idempotent (it adopts
 * a task an earlier attempt made), so Temporal may retry it freely; a permanent refusal is
 * written on the ticket task and fails the workflow, where ops see it.
 */
export async function ticketTask(input: TicketTaskInput): Promise<{ teamworkTaskId: number; adopted: boolean }> {
  const { createTeamworkTaskForTicket, recordTicketTaskFailure } = activitiesFor(input.heartbeatTimeoutSeconds);
  try {
    return await createTeamworkTaskForTicket({ siteId: input.siteId, ticketTaskId: input.ticketTaskId });
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
      await recordTicketTaskFailure({ siteId: input.siteId, ticketTaskId: input.ticketTaskId, type: err.cause.type ?? 'Error', message: err.cause.message });
    }
    throw err;
  }
}

export interface TicketTaskSyncInput {
  siteId: string;
  teamworkTaskId: number;
  heartbeatTimeoutSeconds?: number;
}

/** A hint that a Teamwork.com task changed; the workflow re-reads the task, never trusts the payload. */
export const ticketTaskChangedSignal = defineSignal('ticketTaskChanged');

/**
 * Keeps one ticket task's state current from Teamwork.com task webhooks (I13). Started with
 * signal-with-start per delivery: changes arriving while a re-read runs mark it dirty and cause
 * one more re-read, so bursts collapse and the last state always wins.
 */
export async function ticketTaskSync(input: TicketTaskSyncInput): Promise<{ refreshes: number }> {
  const { refreshTicketTask } = activitiesFor(input.heartbeatTimeoutSeconds);
  let pending = false;
  let refreshes = 0;
  setHandler(ticketTaskChangedSignal, () => {
    pending = true;
  });
  await condition(() => pending);
  while (pending) {
    pending = false;
    await refreshTicketTask({ siteId: input.siteId, teamworkTaskId: input.teamworkTaskId });
    refreshes++;
  }
  return { refreshes };
}
