/**
 * `npm run bench:initial-sync -- --companies 10000 --contacts-per-company 5 [--rate-limit 150]`
 *
 * Times deskbridge's initial sync (signup → workflow completed; worker in a child process whose
 * peak RSS is read from /proc) against the fastest plain implementation of the same copy: a
 * non-durable loop that pages the same emulator with the same page size and bulk-writes the same
 * documents, with the same indexes, into a fresh database on the same server. The emulator runs
 * in its own process so neither side shares a CPU thread with it. The last stdout line is JSON.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient, ObjectId, type CreateIndexesOptions, type IndexSpecification } from 'mongodb';
import { freePort, startProcess, waitUntilReady } from '../infra/child-process';
import { CompanyModel, CustomerModel, emailKeyOf, nameKeyOf, siteKey } from '../models';
import { companyDomains } from '../activities/contact-sync/import-records';
import { companyFieldsOf, personFieldsOf, type TeamworkCompany, type TeamworkPerson } from '../activities/teamwork/wire';
import { maxPageSize } from '../activities/teamwork/client';
import type { RequestLogEntry } from '../emulators/teamwork';
import { peakRssMb, progress, startHarness } from '../scripts/harness';

const { values } = parseArgs({
  options: {
    companies: { type: 'string', default: '10000' },
    'contacts-per-company': { type: 'string', default: '5' },
    'rate-limit': { type: 'string' },
  },
});
const companies = Number(values.companies);
const contactsPerCompany = Number(values['contacts-per-company']);
const rateLimit = values['rate-limit'] === undefined ? 0 : Number(values['rate-limit']);
if (!Number.isInteger(companies) || companies < 1 || !Number.isInteger(contactsPerCompany) || contactsPerCompany < 0 || !Number.isInteger(rateLimit) || rateLimit < 0) {
  throw new Error('--companies must be ≥ 1, --contacts-per-company and --rate-limit ≥ 0 (integers)');
}

type Control = <T = unknown>(method: string, args?: object) => Promise<T>;

async function startEmulatorProcess(): Promise<{ url: string; control: Control; stop: () => Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'teamwork emulator',
    command: process.execPath,
    args: ['--import', 'tsx', path.resolve(__dirname, '../emulators/teamwork/main.ts'), '--port', String(port), '--rate-limit', String(rateLimit)],
  });
  await waitUntilReady(proc, () => fetch(`${url}/_emulator/`).then((r) => r.ok, () => false), 30_000);
  const control: Control = async (method, args = {}) => {
    const res = await fetch(`${url}/_emulator/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) });
    if (!res.ok) throw new Error(`emulator ${method} answered ${res.status}: ${await res.text()}`);
    return (res.status === 204 ? undefined : await res.json()) as never;
  };
  return { url, control, stop: () => proc.stop() };
}

async function runDeskbridge(apiUrl: string, baseUrl: string, apiKey: string, awaitSync: (workflowId: string) => Promise<void>): Promise<{ siteId: string; seconds: number }> {
  const started = performance.now();
  const res = await fetch(`${apiUrl}/api/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ siteName: 'Bench', slug: 'bench', owner: { email: 'owner@bench.example.com', firstName: 'Bea', lastName: 'Bench' }, teamwork: { baseUrl, apiKey } }),
  });
  const body = (await res.json()) as { site: { id: string }; workflowId: string };
  if (res.status !== 202) throw new Error(`signup answered ${res.status}: ${JSON.stringify(body)}`);
  await awaitSync(body.workflowId);
  return { siteId: body.site.id, seconds: (performance.now() - started) / 1000 };
}

/** The plain copy: page, build the documents deskbridge would write, insert them; nothing else. */
async function runBaseline(baseUrl: string, apiKey: string, mongoUri: string): Promise<{ records: number; seconds: number }> {
  const client = await new MongoClient(mongoUri).connect();
  try {
    const db = client.db(`baseline_${crypto.randomBytes(4).toString('hex')}`);
    for (const model of [CompanyModel, CustomerModel]) {
      for (const [fields, options] of model.schema.indexes()) {
        await db.collection(model.collection.collectionName).createIndex(fields as IndexSpecification, options as CreateIndexesOptions);
      }
    }
    const companiesCollection = db.collection(CompanyModel.collection.collectionName);
    const customersCollection = db.collection(CustomerModel.collection.collectionName);
    const siteId = new ObjectId();
    const authorization = `Basic ${Buffer.from(`${apiKey}:x`).toString('base64')}`;
    const getPage = async (resource: 'companies' | 'people', page: number) => {
      const res = await fetch(`${baseUrl}/projects/api/v3/${resource}.json?page=${page}&pageSize=${maxPageSize}&orderBy=id&orderMode=asc`, { headers: { authorization, accept: 'application/json' } });
      if (!res.ok) throw new Error(`baseline ${resource} page ${page} answered ${res.status}`);
      return (await res.json()) as { companies?: TeamworkCompany[]; people?: TeamworkPerson[]; meta: { page: { hasMore: boolean } } };
    };
    // The next page is already on its way while this one is written.
    async function* pages(resource: 'companies' | 'people') {
      let next = getPage(resource, 1);
      for (let page = 1; ; page += 1) {
        const body = await next;
        if (body.meta.page.hasMore) next = getPage(resource, page + 1);
        yield body;
        if (!body.meta.page.hasMore) return;
      }
    }

    const started = performance.now();
    let records = 0;
    const deskCompanyOf = new Map<number, ObjectId>();
    for await (const body of pages('companies')) {
      const now = new Date();
      const docs = body.companies!.filter((c) => !c.isOwner && c.status !== 'deleted').map((company) => {
        const fields = companyFieldsOf(company);
        const _id = new ObjectId();
        deskCompanyOf.set(company.id, _id);
        return withoutUndefined({
          _id, siteId, name: company.name.trim(), nameKey: siteKey(siteId, nameKeyOf(company.name)), website: fields.website, email: fields.email,
          domains: companyDomains(company), origin: 'teamwork', ...linkFields(siteId, company.id, fields, now), createdAt: now, updatedAt: now,
        });
      });
      if (docs.length) records += (await companiesCollection.insertMany(docs, { ordered: false })).insertedCount;
    }
    for await (const body of pages('people')) {
      const now = new Date();
      const docs = body.people!.filter((p) => !p.deleted && p.email && p.company?.id !== undefined && deskCompanyOf.has(p.company.id)).map((person) => {
        const fields = personFieldsOf(person);
        return withoutUndefined({
          siteId, firstName: fields.firstName, lastName: fields.lastName, email: person.email!.trim(), emailKey: siteKey(siteId, emailKeyOf(person.email!)),
          alternativeEmails: fields.alternativeEmails, avatarUrl: fields.avatarUrl, socialNetworks: fields.socialNetworks, companyId: deskCompanyOf.get(person.company!.id),
          origin: 'teamwork', ...linkFields(siteId, person.id, { ...fields, teamworkCompanyId: undefined }, now), createdAt: now, updatedAt: now,
        });
      });
      if (docs.length) records += (await customersCollection.insertMany(docs, { ordered: false })).insertedCount;
    }
    const seconds = (performance.now() - started) / 1000;
    await db.dropDatabase();
    return { records, seconds };
  } finally {
    await client.close();
  }
}

