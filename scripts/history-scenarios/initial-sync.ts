import { signUpLinkedSite } from '../../test/support/sites';
import type { HistoryScenario } from './scenario';

/** Three 500-record pages of companies and of people, so pages run in parallel as in production. */
const seed = { companies: 1100, contactsPerCompany: 1 };

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A site with 1,100 companies and 1,100 contacts syncs without a single failure',
    async run({ system, teamwork, waitUntilClosed }) {
      const site = await signUpLinkedSite(system, teamwork, seed);
      await waitUntilClosed(site.workflowId!);
      return { workflowId: site.workflowId! };
    },
  },
  {
    name: 'retries',
    description: 'Teamwork.com answers 500, 502 and 503 and loses a webhook registration response: activities fail and are retried, the sync completes',
    async run({ system, teamwork, waitUntilClosed }) {
      const site = await signUpLinkedSite(system, teamwork, seed, () => {
        // Requests the signup's link check does not make, so the sync itself meets them.
        teamwork.control.injectFaults({
          failRequest: [
            { method: 'POST', pathIncludes: '/webhooks.json', status: 503, afterCommit: true },
            { method: 'GET', pathIncludes: '/people.json', status: 500, times: 2 },
          ],
        });
      });
      teamwork.control.injectFaults({ serverError: { next: 1, status: 502 } });
      await waitUntilClosed(site.workflowId!);
      return { workflowId: site.workflowId! };
    },
  },
  {
    name: 'permanent-failure',
    description: 'Teamwork.com rejects the API key while people are imported: the sync records the failure on the site and the workflow fails',
    async run({ system, teamwork, waitUntilClosed }) {
      const site = await signUpLinkedSite(system, teamwork, seed, () => {
        teamwork.control.injectFaults({ failRequest: { method: 'GET', pathIncludes: '/people.json', status: 401 } });
      });
      await waitUntilClosed(site.workflowId!);
      return { workflowId: site.workflowId! };
    },
  },
];
