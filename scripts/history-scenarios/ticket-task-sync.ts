import { TicketTaskModel } from '../../models';
import { eventually } from '../../test/support/eventually';
import { workflowIds } from '../../workflows/ids';
import type { HistoryScenario, RecordedWorkflow, ScenarioContext } from './scenario';
import { ticketWithTasklist } from './ticket-fixtures';

/**
 * Creates a task from a ticket, lets the run that its TASK.CREATED webhook starts finish, then
 * completes the task in Teamwork.com and records the run the TASK.COMPLETED webhook starts.
 */
async function completionRun(context: ScenarioContext, beforeCompleting: (teamworkTaskId: number) => void): Promise<RecordedWorkflow> {
  const { system, teamwork, waitUntilClosed } = context;
  const { createTask, installation } = await ticketWithTasklist(context);
  const created = await createTask('Call the customer back');
  await waitUntilClosed(created.workflowId);
  const record = await TicketTaskModel.findById(created.id).lean();
  const teamworkTaskId = record!.teamworkTaskId!;
  const handle = system.runtime.temporal.workflow.getHandle(workflowIds.ticketTaskSync(record!.siteId.toString(), teamworkTaskId));
  const closedAfter = async (since: number) => {
    const run = await handle.describe().catch(() => undefined);
    return run && run.status.name !== 'RUNNING' && run.startTime.getTime() >= since ? run : undefined;
  };
  await eventually(() => closedAfter(0), Boolean, 20_000);

  beforeCompleting(teamworkTaskId);
  const completedAt = Date.now();
  teamwork.control.completeTask({ installation, id: teamworkTaskId });
  const run = await eventually(() => closedAfter(completedAt), Boolean, 60_000);
  if (!run) throw new Error('no ticketTaskSync run followed the TASK.COMPLETED webhook');
  return { workflowId: run.workflowId, runId: run.runId };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A task created from a ticket is completed in Teamwork.com: the webhook starts a re-read that marks the ticket task completed',
    run: (context) => completionRun(context, () => undefined),
  },
  {
    name: 'retries',
    description: 'The re-read after TASK.COMPLETED meets a 500 and a 502 from Teamwork.com and is retried until it records the completion',
    run: (context) =>
      completionRun(context, (teamworkTaskId) => {
        context.teamwork.control.injectFaults({
          failRequest: [
            { method: 'GET', pathIncludes: `/tasks/${teamworkTaskId}.json`, status: 500 },
            { method: 'GET', pathIncludes: `/tasks/${teamworkTaskId}.json`, status: 502 },
          ],
        });
      }),
  },
];
