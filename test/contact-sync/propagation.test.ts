import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel, CustomerModel, SiteModel, SyncHistoryModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, signUpLinkedSite, waitForSync, type SignedUpSite } from '../support/sites';
import { eventually, settle } from '../support/eventually';

describe('two-way propagation (C3-C9, C11, C13, C14, C15)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [200, 500] })]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  async function linkedSite(companies = 2, contacts = 2): Promise<SignedUpSite & { api: (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object) => Promise<request.Response> }> {
    const site = await signUpLinkedSite(system, teamwork, { companies, contactsPerCompany: contacts });
    await waitForSync(system, site.token);
    const api = (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object) => {
      const req = request(system.app)[method](path).set(bearer(site.token));
      return body ? req.send(body) : req;
    };
    return { ...site, api };
  }
  const twCompany = (site: SignedUpSite, id: number) => teamwork.control.getCompany({ installation: site.installation, id })!;
  const twPerson = (site: SignedUpSite, id: number) => teamwork.control.getPerson({ installation: site.installation, id })!;
  const writesTo = (site: SignedUpSite, pathPart: string) =>
    teamwork.control.requestLog({ installation: site.installation }).filter((r) => r.method !== 'GET' && r.path.includes(pathPart));

  test('C3 When a company is created in Teamwork.com, Then it appears in Desk, linked, within seconds', async () => {
    const site = await linkedSite(0, 0);
    const created = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Hooli', website: 'https://hooli.example.com' } });
    const company = await eventually(() => CompanyModel.findOne({ siteId: site.siteId, teamworkId: created.id }).lean(), Boolean, 10_000);
    expect(company).toMatchObject({ name: 'Hooli', website: 'https://hooli.example.com', linked: true, origin: 'teamwork' });
  });

  test('C3 When a webhook is lost, Then the periodic reconciliation creates the company anyway, once', async () => {
    const site = await linkedSite(0, 0);
    teamwork.control.injectFaults({ dropWebhooks: { next: 2 } });
    const created = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Pied Piper' } });
    await settle(500);
    expect(await CompanyModel.countDocuments({ siteId: site.siteId, teamworkId: created.id })).toBe(0);
    teamwork.control.clearFaults();
    for (let run = 0; run < 2; run++) {
      await system.runtime.temporal.workflow.execute('reconcileSite', { taskQueue: system.config.TEMPORAL_TASK_QUEUE, workflowId: `reconcile/${site.siteId}/test-${run}`, args: [{ siteId: site.siteId }] });
    }
    const company = await eventually(() => CompanyModel.findOne({ siteId: site.siteId, teamworkId: created.id }).lean(), Boolean, 10_000);
    expect(company).toMatchObject({ name: 'Pied Piper', linked: true });
    await settle(300);
    expect(await CompanyModel.countDocuments({ siteId: site.siteId, name: 'Pied Piper' })).toBe(1);
  });

  test('C4 When a Desk company is created with addAsClient true, Then it is created in Teamwork.com and linked; with false it never syncs', async () => {
    const site = await linkedSite(0, 0);
    const yes = await site.api('post', '/api/companies', { name: 'Umbrella', website: 'https://umbrella.example.com', addAsClient: true });
    expect(yes.status).toBe(201);
    const linked = await eventually(() => CompanyModel.findById(yes.body.id).lean(), (c) => Boolean(c?.linked), 10_000);
    expect(twCompany(site, linked!.teamworkId!)).toMatchObject({ name: 'Umbrella', website: 'https://umbrella.example.com' });
    expect((await site.api('get', `/api/companies/${yes.body.id}`)).body).toMatchObject({ linked: true, teamworkId: linked!.teamworkId });

    const no = await site.api('post', '/api/companies', { name: 'Cyberdyne', addAsClient: false });
    expect(no.body).toMatchObject({ linked: false, teamworkId: null, syncStatus: { state: 'not_synced' } });
    await site.api('patch', `/api/companies/${no.body.id}`, { website: 'https://cyberdyne.example.com' });
    await settle(800);
    expect(teamwork.control.listCompanies({ installation: site.installation }).some((c) => c.name === 'Cyberdyne')).toBe(false);
  });

  test('C5 When name, website or email change on either side, Then the other side follows; other fields stay put', async () => {
    const site = await linkedSite(1, 0);
    const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    await site.api('patch', `/api/companies/${desk._id}`, { name: 'Renamed in Desk', email: 'hello@renamed.example.com', domains: ['renamed.example.com'] });
    await eventually(() => twCompany(site, desk.teamworkId!), (c) => c.name === 'Renamed in Desk' && c.emailOne === 'hello@renamed.example.com');
    expect(twCompany(site, desk.teamworkId!)).toMatchObject({ name: 'Renamed in Desk', emailOne: 'hello@renamed.example.com' });

    teamwork.control.updateCompany({ installation: site.installation, id: desk.teamworkId!, patch: { website: 'https://from-teamwork.example.com', phone: '+1 555 0100' } });
    const after = await eventually(() => CompanyModel.findById(desk._id).lean(), (c) => c?.website === 'https://from-teamwork.example.com');
    expect(after).toMatchObject({ name: 'Renamed in Desk', website: 'https://from-teamwork.example.com', domains: ['renamed.example.com'] });
    expect(after).not.toHaveProperty('phone');
  });

  test('C14 When deskbridge writes an edit to Teamwork.com and its webhook reports it back, Then nothing is written again', async () => {
    const site = await linkedSite(1, 0);
    const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    teamwork.control.clearRequestLog();
    await site.api('patch', `/api/companies/${desk._id}`, { name: 'Echo Test' });
    await eventually(() => twCompany(site, desk.teamworkId!), (c) => c.name === 'Echo Test');
    await eventually(() => teamwork.control.deliveries({ installation: site.installation }).filter((d) => d.outcome === 'delivered').length, (n) => n >= 1);
    await settle(1000);
    expect(writesTo(site, `/companies/${desk.teamworkId}`)).toHaveLength(1);
    const history = await SyncHistoryModel.find({ deskId: desk._id, action: 'synced' }).lean();
    expect(history).toHaveLength(1);
    expect(history[0]!.changes).toEqual([expect.objectContaining({ field: 'name', from: 'desk', value: 'Echo Test' })]);
  });

  describe('C13 concurrent edits', () => {
    /** Both edits land while no worker runs, so one sync sees both at once. */
    async function concurrently(site: Awaited<ReturnType<typeof linkedSite>>, teamworkEdit: () => void, deskEdit: () => Promise<unknown>) {
      await system.stopWorker();
      try {
        teamworkEdit();
        await settle(50);
        await deskEdit();
        await eventually(() => teamwork.control.deliveries({ installation: site.installation }).length, (n) => n > 0, 5000);
      } finally {
        await system.startWorker();
      }
    }

    test('C13 When different fields change on both sides at once, Then both edits survive on both sides', async () => {
      const site = await linkedSite(1, 0);
      const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
      teamwork.control.clearDeliveries();
      await concurrently(site, () => teamwork.control.updateCompany({ installation: site.installation, id: desk.teamworkId!, patch: { website: 'https://tw.example.com' } }), () => site.api('patch', `/api/companies/${desk._id}`, { email: 'desk@example.com' }));
      const final = await eventually(() => CompanyModel.findById(desk._id).lean(), (c) => c?.website === 'https://tw.example.com' && c?.syncStatus?.state === 'synced');
      expect(final).toMatchObject({ website: 'https://tw.example.com', email: 'desk@example.com' });
      await eventually(() => twCompany(site, desk.teamworkId!), (c) => c.emailOne === 'desk@example.com');
      expect(twCompany(site, desk.teamworkId!)).toMatchObject({ website: 'https://tw.example.com', emailOne: 'desk@example.com' });
    });

    test.each([
      ['latest', 'Desk name'],
      ['teamwork', 'Teamwork name'],
      ['desk', 'Desk name'],
    ])('C13 When the same field changes on both sides under policy %s, Then %s wins on both sides and the conflict is in the sync history', async (policy, winner) => {
      const site = await linkedSite(1, 0);
      expect((await site.api('patch', '/api/settings/cross-product', { conflictPolicy: policy })).status).toBe(200);
      const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
      teamwork.control.clearDeliveries();
      await concurrently(site, () => teamwork.control.updateCompany({ installation: site.installation, id: desk.teamworkId!, patch: { name: 'Teamwork name' } }), () => site.api('patch', `/api/companies/${desk._id}`, { name: 'Desk name' }));
      await eventually(async () => [(await CompanyModel.findById(desk._id).lean())?.name, twCompany(site, desk.teamworkId!).name], ([a, b]) => a === winner && b === winner);
      expect((await CompanyModel.findById(desk._id).lean())!.name).toBe(winner);
      expect(twCompany(site, desk.teamworkId!).name).toBe(winner);
      // The history entry is written after both sides hold the merge.
      const conflicts = await eventually(async () => (await site.api('get', `/api/companies/${desk._id}/sync-history`)).body.items.flatMap((h: any) => h.conflicts), (c) => c.length > 0);
      expect(conflicts).toEqual([
        expect.objectContaining({ field: 'name', teamwork: 'Teamwork name', desk: 'Desk name', winner: winner === 'Desk name' ? 'desk' : 'teamwork', policy }),
      ]);
    });

    test('C13 When one side empties a field the other side filled at the same time, Then the filled value wins whatever the policy', async () => {
      const site = await linkedSite(1, 0);
      await site.api('patch', '/api/settings/cross-product', { conflictPolicy: 'teamwork' });
      const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
      teamwork.control.clearDeliveries();
      await concurrently(site, () => teamwork.control.updateCompany({ installation: site.installation, id: desk.teamworkId!, patch: { website: '' } }), () => site.api('patch', `/api/companies/${desk._id}`, { website: 'https://kept.example.com' }));
      await eventually(() => twCompany(site, desk.teamworkId!), (c) => c.website === 'https://kept.example.com');
      expect((await CompanyModel.findById(desk._id).lean())!.website).toBe('https://kept.example.com');
    });

    test('C13 When only one side empties a field, Then the empty value is applied', async () => {
      const site = await linkedSite(1, 0);
      const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
      expect(desk.website).toBeTruthy();
      teamwork.control.updateCompany({ installation: site.installation, id: desk.teamworkId!, patch: { website: '' } });
      const after = await eventually(() => CompanyModel.findById(desk._id).lean(), (c) => !c?.website);
      expect(after!.website ?? null).toBeNull();
    });
  });

  test('C6 C9 When a complete customer joins a linked company with automatic contact creation off, Then it stays in Desk; on, Then it becomes a Teamwork.com contact', async () => {
    const site = await linkedSite(1, 0);
    const company = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    const off = await site.api('post', '/api/customers', { firstName: 'Off', lastName: 'Setting', email: 'off@c9.example.com', companyId: String(company._id) });
    expect(off.status).toBe(201);
    const offStatus = await eventually(() => CustomerModel.findById(off.body.id).lean(), (c) => c?.syncStatus?.state === 'not_synced');
    expect(offStatus!.syncStatus!.reason).toMatch(/automatically creating contacts/);
    expect(teamwork.control.listPeople({ installation: site.installation }).some((p) => p.email === 'off@c9.example.com')).toBe(false);

    expect((await site.api('patch', '/api/settings/cross-product', { autoCreateContacts: true })).body.autoCreateContacts).toBe(true);
    const on = await site.api('post', '/api/customers', { firstName: 'On', lastName: 'Setting', email: 'on@c9.example.com', companyId: String(company._id), alternativeEmails: ['alt@c9.example.com'] });
    const linked = await eventually(() => CustomerModel.findById(on.body.id).lean(), (c) => Boolean(c?.linked), 10_000);
    expect(twPerson(site, linked!.teamworkId!)).toMatchObject({ email: 'on@c9.example.com', firstName: 'On', lastName: 'Setting', companyId: company.teamworkId, type: 'contact', emailAlt1: 'alt@c9.example.com' });

    const noCompany = await site.api('post', '/api/customers', { firstName: 'No', lastName: 'Company', email: 'nobody@freelance.example.org' });
    const noCompanyStatus = await eventually(() => CustomerModel.findById(noCompany.body.id).lean(), (c) => c?.syncStatus?.state === 'incomplete');
    expect(noCompanyStatus!.syncStatus!.missingFields).toEqual(['company']);
  });

  test('C9 When a new customer matches a linked company by domain with the setting on, Then it joins the company and is created in Teamwork.com', async () => {
    const site = await linkedSite(1, 0);
    const company = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    await site.api('patch', `/api/companies/${company._id}`, { domains: ['domainmatch.example.com'] });
    await site.api('patch', '/api/settings/cross-product', { autoCreateContacts: true });
    const res = await site.api('post', '/api/customers', { firstName: 'Dom', lastName: 'Ain', email: 'dom@domainmatch.example.com' });
    expect(res.body.companyId).toBe(String(company._id));
    const linked = await eventually(() => CustomerModel.findById(res.body.id).lean(), (c) => Boolean(c?.linked), 10_000);
    expect(twPerson(site, linked!.teamworkId!).companyId).toBe(company.teamworkId);
  });

  test('C7 When a customer lacks first name, last name or email, Then it is kept, not synced, and its status names what is missing', async () => {
    const site = await linkedSite(1, 0);
    await site.api('patch', '/api/settings/cross-product', { autoCreateContacts: true });
    const company = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    const res = await site.api('post', '/api/customers', { lastName: 'Only', email: 'only@c7.example.com', companyId: String(company._id) });
    const customer = await eventually(() => site.api('get', `/api/customers/${res.body.id}`), (r) => r.body.syncStatus.state === 'incomplete');
    expect(customer.body).toMatchObject({ linked: false, syncStatus: { state: 'incomplete', missingFields: ['firstName'] } });
    expect(teamwork.control.listPeople({ installation: site.installation }).some((p) => p.email === 'only@c7.example.com')).toBe(false);
  });

  test('C8 When alternative emails, avatar or social networks change on either side, Then they sync too', async () => {
    const site = await linkedSite(1, 1);
    const customer = (await CustomerModel.findOne({ siteId: site.siteId }).lean())!;
    await site.api('patch', `/api/customers/${customer._id}`, { alternativeEmails: ['second@c8.example.com'], avatarUrl: 'https://img.example.com/a.png', socialNetworks: { twitter: '@deskbridge' } });
    await eventually(() => twPerson(site, customer.teamworkId!), (p) => p.userTwitterName === '@deskbridge');
    expect(twPerson(site, customer.teamworkId!)).toMatchObject({ emailAlt1: 'second@c8.example.com', avatarUrl: 'https://img.example.com/a.png', userTwitterName: '@deskbridge' });
    teamwork.control.updatePerson({ installation: site.installation, id: customer.teamworkId!, patch: { userLinkedin: 'https://linkedin.example.com/in/x' } });
    const after = await eventually(() => CustomerModel.findById(customer._id).lean(), (c) => Boolean(c?.socialNetworks?.linkedin));
    expect(after!.socialNetworks).toMatchObject({ twitter: '@deskbridge', linkedin: 'https://linkedin.example.com/in/x' });
  });

  test('C5 When a contact moves to another linked company in Teamwork.com, Then the Desk customer follows (associated contacts)', async () => {
    const site = await linkedSite(2, 1);
    const [a, b] = await CompanyModel.find({ siteId: site.siteId }).sort({ teamworkId: 1 }).lean();
    const customer = (await CustomerModel.findOne({ siteId: site.siteId, companyId: a!._id }).lean())!;
    teamwork.control.updatePerson({ installation: site.installation, id: customer.teamworkId!, patch: { companyId: b!.teamworkId! } });
    const moved = await eventually(() => CustomerModel.findById(customer._id).lean(), (c) => String(c?.companyId) === String(b!._id));
    expect(String(moved!.companyId)).toBe(String(b!._id));
  });

  test('C11 When a linked company is deleted in Desk, Then the Teamwork.com company remains and later Teamwork.com edits change nothing in Desk', async () => {
    const site = await linkedSite(2, 0);
    const [gone, kept] = await CompanyModel.find({ siteId: site.siteId }).lean();
    expect((await site.api('delete', `/api/companies/${gone!._id}`)).status).toBe(204);
    expect(twCompany(site, gone!.teamworkId!)).toMatchObject({ status: 'active' });
    teamwork.control.updateCompany({ installation: site.installation, id: gone!.teamworkId!, patch: { name: 'Edited after break' } });
    await settle(1200);
    expect(await CompanyModel.countDocuments({ siteId: site.siteId })).toBe(1);
    expect(await CompanyModel.exists({ siteId: site.siteId, name: 'Edited after break' })).toBeNull();
    expect((await CompanyModel.findById(kept!._id).lean())!.linked).toBe(true);
  });

  test('C11 When a linked company and contact are deleted in Teamwork.com, Then the Desk records remain, unlinked, and Desk edits no longer propagate', async () => {
    const site = await linkedSite(1, 1);
    const company = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    const customer = (await CustomerModel.findOne({ siteId: site.siteId }).lean())!;
    teamwork.control.deleteCompany({ installation: site.installation, id: company.teamworkId! });
    await eventually(() => CompanyModel.findById(company._id).lean(), (c) => c?.linked === false);
    await eventually(() => CustomerModel.findById(customer._id).lean(), (c) => c?.linked === false);
    const view = await site.api('get', `/api/companies/${company._id}`);
    expect(view.body).toMatchObject({ linked: false, teamworkId: null, syncStatus: { state: 'unlinked' } });
    teamwork.control.clearRequestLog();
    await site.api('patch', `/api/companies/${company._id}`, { name: 'Desk only now' });
    await site.api('patch', `/api/customers/${customer._id}`, { firstName: 'Still here' });
    await settle(1000);
    expect(teamwork.control.requestLog({ installation: site.installation }).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  test('C15 When Teamwork.com rejects an edit with 422, Then the reason is on the record and it is not retried', async () => {
    const site = await linkedSite(1, 0);
    const desk = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    teamwork.control.injectFaults({ failRequest: { method: 'PATCH', pathIncludes: `/companies/${desk.teamworkId}`, status: 422, body: { errors: [{ title: 'Invalid website', detail: 'website is not allowed' }] }, times: 5 } });
    try {
      await site.api('patch', `/api/companies/${desk._id}`, { website: 'https://rejected.example.com' });
      const rejected = await eventually(() => site.api('get', `/api/companies/${desk._id}`), (r) => r.body.syncStatus.state === 'error');
      expect(rejected.body.syncStatus.reason).toMatch(/422.*Invalid website/);
      await settle(1000);
      expect(writesTo(site, `/companies/${desk.teamworkId}`)).toHaveLength(1);
    } finally {
      teamwork.control.clearFaults();
    }
  });

  test('C9 When someone other than the owner changes cross-product settings, Then 403 and nothing changes', async () => {
    const site = await linkedSite(0, 0);
    const admin = await request(system.app).post('/api/users').set(bearer(site.token)).send({ email: 'admin@c9.example.com', firstName: 'Ad', lastName: 'Min', role: 'admin' });
    expect(admin.status).toBe(201);
    const denied = await request(system.app).patch('/api/settings/cross-product').set(bearer(admin.body.token)).send({ autoCreateContacts: true });
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toMatch(/problem\+json/);
    expect((await SiteModel.findById(site.siteId).lean())!.settings!.autoCreateContacts).toBe(false);
    const agent = await request(system.app).post('/api/users').set(bearer(admin.body.token)).send({ email: 'agent@c9.example.com', firstName: 'A', lastName: 'Gent', role: 'agent' });
    expect(agent.status).toBe(201);
    expect((await request(system.app).post('/api/users').set(bearer(agent.body.token)).send({ email: 'x@c9.example.com', firstName: 'X', lastName: 'Y', role: 'agent' })).status).toBe(403);
    expect((await request(system.app).get('/api/settings/cross-product').set(bearer(agent.body.token))).body).toMatchObject({ autoCreateContacts: false, conflictPolicy: 'latest' });
  });
});
