import { signUpLinkedSite, waitForSync } from '../../test/support/sites';
import { teamworkImportId } from '../../workflows/ids';
import { eventually } from '../../test/support/eventually';
import type { HistoryScenario, ScenarioContext } from './scenario';

/** A company created in Teamwork.com (C3): its webhook starts the import workflow, which copies it once. */
async function createInTeamwork({ system, teamwork, waitUntilClosed }: ScenarioContext, beforeCreate?: () => void) {
  const site = await signUpLinkedSite(system, teamwork, { companies: 0, contactsPerCompany: 0 });
  await waitForSync(system, site.token);
  beforeCreate?.();
  const created = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Hooli', website: 'https://hooli.example.com' } });
  const workflowId = teamworkImportId(site.siteId, 'company', created.id);
  await eventually(() => system.runtime.temporal.workflow.getHandle(workflowId).describe().then(() => true, () => false), Boolean, 30_000, 200);
  await waitUntilClosed(workflowId);
  return { workflowId };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A company created in Teamwork.com is imported into Desk, linked, by one activity',
    run: (context) => createInTeamwork(context),
  },
  {
    name: 'retries',
    description: 'Teamwork.com answers the read of the new company with 500 and 503: the import activity is retried and succeeds',
    run: (context) =>
      createInTeamwork(context, () => {
        context.teamwork.control.injectFaults({ failRequest: [{ method: 'GET', pathIncludes: '/projects/api/v3/companies/', status: 500, times: 1 }, { method: 'GET', pathIncludes: '/projects/api/v3/companies/', status: 503, times: 1 }] });
      }),
  },
];
