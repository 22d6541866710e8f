import crypto from 'node:crypto';
import { startTeamworkEmulator } from '../emulators/teamwork';
import { delay, type ManagedProcess } from '../infra';
import { SiteModel } from '../models';
import { maxPageSize } from '../activities/teamwork/client';
import { auditInitialSync, killWorkerRepeatedly, seededRandom, type InitialSyncAudit } from '../test/support/initial-sync-audit';
import { databaseOutage, progress, startHarness } from './harness';

export interface InitialSyncChaosOptions {
  companies: number;
  contactsPerCompany: number;
  kills: number;
  /** Share of Teamwork.com calls answered 429 or 5xx. */
  faultRate: number;
  databaseOutageSeconds: number;
  seed: number;
}

export const fullSizeInitialSyncChaos: Omit<InitialSyncChaosOptions, 'seed'> = {
  companies: 5000,
  contactsPerCompany: 4,
  kills: 20,
  faultRate: 0.2,
  databaseOutageSeconds: 30,
};

export interface InitialSyncChaosResult extends InitialSyncAudit {
  scenario: 'initial-sync';
  seed: number;
  state: string;
  seconds: number;
  kills: number;
  workerStarts: number;
  workerStartsFailed: number;
  databaseOutageSeconds: number;
  teamworkCalls: number;
  teamworkCallsFailedByFault: number;
  listRequests: number;
  minimumListRequests: number;
}

/**
 * O2/C2 under fire: an initial sync while the worker is SIGKILLed at random moments, Teamwork.com
 * answers a share of calls with 429/5xx, and the database is stopped for a while mid-sync. Ends
 * with the exact-count audit (0 lost, 0 duplicated, every link right).
 */
export async function runInitialSyncChaos(options: InitialSyncChaosOptions): Promise<InitialSyncChaosResult> {
  const random = seededRandom(options.seed);
  // A short window keeps each injected 429's honest Reset (the rest of the window) to seconds.
  const teamwork = await startTeamworkEmulator({ rateLimitPerMinute: 100_000, rateWindowMs: 3000, webhookRetryDelaysMs: [], faultSeed: options.seed });
  const harness = await startHarness({ INITIAL_SYNC_HEARTBEAT_TIMEOUT_SECONDS: '3' });
  const { system, infra } = harness;
  const mongo = infra.mongo;
  if (!mongo.pause || !mongo.resume) throw new Error('the database outage needs the embedded database: unset MONGODB_URI');
  let workerStarts = 0;
  let workerStartsFailed = 0;
  // A supervisor's restart: a worker that cannot come up (the database is down) is started again.
  const spawnWorker = async (): Promise<ManagedProcess> => {
    for (;;) {
      try {
        const worker = await system.spawnWorkerProcess();
        workerStarts += 1;
        return worker;
      } catch (err) {
        workerStartsFailed += 1;
        progress(`worker did not start (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); starting another`);
        await delay(1000);
      }
    }
  };
  try {
    const installation = `chaos${crypto.randomBytes(3).toString('hex')}`;
    const site = teamwork.control.createInstallation({ name: installation, apiKey: `key-${installation}`, ownerCompanyName: 'Chaos Agency' });
    teamwork.control.seed({ installation, companies: options.companies, contactsPerCompany: options.contactsPerCompany });
    const res = await fetch(`${system.apiUrl}/api/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ siteName: 'Chaos', slug: installation, owner: { email: `owner@${installation}.example.com`, firstName: 'Cay', lastName: 'Oss' }, teamwork: { baseUrl: site.baseUrl, apiKey: site.apiKey } }),
    });
    const signup = (await res.json()) as { site: { id: string } };
    if (res.status !== 202) throw new Error(`signup answered ${res.status}: ${JSON.stringify(signup)}`);
    const siteId = signup.site.id;
    const started = Date.now();
    // Each kind of fault gets half the share; the second draw only happens when the first missed.
    const half = options.faultRate / 2;
    teamwork.control.injectFaults({ latencyMs: 1200, rateLimit429: { probability: half }, serverError: { probability: half / (1 - half), status: 503 } });

    let state = '';
    const finished = async () => {
      state = (await SiteModel.findById(siteId, { initialSync: 1 }).lean().catch(() => null))?.initialSync?.state ?? state;
      return state === 'completed' || state === 'failed';
    };
    const outage = databaseOutage(mongo, { afterMs: 10_000 + random() * 20_000, seconds: options.databaseOutageSeconds, finished });

    progress(`sync of ${options.companies} companies × ${options.contactsPerCompany} contacts; ${options.kills} kills; seed ${options.seed}`);
    const first = await spawnWorker();
    const { kills } = await killWorkerRepeatedly(spawnWorker, first, {
      kills: options.kills,
      random,
      minUptimeMs: 1000,
      maxUptimeMs: 6000,
      finished,
    });
    progress(`${kills} kills made; waiting for the sync to finish`);
    const databaseOutageSeconds = await outage;
    while (!(await finished())) await delay(500);
    const seconds = (Date.now() - started) / 1000;
    teamwork.control.clearFaults();

    const log = teamwork.control.requestLog({ installation });
    const audit = await auditInitialSync(teamwork, installation, siteId);
    const listRequests = log.filter((e) => e.method === 'GET' && /\/projects\/api\/v3\/(companies|people)\.json$/.test(e.path) && e.query.pageSize !== '1');
    return {
      scenario: 'initial-sync',
      seed: options.seed,
      state,
      seconds: Math.round(seconds),
      kills,
      workerStarts,
      workerStartsFailed,
      databaseOutageSeconds: Math.round(databaseOutageSeconds),
      teamworkCalls: log.length,
      teamworkCallsFailedByFault: log.filter((e) => e.status === 429 || e.status === 503).length,
      listRequests: listRequests.length,
      minimumListRequests: Math.ceil((options.companies + 1) / maxPageSize) + Math.ceil((options.companies * options.contactsPerCompany + 1) / maxPageSize),
      ...audit,
    };
  } finally {
    await teamwork.close();
    await harness.stop();
  }
}
