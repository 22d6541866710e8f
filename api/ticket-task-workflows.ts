import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { siteKey, TicketTaskModel, ticketTaskIdInMarker } from '../models';
import { workflowIds } from '../workflows/ids';
import { entityAttribute, siteIdAttribute } from '../workflows/search-attributes';
import { ticketTaskChangedSignal, type ticketTask, type ticketTaskSync } from '../workflows/ticket-task';
import type { AppDeps } from './deps';

/**
 * Starts (or joins) the workflow that creates a ticket task's Teamwork.com task. A finished one
 * may run again: its activity adopts the task already made, so a repeat is harmless (I13).
 */
export async function startTicketTask(deps: Pick<AppDeps, 'temporal' | 'config'>, input: { siteId: string; ticketTaskId: string; workflowId: string }): Promise<void> {
  await deps.temporal.workflow.start<typeof ticketTask>('ticketTask', {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    workflowId: input.workflowId,
    args: [{ siteId: input.siteId, ticketTaskId: input.ticketTaskId }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: siteIdAttribute, value: input.siteId },
      { key: entityAttribute, value: `ticket-task:${input.ticketTaskId}` },
    ],
  });
}

/**
 * A Teamwork.com task webhook: only tasks made from tickets matter. They are known by their id,
 * or (when the creation response was lost and the id is not stored yet) by the marker in their
 * description. The payload is a hint; `ticketTaskSync` re-reads the task.
 */
export async function routeTeamworkTaskChange(deps: Pick<AppDeps, 'temporal' | 'config'>, siteId: string, teamworkTaskId: number, descriptionHint: string | undefined): Promise<'accepted' | 'ignored'> {
  const markedId = ticketTaskIdInMarker(descriptionHint);
  const known =
    (await TicketTaskModel.exists({ teamworkKey: siteKey(siteId, teamworkTaskId) })) ??
    (markedId ? await TicketTaskModel.exists({ _id: markedId, siteId }) : null);
  if (!known) return 'ignored';
  await deps.temporal.workflow.signalWithStart<typeof ticketTaskSync, []>('ticketTaskSync', {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    workflowId: workflowIds.ticketTaskSync(siteId, teamworkTaskId),
    args: [{ siteId, teamworkTaskId }],
    signal: ticketTaskChangedSignal,
    signalArgs: [],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: siteIdAttribute, value: siteId },
      { key: entityAttribute, value: `teamwork-task:${teamworkTaskId}` },
    ],
  });
  return 'accepted';
}
