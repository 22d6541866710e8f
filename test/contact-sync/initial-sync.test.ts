import request from 'supertest';
import { Types } from 'mongoose';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel, CustomerModel, SiteModel, siteKey } from '../../models';
import { startInitialSync } from '../../api/start-workflows';
import { teamworkWebhookEvents } from '../../activities/contact-sync/initial-sync';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, signUpLinkedSite, waitForSync } from '../support/sites';

describe('initial auto-sync (C1, C2, C10, C12, O1, O2)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] })]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  test('C1 When a site signs up with a Teamwork.com link, Then every external company and its users and contacts become linked Desk records, never the owner company', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 30, contactsPerCompany: 3, usersPerCompany: 1 }, (installation) => {
      const owner = teamwork.control.listCompanies({ installation }).find((c) => c.isOwner)!;
      teamwork.control.createPerson({ installation, person: { firstName: 'Agency', lastName: 'Staff', email: `staff@${installation}.agency.example.com`, companyId: owner.id, type: 'account' } });
    });
    expect(site.workflowId).toBe(`initial-sync/${site.siteId}`);
    const status = await waitForSync(system, site.token);
    expect(status.state).toBe('completed');

    const twCompanies = teamwork.control.listCompanies({ installation: site.installation }).filter((c) => !c.isOwner);
    const twPeople = teamwork.control.listPeople({ installation: site.installation }).filter((p) => twCompanies.some((c) => c.id === p.companyId));
    const companies = await CompanyModel.find({ siteId: site.siteId }).lean();
    const customers = await CustomerModel.find({ siteId: site.siteId }).lean();
    expect(companies).toHaveLength(30);
    expect(new Set(companies.map((c) => c.teamworkId))).toEqual(new Set(twCompanies.map((c) => c.id)));
    expect(companies.every((c) => c.linked && c.origin === 'teamwork')).toBe(true);
    expect(customers).toHaveLength(twPeople.length);
    expect(twPeople).toHaveLength(30 * 4);
    expect(customers.some((c) => c.email?.includes('.agency.'))).toBe(false);
    const companyOfTeamworkId = new Map(companies.map((c) => [c.teamworkId, String(c._id)]));
    for (const person of twPeople) {
      const customer = customers.find((c) => c.teamworkId === person.id)!;
      expect(customer.email).toBe(person.email);
      expect(String(customer.companyId)).toBe(companyOfTeamworkId.get(person.companyId!));
    }
    expect(status.counts).toMatchObject({ companiesCreated: 30, customersCreated: 120 });
  });

  test('C1 When the sync starts, Then deskbridge has registered its own signed webhooks on the Teamwork.com site', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 1 });
    await waitForSync(system, site.token);
    const hooks = teamwork.control.listWebhooks({ installation: site.installation });
    expect(hooks.map((h) => h.event).sort()).toEqual([...teamworkWebhookEvents].sort());
    expect(teamworkWebhookEvents).toEqual(expect.arrayContaining(['COMPANY.CREATED', 'COMPANY.UPDATED', 'COMPANY.DELETED', 'USER.CREATED', 'USER.UPDATED', 'USER.DELETED']));
    expect(new Set(hooks.map((h) => h.url))).toEqual(new Set([`${system.apiUrl}/webhooks/teamwork?site=${site.siteId}`]));
    expect(hooks.every((h) => typeof h.token === 'string' && h.token.length >= 20)).toBe(true);
  });

  test('C2 When the initial sync runs again, Then it creates nothing twice and registers no second webhook', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 12, contactsPerCompany: 2 });
    await waitForSync(system, site.token);
    const before = { companies: await CompanyModel.countDocuments({ siteId: site.siteId }), customers: await CustomerModel.countDocuments({ siteId: site.siteId }) };
    await startInitialSync(system.runtime, site.siteId);
    const handle = system.runtime.temporal.workflow.getHandle(`initial-sync/${site.siteId}`);
    const result = await handle.result();
    expect(result.counts).toMatchObject({ companiesCreated: 0, customersCreated: 0, alreadyLinked: 12 + 24 });
    expect(await CompanyModel.countDocuments({ siteId: site.siteId })).toBe(before.companies);
    expect(await CustomerModel.countDocuments({ siteId: site.siteId })).toBe(before.customers);
    expect(teamwork.control.listWebhooks({ installation: site.installation })).toHaveLength(teamworkWebhookEvents.length);
  });

  test('C2 When Desk already holds the same company (other case, padded name, or shared domain) and customer (other-case email), Then they are linked instead of copied', async () => {
    const site = await signUpLinkedSite(system, teamwork);
    await waitForSync(system, site.token);
    const { installation } = site;
    // These records model data that existed before the link; their C3 webhooks would import them first.
    teamwork.control.injectFaults({ dropWebhooks: { probability: 1 } });
    const byName = teamwork.control.createCompany({ installation, company: { name: 'Initech Holdings', website: 'https://initech.example.org' } });
    const byDomain = teamwork.control.createCompany({ installation, company: { name: 'Globex Corporation', website: 'https://www.globex.example.net' } });
    const person = teamwork.control.createPerson({ installation, person: { firstName: 'Peter', lastName: 'Gibbons', email: 'Peter.Gibbons@initech.example.org', companyId: byName.id, type: 'contact' } });
    const siteObjectId = new Types.ObjectId(site.siteId);
    const [deskInitech, deskGlobex] = await CompanyModel.create([
      { siteId: siteObjectId, name: '  initech   holdings ', nameKey: siteKey(site.siteId, 'initech holdings'), origin: 'desk' },
      { siteId: siteObjectId, name: 'Globex (Desk)', nameKey: siteKey(site.siteId, 'globex (desk)'), domains: ['globex.example.net'], origin: 'desk' },
    ]);
    const deskPeter = await CustomerModel.create({ siteId: siteObjectId, firstName: 'Pete', lastName: 'Gibbons', email: 'peter.gibbons@INITECH.example.org', emailKey: siteKey(site.siteId, 'peter.gibbons@initech.example.org'), origin: 'ticket' });

    teamwork.control.clearFaults();
    await startInitialSync(system.runtime, site.siteId);
    const result = await system.runtime.temporal.workflow.getHandle(`initial-sync/${site.siteId}`).result();
    expect(result.counts).toMatchObject({ companiesCreated: 0, companiesMatched: 2, customersCreated: 0, customersMatched: 1 });
    expect(await CompanyModel.countDocuments({ siteId: site.siteId })).toBe(2);
    expect(await CustomerModel.countDocuments({ siteId: site.siteId })).toBe(1);
    expect(await CompanyModel.findById(deskInitech!._id).lean()).toMatchObject({ linked: true, teamworkId: byName.id });
    expect(await CompanyModel.findById(deskGlobex!._id).lean()).toMatchObject({ linked: true, teamworkId: byDomain.id });
    expect(await CustomerModel.findById(deskPeter._id).lean()).toMatchObject({ linked: true, teamworkId: person.id, companyId: deskInitech!._id, origin: 'ticket' });
  });

  test('C10 C12 When customers and companies are listed, Then each shows its origin, link state and Teamwork.com id, paginated', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 3, contactsPerCompany: 4 });
    await waitForSync(system, site.token);
    await CustomerModel.create({ siteId: new Types.ObjectId(site.siteId), firstName: 'Nat', lastName: 'Ive', email: 'nat@desk-only.example.com', emailKey: siteKey(site.siteId, 'nat@desk-only.example.com'), origin: 'desk' });

    const companies = await request(system.app).get('/api/companies').set(bearer(site.token));
    expect(companies.status).toBe(200);
    expect(companies.body.total).toBe(3);
    for (const c of companies.body.items) expect(c).toMatchObject({ linked: true, teamworkId: expect.any(Number), origin: 'teamwork' });

    const page1 = await request(system.app).get('/api/customers?pageSize=5').set(bearer(site.token));
    expect(page1.body).toMatchObject({ page: 1, pageSize: 5, total: 13, hasMore: true });
    expect(page1.body.items).toHaveLength(5);
    const page3 = await request(system.app).get('/api/customers?pageSize=5&page=3').set(bearer(site.token));
    expect(page3.body.items).toHaveLength(3);
    expect(page3.body.hasMore).toBe(false);
    const native = await request(system.app).get('/api/customers?origin=desk').set(bearer(site.token));
    expect(native.body.items).toEqual([expect.objectContaining({ email: 'nat@desk-only.example.com', origin: 'desk', linked: false, teamworkId: null })]);
    const linked = await request(system.app).get('/api/customers?linked=true').set(bearer(site.token));
    expect(linked.body.total).toBe(12);

    const one = await request(system.app).get(`/api/companies/${companies.body.items[0].id}`).set(bearer(site.token));
    expect(one.body).toMatchObject({ id: companies.body.items[0].id, linked: true, teamworkId: companies.body.items[0].teamworkId });
  });

  test('C12 When a record of another site or a malformed id is asked for, Then 404 problem+json and nothing leaks', async () => {
    const a = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 1 });
    const b = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 1 });
    await Promise.all([waitForSync(system, a.token), waitForSync(system, b.token)]);
    const companyOfB = await CompanyModel.findOne({ siteId: b.siteId }).lean();
    const res = await request(system.app).get(`/api/companies/${companyOfB!._id}`).set(bearer(a.token));
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(res.body)).not.toContain(companyOfB!.name);
    expect((await request(system.app).get('/api/customers/not-an-id').set(bearer(a.token))).status).toBe(404);
    expect((await request(system.app).get('/api/customers?pageSize=1000').set(bearer(a.token))).status).toBe(400);
  });

  test('O1 When an initial sync runs, Then its id is initial-sync/{siteId} and ops can find it by site in Temporal', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 2, contactsPerCompany: 1 });
    await waitForSync(system, site.token);
    const description = await system.runtime.temporal.workflow.getHandle(`initial-sync/${site.siteId}`).describe();
    expect(description.type).toBe('initialSync');
    expect(description.searchAttributes.DeskbridgeSiteId).toEqual([site.siteId]);
    expect(description.searchAttributes.DeskbridgeEntity).toEqual(['site']);
    const deadline = Date.now() + 15_000;
    let found: string[] = [];
    while (Date.now() < deadline && found.length === 0) {
      found = [];
      for await (const wf of system.runtime.temporal.workflow.list({ query: `DeskbridgeSiteId = '${site.siteId}'` })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toContain(`initial-sync/${site.siteId}`);
  });

  test('O2 When a large initial sync is running, Then the API returns growing counts before it completes', async () => {
    teamwork.control.injectFaults({ latencyMs: 150 });
    try {
      const site = await signUpLinkedSite(system, teamwork, { companies: 3000, contactsPerCompany: 1 });
      const seen: any[] = [];
      let status: any;
      do {
        status = (await request(system.app).get('/api/sync/status').set(bearer(site.token))).body;
        seen.push(status);
        await new Promise((r) => setTimeout(r, 100));
      } while (status.state !== 'completed');
      const running = seen.filter((s) => s.state === 'running' && s.counts && s.counts.companiesSeen > 0);
      expect(running.length).toBeGreaterThan(0);
      expect(running[0].counts.companiesSeen).toBeLessThan(3001);
      expect(running.some((s) => s.totals?.companies === 3001)).toBe(true);
      expect(status.counts).toMatchObject({ companiesCreated: 3000, customersCreated: 3000 });
    } finally {
      teamwork.control.clearFaults();
    }
  });

  test('C1 When the site has nothing in Teamwork.com but its owner company, Then the sync completes with zero records', async () => {
    const site = await signUpLinkedSite(system, teamwork);
    const status = await waitForSync(system, site.token);
    expect(status).toMatchObject({ state: 'completed', counts: expect.objectContaining({ companiesCreated: 0, customersCreated: 0 }) });
    const stored = await SiteModel.findById(site.siteId).lean();
    expect(stored?.teamwork?.ownerCompanyId).toEqual(expect.any(Number));
  });
});
