import request from 'supertest';
import { CustomerModel } from '../../models';
import { linkStateQuery } from '../../workflows/link';
import { workflowIds } from '../../workflows/ids';
import { eventually } from '../../test/support/eventually';
import { bearer, signUpLinkedSite, waitForSync } from '../../test/support/sites';
import type { HistoryScenario, ScenarioContext } from './scenario';

/** A Desk edit of a linked customer reaches Teamwork.com; the history is taken once the sync is in it. */
async function editInDesk({ system, teamwork }: ScenarioContext, beforeEdit?: (teamworkId: number) => void) {
  const site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 1 });
  await waitForSync(system, site.token);
  const customer = (await CustomerModel.findOne({ siteId: site.siteId, linked: true }).lean())!;
  beforeEdit?.(customer.teamworkId!);
  const res = await request(system.app).patch(`/api/customers/${customer._id}`).set(bearer(site.token)).send({ firstName: 'Renamed', socialNetworks: { twitter: '@renamed' } });
  if (res.status !== 200) throw new Error(`the Desk edit answered ${res.status}`);
  const workflowId = workflowIds.customerLink(site.siteId, String(customer._id));
  const state = await eventually(() => system.runtime.temporal.workflow.getHandle(workflowId).query(linkStateQuery), (s) => s.syncs >= 1, 60_000, 200);
  if (state.lastOutcome !== 'synced') throw new Error(`the link workflow's sync ended ${state.lastOutcome}`);
  return { workflowId };
}

export const scenarios: HistoryScenario[] = [
  {
    name: 'normal',
    description: 'A linked customer renamed in Desk is synced to its Teamwork.com contact in one activity',
    run: (context) => editInDesk(context),
  },
  {
    name: 'retries',
    description: 'Teamwork.com answers the contact update with 502 and then 503: the sync activity is retried and succeeds',
    run: (context) =>
      editInDesk(context, (teamworkId) => {
        context.teamwork.control.injectFaults({
          failRequest: [
            { method: 'PUT', pathIncludes: `/people/${teamworkId}.json`, status: 502, times: 1 },
            { method: 'PUT', pathIncludes: `/people/${teamworkId}.json`, status: 503, times: 1 },
          ],
        });
      }),
  },
];
