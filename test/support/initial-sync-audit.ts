import type { TeamworkEmulator } from '../../emulators/teamwork';
import { delay, type ManagedProcess } from '../../infra';
import { CompanyModel, CustomerModel } from '../../models';

/**
 * What an initial sync left behind, held against the Teamwork.com site it copied: every external
 * company and every person of those companies must be exactly one linked Desk record (C1, C2).
 * Shared by the crash test and `npm run chaos`, which both end with these exact counts.
 */
export interface InitialSyncAudit {
  expectedCompanies: number;
  expectedCustomers: number;
  companies: number;
  customers: number;
  lostCompanies: number;
  lostCustomers: number;
  /** Desk records beyond one per Teamwork.com record. */
  duplicatedCompanies: number;
  duplicatedCustomers: number;
  duplicateEmails: number;
  /** Records linked to a Teamwork.com id whose data (name, email, company) is not theirs. */
  wrongLinks: number;
  /** Writes Teamwork.com accepted from deskbridge, and how many of them repeated an earlier one. */
  teamworkWrites: number;
  duplicatedTeamworkWrites: number;
}

export async function auditInitialSync(teamwork: TeamworkEmulator, installation: string, siteId: string): Promise<InitialSyncAudit> {
  const twCompanies = teamwork.control.listCompanies({ installation }).filter((c) => !c.isOwner && c.status !== 'deleted');
  const twCompanyIds = new Set(twCompanies.map((c) => c.id));
  const twPeople = teamwork.control.listPeople({ installation }).filter((p) => !p.deleted && p.companyId !== undefined && twCompanyIds.has(p.companyId));
  const companies = await CompanyModel.find({ siteId }, { teamworkId: 1, name: 1, linked: 1 }).lean();
  const customers = await CustomerModel.find({ siteId }, { teamworkId: 1, email: 1, emailKey: 1, companyId: 1, linked: 1 }).lean();

  const deskCompanyOfTeamworkId = new Map<number, string>();
  let wrongLinks = 0;
  const twCompanyById = new Map(twCompanies.map((c) => [c.id, c]));
  for (const company of companies) {
    const source = company.teamworkId === undefined || company.teamworkId === null ? undefined : twCompanyById.get(company.teamworkId);
    if (!source || deskCompanyOfTeamworkId.has(source.id)) continue;
    deskCompanyOfTeamworkId.set(source.id, String(company._id));
    if (!company.linked || company.name !== source.name.trim()) wrongLinks += 1;
  }
  const linkedPeople = new Set<number>();
  const twPersonById = new Map(twPeople.map((p) => [p.id, p]));
  for (const customer of customers) {
    const source = customer.teamworkId === undefined || customer.teamworkId === null ? undefined : twPersonById.get(customer.teamworkId);
    if (!source || linkedPeople.has(source.id)) continue;
    linkedPeople.add(source.id);
    const rightCompany = String(customer.companyId) === deskCompanyOfTeamworkId.get(source.companyId!);
    if (!customer.linked || customer.email !== source.email || !rightCompany) wrongLinks += 1;
  }

  const writes = teamwork.control.requestLog({ installation }).filter((entry) => entry.method !== 'GET' && entry.status < 300);
  // The initial sync writes nothing to Teamwork.com but its webhook registrations.
  const registered = teamwork.control.listWebhooks({ installation });
  const distinctRegistrations = new Set(registered.map((hook) => `${hook.event}\u0000${hook.url}`)).size;

  return {
    expectedCompanies: twCompanies.length,
    expectedCustomers: twPeople.length,
    companies: companies.length,
    customers: customers.length,
    lostCompanies: twCompanies.length - deskCompanyOfTeamworkId.size,
    lostCustomers: twPeople.length - linkedPeople.size,
    duplicatedCompanies: companies.length - deskCompanyOfTeamworkId.size,
    duplicatedCustomers: customers.length - linkedPeople.size,
    duplicateEmails: customers.length - new Set(customers.map((c) => c.emailKey)).size,
    wrongLinks,
    teamworkWrites: writes.length,
    duplicatedTeamworkWrites: writes.length - distinctRegistrations,
  };
}

/** Seeded, so a failing crash schedule can be replayed from its printed seed. */
export { createRandom as seededRandom } from '../../emulators/random';

export interface KillSchedule {
  kills: number;
  random: () => number;
  /** The worker runs this long (uniformly drawn) after it is ready before it is killed. */
  minUptimeMs: number;
  maxUptimeMs: number;
  /** Stops the killing early once the work is done. */
  finished: () => Promise<boolean>;
}

/**
 * SIGKILLs the worker process at random moments and starts a fresh one each time, as a crashing
 * host would. Resolves with the worker left running and the number of kills made.
 */
export async function killWorkerRepeatedly(
  spawnWorker: () => Promise<ManagedProcess>,
  firstWorker: ManagedProcess,
  schedule: KillSchedule,
): Promise<{ worker: ManagedProcess; kills: number }> {
  let worker = firstWorker;
  let kills = 0;
  while (kills < schedule.kills) {
    const uptime = schedule.minUptimeMs + schedule.random() * (schedule.maxUptimeMs - schedule.minUptimeMs);
    const until = Date.now() + uptime;
    while (Date.now() < until && !(await schedule.finished())) await delay(Math.min(250, Math.max(0, until - Date.now())));
    if (await schedule.finished()) break;
    const alive = worker.child.exitCode === null && worker.child.signalCode === null;
    if (alive) {
      const exited = new Promise((resolve) => worker.child.once('exit', resolve));
      worker.child.kill('SIGKILL');
      await exited;
    }
    kills += 1;
    worker = await spawnWorker();
  }
  return { worker, kills };
}