function linkFields(siteId: ObjectId, teamworkId: number, base: object, at: Date) {
  return { teamworkId, teamworkKey: siteKey(siteId, teamworkId), linked: true, syncBase: base, syncStatus: { state: 'synced', at } };
}

function withoutUndefined(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== undefined));
}

const isListRequest = (entry: RequestLogEntry) => entry.method === 'GET' && /\/projects\/api\/v3\/(companies|people)\.json$/.test(entry.path) && entry.query.pageSize !== '1';
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const emulator = await startEmulatorProcess();
  const harness = await startHarness();
  try {
    const { system } = harness;
    const installation = 'bench';
    const site = await emulator.control<{ baseUrl: string; apiKey: string }>('createInstallation', { name: installation, apiKey: 'bench-deskbridge-key', ownerCompanyName: 'Bench Agency' });
    // A second key on the same data: the baseline gets its own rate-limit window.
    await emulator.control('addApiKey', { installation, apiKey: 'bench-baseline-key' });
    progress(`seeding ${companies} companies × ${contactsPerCompany} contacts`);
    await emulator.control('seed', { installation, companies, contactsPerCompany });
    const people = companies * contactsPerCompany;
    const minimumRequests = Math.ceil(companies / maxPageSize) + Math.ceil(people / maxPageSize);

    const worker = await system.spawnWorkerProcess();
    const workerStartedRssMb = peakRssMb(worker.pid);
    await emulator.control('clearRequestLog');
    progress(`deskbridge initial sync${rateLimit ? ` (rate limit ${rateLimit}/min)` : ''}`);
    const desk = await runDeskbridge(system.apiUrl, site.baseUrl, site.apiKey, async (workflowId) => {
      await system.runtime.temporal.workflow.getHandle(workflowId).result();
    });
    const workerPeakRssMb = peakRssMb(worker.pid);
    const log = await emulator.control<RequestLogEntry[]>('requestLog', { installation });
    const records = (await CompanyModel.countDocuments({ siteId: desk.siteId })) + (await CustomerModel.countDocuments({ siteId: desk.siteId }));
    if (records !== companies + people) throw new Error(`deskbridge wrote ${records} records, expected ${companies + people}`);

    if (rateLimit) await emulator.control('setRateLimit', { perMinute: 0 });
    progress('baseline');
    const baseline = await runBaseline(site.baseUrl, 'bench-baseline-key', system.env.MONGODB_URI!);
    if (baseline.records !== records) throw new Error(`baseline wrote ${baseline.records} records, expected ${records}`);

    const recordsPerSec = records / desk.seconds;
    const baselineRecordsPerSec = baseline.records / baseline.seconds;
    const result: Record<string, unknown> = {
      companies,
      contactsPerCompany,
      records,
      seconds: round(desk.seconds),
      recordsPerSec: Math.round(recordsPerSec),
      baselineSeconds: round(baseline.seconds),
      baselineRecordsPerSec: Math.round(baselineRecordsPerSec),
      ratio: round(recordsPerSec / baselineRecordsPerSec),
      teamworkRequests: log.filter(isListRequest).length,
      teamworkRequestsAll: log.length,
      teamwork429s: log.filter((e) => e.status === 429).length,
      minimumRequests,
      workerPeakRssMb,
      workerStartedRssMb,
    };
    if (rateLimit) {
      // At the limit's pace the sync's fewest possible requests take this long; a fixed window
      // lets a burst go faster, down to the start of the last window they need.
      const rateLimitForcedSeconds = (minimumRequests * 60) / rateLimit;
      Object.assign(result, {
        rateLimit,
        rateLimitForcedSeconds: round(rateLimitForcedSeconds),
        rateLimitWindowFloorSeconds: Math.floor((log.length - 1) / rateLimit) * 60,
        rateLimitRatio: round(desk.seconds / rateLimitForcedSeconds),
      });
    }
    console.log(JSON.stringify(result));
  } finally {
    await harness.stop();
    await emulator.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
