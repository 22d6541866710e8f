import request from 'supertest';
import { CompanyModel } from '../../models';
import { linkStateQuery } from '../../workflows/link';
import { workflowIds } from '../../workflows/ids';
import { eventually } from '../../test/support/eventually';
import { bearer, signUpLinkedSite, waitForSync } from '../../test/support/sites';
import type { HistoryScenario, ScenarioContext } from './scenario';

/**
 * A Desk edit of a linked company reaches Teamwork.com through its link workflow. The workflow
 * then idles waiting for the next change, so the history is taken once the sync is in it.
 */
async function editInDesk({ system, teamwork }: ScenarioContext, beforeEdit?: (teamworkId: number) => void) {
  const site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 0 });
  await waitForSync(system, site.token);
  const company = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
  beforeEdit?.(company.teamworkId!);
  const res = await request(system.app).patch(`/api/companies/${company._id}`).set(bearer(site.token)).send({ name: 'Renamed in Desk', website: 'https://renamed.example.com' });
  if (res.status !== 200) throw new Error(`the Desk edit answered ${res.status}`);
  const workflowId = workflowIds.companyLink(site.siteId, String(company._id));
  const state = await eventually(() => system.runtime.temporal.workflow.getHandle(workflowId).query(linkStateQuery), (s) => s.syncs >= 1, 60_000, 200);
  if (state.lastOutcome !== 'synced') throw new Error(`the link workflow's sync ended ${state.lastOutcome}`);
  return { workflowId };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A linked company renamed in Desk is synced to Teamwork.com in one activity',
    run: (context) => editInDesk(context),
  },
  {
    name: 'retries',
    description: 'Teamwork.com answers the company update with 503 twice and 500 once: the sync activity is retried and succeeds',
    run: (context) =>
      editInDesk(context, (teamworkId) => {
        context.teamwork.control.injectFaults({
          failRequest: [
            { method: 'PATCH', pathIncludes: `/companies/${teamworkId}.json`, status: 503, times: 2 },
            { method: 'GET', pathIncludes: `/companies/${teamworkId}.json`, status: 500, times: 1 },
          ],
        });
      }),
  },
];
