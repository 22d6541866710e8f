import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel, CustomerModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { startInitialSync } from '../../api/start-workflows';
import { bearer, signUpLinkedSite, waitForSync } from '../support/sites';

describe('initial sync under Teamwork.com failures (C15)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, rateWindowMs: 3000 })]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });
  /** A linked site whose data appears only now, synced again under the given faults. */
  async function syncUnderFaults(seed: { companies: number; contactsPerCompany: number }, faults: Parameters<TeamworkEmulator['control']['injectFaults']>[0]) {
    const site = await signUpLinkedSite(system, teamwork);
    await waitForSync(system, site.token);
    teamwork.control.seed({ installation: site.installation, ...seed });
    teamwork.control.injectFaults(faults);
    await startInitialSync(system.runtime, site.siteId);
    const result = await system.runtime.temporal.workflow.getHandle(`initial-sync/${site.siteId}`).result();
    return { site, result };
  }

  afterEach(() => {
    teamwork.control.clearFaults();
    teamwork.control.setRateLimit({ perMinute: 0 });
  });

  test('C15 When Teamwork.com answers 429, Then the sync waits for the reset the headers name and completes exactly', async () => {
    // With a limit set, every answer (and the injected 429s) carries the window's reset header.
    teamwork.control.setRateLimit({ perMinute: 100_000 });
    const { site, result } = await syncUnderFaults({ companies: 1200, contactsPerCompany: 1 }, { rateLimit429: { next: 2 } });
    expect(result.phase).toBe('completed');
    const log = teamwork.control.requestLog({ installation: site.installation });
    const limited = log.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    const firstLimited = limited[0]!;
    const next = log.find((r) => r.at > firstLimited.at && r.status !== 429 && r.path === firstLimited.path);
    expect(next).toBeDefined();
    // The emulator's window is 3 s: a retry that honours the reset header cannot come much sooner.
    expect(new Date(next!.at).getTime() - new Date(firstLimited.at).getTime()).toBeGreaterThanOrEqual(500);
    expect(await CompanyModel.countDocuments({ siteId: site.siteId })).toBe(1200);
    expect(await CustomerModel.countDocuments({ siteId: site.siteId })).toBe(1200);
  });

  test('C15 When Teamwork.com answers 5xx, Then the pages are retried with backoff and nothing is lost or doubled', async () => {
    const { site, result } = await syncUnderFaults({ companies: 700, contactsPerCompany: 2 }, { serverError: { next: 3, status: 503 } });
    expect(result.phase).toBe('completed');
    // Injected faults are emulator-wide: whichever request comes next takes them.
    expect(teamwork.control.requestLog().filter((r) => r.status === 503).length).toBe(3);
    expect(await CompanyModel.countDocuments({ siteId: site.siteId })).toBe(700);
    expect(await CustomerModel.countDocuments({ siteId: site.siteId })).toBe(1400);
    const emails = await CustomerModel.distinct('email', { siteId: site.siteId });
    expect(emails).toHaveLength(1400);
  });

  test('C15 When Teamwork.com rejects a write with 422, Then the reason is recorded on the site, shown by the API, and not retried', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 2, contactsPerCompany: 1 }, () => {
      teamwork.control.injectFaults({ failRequest: { method: 'POST', pathIncludes: '/webhooks.json', status: 422, body: { MESSAGE: 'Webhooks are not available on this plan', STATUS: 'Error' }, times: 10 } });
    });
    const status = await waitForSync(system, site.token);
    expect(status.state).toBe('failed');
    expect(status.failure).toMatchObject({ type: 'TeamworkRejected', message: expect.stringContaining('Webhooks are not available on this plan') });
    const attempts = teamwork.control.requestLog({ installation: site.installation }).filter((r) => r.method === 'POST' && r.path.includes('/webhooks.json'));
    expect(attempts).toHaveLength(1);
    const description = await system.runtime.temporal.workflow.getHandle(`initial-sync/${site.siteId}`).describe();
    expect(description.status.name).toBe('FAILED');
    expect((await request(system.app).get('/api/sync/status').set(bearer(site.token))).body.failure.type).toBe('TeamworkRejected');
  });
});
