import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { SiteModel } from '../../models';
import { teamworkWebhookEvents } from '../../activities/contact-sync/initial-sync';
import { startTestSystem, type TestSystem } from '../support/system';
import { signUpLinkedSite } from '../support/sites';
import { auditInitialSync, killWorkerRepeatedly, seededRandom } from '../support/initial-sync-audit';

describe('initial sync with a crashing worker (C2)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([
      // A killed worker's page is handed to the next worker within seconds, not the default 20 s.
      startTestSystem({ worker: false, env: { INITIAL_SYNC_HEARTBEAT_TIMEOUT_SECONDS: '2' } }),
      startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] }),
    ]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  test('C2 When the worker process is killed at random points during a 2,000-company sync and restarted, Then 0 records are lost and 0 duplicated', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stderr.write(`crash-restart: kill schedule seed ${seed} (rerun with CRASH_SEED=${seed})\n`);
    // Slow list responses stretch the sync over several kill windows.
    teamwork.control.injectFaults({ latencyMs: 700 });
    const site = await signUpLinkedSite(system, teamwork, { companies: 2000, contactsPerCompany: 2 });
    const finished = async () => ['completed', 'failed'].includes((await SiteModel.findById(site.siteId, { initialSync: 1 }).lean())?.initialSync?.state ?? '');

    const first = await system.spawnWorkerProcess();
    const { kills } = await killWorkerRepeatedly(() => system.spawnWorkerProcess(), first, { kills: 4, random: seededRandom(seed), minUptimeMs: 500, maxUptimeMs: 4000, finished });
    while (!(await finished())) await new Promise((r) => setTimeout(r, 250));

    expect(kills).toBeGreaterThanOrEqual(3);
    const stored = await SiteModel.findById(site.siteId).lean();
    expect(stored?.initialSync?.state).toBe('completed');
    const audit = await auditInitialSync(teamwork, site.installation, site.siteId);
    expect(audit).toEqual({
      expectedCompanies: 2000,
      expectedCustomers: 4000,
      companies: 2000,
      customers: 4000,
      lostCompanies: 0,
      lostCustomers: 0,
      duplicatedCompanies: 0,
      duplicatedCustomers: 0,
      duplicateEmails: 0,
      wrongLinks: 0,
      // Its webhook registrations, one per event, each made once.
      teamworkWrites: teamworkWebhookEvents.length,
      duplicatedTeamworkWrites: 0,
    });
  });
});
