import crypto from 'node:crypto';
import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel, CustomerModel, SiteModel } from '../../models';
import { linkStateQuery, type LinkState } from '../../workflows/link';
import { reconcileScheduleId, workflowIds } from '../../workflows/ids';
import { syncPausedAttribute, syncPausedNote } from '../../workflows/search-attributes';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, ownerFor, signUpLinkedSite, waitForSync, type SignedUpSite } from '../support/sites';
import { eventually, settle } from '../support/eventually';

describe('enabling, pausing and resuming contact sync (C16)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [200, 500] })]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  const api = (token: string) => ({
    get: (path: string) => request(system.app).get(path).set(bearer(token)),
    patch: (path: string, body: object) => request(system.app).patch(path).set(bearer(token)).send(body),
    put: (path: string, body: object) => request(system.app).put(path).set(bearer(token)).send(body),
  });

  /** A Teamwork.com installation and a Desk site that signed up without linking it. */
  async function unlinkedSite(seed = { companies: 2, contactsPerCompany: 2 }) {
    const installation = `tw${crypto.randomBytes(4).toString('hex')}`;
    const apiKey = `key-${installation}`;
    const { baseUrl } = teamwork.control.createInstallation({ name: installation, apiKey, ownerCompanyName: `${installation} Agency` });
    teamwork.control.seed({ installation, ...seed });
    const res = await request(system.app).post('/api/signup').send({ siteName: installation, slug: installation, owner: ownerFor(installation) });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ site: { linked: false }, workflowId: null });
    return { installation, apiKey, baseUrl, siteId: res.body.site.id as string, token: res.body.owner.token as string };
  }

  async function invite(ownerToken: string, role: 'admin' | 'agent'): Promise<string> {
    const res = await request(system.app).post('/api/users').set(bearer(ownerToken)).send({ email: `${role}-${crypto.randomBytes(3).toString('hex')}@example.com`, firstName: 'Ann', lastName: role, role });
    expect(res.status).toBe(201);
    return res.body.token;
  }

  const siteDocument = (siteId: string) => SiteModel.findById(siteId).select('+teamwork.apiKey +teamwork.webhookToken').lean();
  const teamworkWrites = (installation: string) => teamwork.control.requestLog({ installation }).filter((r) => r.method !== 'GET');
  const linkState = (siteId: string, deskId: string) => system.runtime.temporal.workflow.getHandle(workflowIds.companyLink(siteId, deskId)).query(linkStateQuery);
  const scheduleOf = (siteId: string) => system.runtime.temporal.schedule.getHandle(reconcileScheduleId(siteId)).describe();

  async function linkedAndSynced(): Promise<SignedUpSite & { company: { _id: unknown; teamworkId: number }; customer: { _id: unknown; teamworkId: number } }> {
    const site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 1 });
    expect((await waitForSync(system, site.token)).state).toBe('completed');
    await eventually(() => scheduleOf(site.siteId).catch(() => undefined), Boolean, 10_000);
    const company = (await CompanyModel.findOne({ siteId: site.siteId, linked: true }).lean())!;
    const customer = (await CustomerModel.findOne({ siteId: site.siteId, linked: true }).lean())!;
    return { ...site, company: { _id: company._id, teamworkId: company.teamworkId! }, customer: { _id: customer._id, teamworkId: customer.teamworkId! } };
  }

  test('C16 When the owner links Teamwork.com to a site that signed up without it, Then webhooks are registered and the initial sync copies everything', async () => {
    const site = await unlinkedSite();
    const before = await api(site.token).get('/api/sync/status');
    expect(before.body).toMatchObject({ state: 'not_linked', linked: false });

    const res = await api(site.token).put('/api/settings/cross-product/link', { baseUrl: site.baseUrl, apiKey: site.apiKey });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ linked: true, workflowId: workflowIds.initialSync(site.siteId) });

    const status = await waitForSync(system, site.token);
    expect(status).toMatchObject({ state: 'completed', linked: true, paused: false, counts: expect.objectContaining({ companiesCreated: 2, customersCreated: 4 }) });
    expect(await CompanyModel.countDocuments({ siteId: site.siteId, linked: true })).toBe(2);
    expect(await CustomerModel.countDocuments({ siteId: site.siteId, linked: true })).toBe(4);
    expect(teamwork.control.listWebhooks({ installation: site.installation }).length).toBeGreaterThan(0);

    const stored = (await siteDocument(site.siteId))!;
    expect(stored.teamwork!.baseUrl).toBe(site.baseUrl);
    expect(JSON.stringify(stored.teamwork)).not.toContain(site.apiKey);
    expect(site.apiKey).toBe(system.runtime.secrets.open(stored.teamwork!.apiKey as never));

    // The registered webhooks carry changes from now on, like after a linked signup.
    const created = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Linked Later Ltd' } });
    expect(await eventually(() => CompanyModel.findOne({ siteId: site.siteId, teamworkId: created.id }).lean(), Boolean, 10_000)).toMatchObject({ name: 'Linked Later Ltd', linked: true });
  });

  test('C16 When the site is linked already, Then linking again is refused with 409 and the stored link is untouched', async () => {
    const site = await signUpLinkedSite(system, teamwork);
    const stored = (await siteDocument(site.siteId))!;
    const other = teamwork.control.createInstallation({ name: `tw${crypto.randomBytes(4).toString('hex')}`, apiKey: 'other-key' });

    const res = await api(site.token).put('/api/settings/cross-product/link', { baseUrl: other.baseUrl, apiKey: 'other-key' });
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ reason: 'already-linked', detail: expect.stringContaining('linked to a Teamwork.com site already') });
    expect((await siteDocument(site.siteId))!.teamwork).toEqual(stored.teamwork);
  });

  test('C16 When Teamwork.com refuses the credentials, Then 422 and the site stays unlinked', async () => {
    const site = await unlinkedSite({ companies: 1, contactsPerCompany: 0 });
    const res = await api(site.token).put('/api/settings/cross-product/link', { baseUrl: site.baseUrl, apiKey: 'wrong-key' });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ type: expect.stringContaining('teamwork-credentials-rejected') });
    expect((await siteDocument(site.siteId))!.teamwork).toBeUndefined();
    expect(await CompanyModel.countDocuments({ siteId: site.siteId })).toBe(0);
  });

  test('C16 When an admin or an agent links, pauses or resumes, Then 403 and nothing changes', async () => {
    const unlinked = await unlinkedSite({ companies: 1, contactsPerCompany: 0 });
    const linked = await linkedAndSynced();
    for (const role of ['admin', 'agent'] as const) {
      const onUnlinked = api(await invite(unlinked.token, role));
      const link = await onUnlinked.put('/api/settings/cross-product/link', { baseUrl: unlinked.baseUrl, apiKey: unlinked.apiKey });
      expect(link.status).toBe(403);
      expect(link.body).toMatchObject({ detail: 'only the site owner links Teamwork.com' });

      const onLinked = api(await invite(linked.token, role));
      expect((await onLinked.patch('/api/settings/cross-product', { paused: true })).status).toBe(403);
    }
    expect((await siteDocument(unlinked.siteId))!.teamwork).toBeUndefined();
    expect((await api(unlinked.token).get('/api/sync/status')).body).toMatchObject({ state: 'not_linked' });
    expect(await CompanyModel.countDocuments({ siteId: unlinked.siteId })).toBe(0);

    expect((await api(linked.token).patch('/api/settings/cross-product', { paused: true })).status).toBe(200);
    const resumeByAdmin = await api(await invite(linked.token, 'admin')).patch('/api/settings/cross-product', { paused: false });
    expect(resumeByAdmin.status).toBe(403);
    expect((await api(linked.token).get('/api/settings/cross-product')).body).toMatchObject({ paused: true });
  });

  test('C16 When the sync is paused, Then edits on neither side propagate, Desk edits wait as pending, and the pause shows in the API and the Temporal UI', async () => {
    const site = await linkedAndSynced();
    const owner = api(site.token);
    const paused = await owner.patch('/api/settings/cross-product', { paused: true });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, pausedAt: expect.any(String) });
    expect((await owner.get('/api/sync/status')).body).toMatchObject({ state: 'completed', paused: true });
    // A Schedule's search attributes are read from Temporal's visibility store, which lags a little.
    const schedule = await eventually(() => scheduleOf(site.siteId), (s) => s.typedSearchAttributes.get(syncPausedAttribute) === true, 10_000);
    expect(schedule.state).toMatchObject({ paused: true, note: syncPausedNote });
    expect(schedule.typedSearchAttributes.get(syncPausedAttribute)).toBe(true);
    const listed = await eventually(async () => {
      const ids: string[] = [];
      for await (const s of system.runtime.temporal.schedule.list({ query: `DeskbridgeSyncPaused = true AND DeskbridgeSiteId = "${site.siteId}"` })) ids.push(s.scheduleId);
      return ids;
    }, (ids) => ids.length > 0, 10_000);
    expect(listed).toEqual([reconcileScheduleId(site.siteId)]);

    teamwork.control.clearRequestLog();
    teamwork.control.clearDeliveries();
    const deskEdit = await owner.patch(`/api/companies/${site.company._id}`, { name: 'Renamed in Desk while paused' });
    expect(deskEdit.status).toBe(200);
    expect(deskEdit.body).toMatchObject({ syncStatus: { state: 'pending' } });
    teamwork.control.updateCompany({ installation: site.installation, id: site.company.teamworkId, patch: { website: 'https://paused.example.com' } });
    teamwork.control.updatePerson({ installation: site.installation, id: site.customer.teamworkId, patch: { firstName: 'Pausa' } });

    // Webhooks are still accepted; the link workflow holds the change instead of syncing it.
    const deliveries = await eventually(() => teamwork.control.deliveries({ installation: site.installation }), (d) => d.length >= 2, 10_000);
    expect(deliveries.every((d) => d.outcome === 'delivered' && d.status === 200)).toBe(true);
    await eventually(() => linkState(site.siteId, String(site.company._id)), (s) => s.heldByPause, 10_000);
    await settle(2500);
    expect(teamworkWrites(site.installation)).toEqual([]);
    expect(teamwork.control.getCompany({ installation: site.installation, id: site.company.teamworkId })!.name).not.toBe('Renamed in Desk while paused');
    expect(await CompanyModel.findById(site.company._id).lean()).toMatchObject({ name: 'Renamed in Desk while paused', syncStatus: expect.objectContaining({ state: 'pending' }) });
    expect((await CompanyModel.findById(site.company._id).lean())!.website).not.toBe('https://paused.example.com');
    expect((await CustomerModel.findById(site.customer._id).lean())!.firstName).not.toBe('Pausa');
    expect(await linkState(site.siteId, String(site.company._id))).toMatchObject<Partial<LinkState>>({ pending: true, heldByPause: true, lastOutcome: 'paused' });
  });

  test('C16 When the sync resumes, Then every change made on either side while paused converges with the C13 policy, webhooks received meanwhile included', async () => {
    const site = await linkedAndSynced();
    const owner = api(site.token);
    expect((await owner.patch('/api/settings/cross-product', { conflictPolicy: 'desk', paused: true })).body).toMatchObject({ conflictPolicy: 'desk', paused: true });
    teamwork.control.clearDeliveries();

    // Same field on both sides (Teamwork.com edits last, the desk policy still picks Desk), different fields merge.
    await owner.patch(`/api/companies/${site.company._id}`, { name: 'Desk wins' }).expect(200);
    await owner.patch(`/api/customers/${site.customer._id}`, { lastName: 'FromDesk' }).expect(200);
    teamwork.control.updateCompany({ installation: site.installation, id: site.company.teamworkId, patch: { name: 'Teamwork loses', website: 'https://merged.example.com' } });
    teamwork.control.updatePerson({ installation: site.installation, id: site.customer.teamworkId, patch: { firstName: 'FromTeamwork' } });
    const createdWhilePaused = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Born While Paused' } });
    await eventually(() => teamwork.control.deliveries({ installation: site.installation }), (d) => d.filter((x) => x.outcome === 'delivered').length >= 3, 10_000);
    await settle(500);
    expect(await CompanyModel.countDocuments({ siteId: site.siteId, teamworkId: createdWhilePaused.id })).toBe(0);

    const resumed = await owner.patch('/api/settings/cross-product', { paused: false });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ paused: false, pausedAt: null });
    expect((await owner.get('/api/sync/status')).body).toMatchObject({ paused: false });
    const schedule = await eventually(() => scheduleOf(site.siteId), (s) => s.typedSearchAttributes.get(syncPausedAttribute) === false, 10_000);
    expect(schedule.state.paused).toBe(false);
    expect(schedule.typedSearchAttributes.get(syncPausedAttribute)).toBe(false);

    const twCompany = () => teamwork.control.getCompany({ installation: site.installation, id: site.company.teamworkId })!;
    const twPerson = () => teamwork.control.getPerson({ installation: site.installation, id: site.customer.teamworkId })!;
    await eventually(async () => [await CompanyModel.findById(site.company._id).lean(), twCompany()] as const,
      ([desk, tw]) => desk?.name === 'Desk wins' && desk.website === 'https://merged.example.com' && tw.name === 'Desk wins' && desk.syncStatus?.state === 'synced', 20_000);
    expect(await CompanyModel.findById(site.company._id).lean()).toMatchObject({ name: 'Desk wins', website: 'https://merged.example.com', syncStatus: expect.objectContaining({ state: 'synced' }) });
    expect(twCompany()).toMatchObject({ name: 'Desk wins', website: 'https://merged.example.com' });

    await eventually(async () => [await CustomerModel.findById(site.customer._id).lean(), twPerson()] as const,
      ([desk, tw]) => desk?.firstName === 'FromTeamwork' && tw.lastName === 'FromDesk', 20_000);
    expect(await CustomerModel.findById(site.customer._id).lean()).toMatchObject({ firstName: 'FromTeamwork', lastName: 'FromDesk' });
    expect(twPerson()).toMatchObject({ firstName: 'FromTeamwork', lastName: 'FromDesk' });

    expect(await eventually(() => CompanyModel.findOne({ siteId: site.siteId, teamworkId: createdWhilePaused.id }).lean(), Boolean, 20_000)).toMatchObject({ name: 'Born While Paused', linked: true });
    const history = await owner.get(`/api/companies/${site.company._id}/sync-history`);
    expect(history.body.items.flatMap((h: { conflicts: unknown[] }) => h.conflicts)).toEqual([
      expect.objectContaining({ field: 'name', teamwork: 'Teamwork loses', desk: 'Desk wins', winner: 'desk', policy: 'desk' }),
    ]);
    expect(await linkState(site.siteId, String(site.company._id))).toMatchObject({ heldByPause: false, lastOutcome: expect.stringMatching(/synced|unchanged/) });
  });

  test('C16 When a site that is not linked, or whose initial sync is running, is paused, Then 409 with the reason and nothing changes', async () => {
    const unlinked = await unlinkedSite({ companies: 1, contactsPerCompany: 0 });
    const res = await api(unlinked.token).patch('/api/settings/cross-product', { paused: true, conflictPolicy: 'teamwork' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ reason: 'not-linked' });
    expect((await api(unlinked.token).get('/api/settings/cross-product')).body).toMatchObject({ paused: false, conflictPolicy: 'latest' });

    await system.stopWorker();
    try {
      const linked = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 0 });
      const whileSyncing = await api(linked.token).patch('/api/settings/cross-product', { paused: true });
      expect(whileSyncing.status).toBe(409);
      expect(whileSyncing.body).toMatchObject({ reason: 'initial-sync-running' });
      expect((await SiteModel.findById(linked.siteId).lean())!.settings).toMatchObject({ paused: false });
    } finally {
      await system.startWorker();
    }
  });
});
