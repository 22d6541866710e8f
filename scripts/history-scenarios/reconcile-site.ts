import { signUpLinkedSite, waitForSync } from '../../test/support/sites';
import { CompanyModel } from '../../models';
import { eventually } from '../../test/support/eventually';
import type { HistoryScenario, ScenarioContext } from './scenario';

/**
 * A company created in Teamwork.com whose webhook is lost; one reconciliation pass (as the site's
 * schedule would run it) finds it and hands it to the import.
 */
async function reconcileLostWebhook({ system, teamwork }: ScenarioContext, name: string, beforeReconcile?: () => void) {
  const site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 0 });
  await waitForSync(system, site.token);
  teamwork.control.injectFaults({ dropWebhooks: { next: 1 } });
  const created = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Pied Piper' } });
  beforeReconcile?.();
  const workflowId = `reconcile/${site.siteId}/${name}`;
  await system.runtime.temporal.workflow.execute('reconcileSite', { taskQueue: system.config.TEMPORAL_TASK_QUEUE, workflowId, args: [{ siteId: site.siteId }] });
  const imported = await eventually(() => CompanyModel.exists({ siteId: site.siteId, teamworkId: created.id }), Boolean, 30_000, 200);
  if (!imported) throw new Error('reconciliation did not import the company whose webhook was lost');
  return { workflowId };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A reconciliation pass finds a company whose webhook was lost and hands it to the import',
    run: (context) => reconcileLostWebhook(context, 'normal'),
  },
  {
    name: 'retries',
    description: 'Teamwork.com answers the changed-companies list with 502: the reconciliation activity is retried and the pass completes',
    run: (context) =>
      reconcileLostWebhook(context, 'retries', () => {
        context.teamwork.control.injectFaults({ failRequest: { method: 'GET', pathIncludes: '/projects/api/v3/companies.json', status: 502, times: 1 } });
      }),
  },
];
