import type { HistoryScenario } from './scenario';
import { ticketWithTasklist } from './ticket-fixtures';

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A task is created from a ticket in a Teamwork.com task list without a single failure',
    async run(context) {
      const { createTask } = await ticketWithTasklist(context);
      const { workflowId } = await createTask('Call the customer back');
      await context.waitUntilClosed(workflowId);
      return { workflowId };
    },
  },
  {
    name: 'retries',
    description: 'The marker search fails once (500), then Teamwork.com makes the task but the response is lost (503): the retried activity finds the task by its marker instead of making a second',
    async run(context) {
      const { createTask, tasklistId } = await ticketWithTasklist(context);
      context.teamwork.control.injectFaults({
        failRequest: [
          { method: 'POST', pathIncludes: `/tasklists/${tasklistId}/tasks.json`, status: 503, afterCommit: true },
          { method: 'GET', pathIncludes: '/projects/api/v3/tasks.json', status: 500 },
        ],
      });
      const { workflowId } = await createTask('Call the customer back');
      await context.waitUntilClosed(workflowId);
      return { workflowId };
    },
  },
];
