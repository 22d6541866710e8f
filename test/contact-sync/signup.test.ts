import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { SiteModel, UserModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { ownerFor, signUpLinkedSite, waitForSync } from '../support/sites';

describe('signup (C1, O4)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0 })]);
    teamwork.control.createInstallation({ name: 'signup', apiKey: 'right-key' });
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });
  const counts = async () => ({ sites: await SiteModel.countDocuments(), users: await UserModel.countDocuments() });
  const valid = () => ({ siteName: 'Valid', slug: `valid-${Date.now()}`, owner: ownerFor('valid'), teamwork: { baseUrl: `${teamwork.url}/signup`, apiKey: 'right-key' } });

  test.each([
    ['an empty body', {}],
    ['a missing owner', { siteName: 'A', slug: 'a-site' }],
    ['a malformed owner email', { siteName: 'A', slug: 'a-site', owner: { email: 'not-an-email', firstName: 'A', lastName: 'B' } }],
    ['an upper-case slug', { siteName: 'A', slug: 'A-Site', owner: ownerFor('a') }],
    ['an unknown plan', { siteName: 'A', slug: 'a-site', plan: 'platinum', owner: ownerFor('a') }],
    ['a field a client may not set (role)', { siteName: 'A', slug: 'a-site', owner: { ...ownerFor('a'), role: 'admin' } }],
    ['a field a client may not set (siteId)', { siteName: 'A', slug: 'a-site', siteId: 'x', owner: ownerFor('a') }],
    ['a Teamwork.com link that is not a URL', { siteName: 'A', slug: 'a-site', owner: ownerFor('a'), teamwork: { baseUrl: 'javascript:alert(1)', apiKey: 'k' } }],
    ['a Teamwork.com link without a key', { siteName: 'A', slug: 'a-site', owner: ownerFor('a'), teamwork: { baseUrl: 'https://x.teamwork.com' } }],
  ])('O4 When signup is sent %s, Then 400 problem+json and nothing is written', async (_case, body) => {
    const before = await counts();
    const res = await request(system.app).post('/api/signup').send(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, type: expect.stringContaining('validation-error'), errors: expect.any(Array) });
    expect(await counts()).toEqual(before);
  });

  test('O4 When signup is sent malformed JSON, Then 400 problem+json and nothing is written', async () => {
    const before = await counts();
    const res = await request(system.app).post('/api/signup').set('content-type', 'application/json').send('{"siteName": ');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await counts()).toEqual(before);
  });

  test('C1 When the Teamwork.com key is refused, Then 422 naming it and nothing is written', async () => {
    const before = await counts();
    const res = await request(system.app).post('/api/signup').send({ ...valid(), teamwork: { baseUrl: `${teamwork.url}/signup`, apiKey: 'wrong-key' } });
    expect(res.status).toBe(422);
    expect(res.body.type).toContain('teamwork-credentials-rejected');
    expect(await counts()).toEqual(before);
  });

  test('C1 When Teamwork.com cannot be reached, Then 502 and nothing is written', async () => {
    const before = await counts();
    const res = await request(system.app).post('/api/signup').send({ ...valid(), teamwork: { baseUrl: 'http://127.0.0.1:9/nowhere', apiKey: 'k' } });
    expect(res.status).toBe(502);
    expect(await counts()).toEqual(before);
  });

  test('C2 When the same site signs up twice, Then the second is refused with 409 and nothing is created twice', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 3, contactsPerCompany: 1 });
    await waitForSync(system, site.token);
    const before = await counts();
    const again = await request(system.app).post('/api/signup').send({ siteName: 'again', slug: site.installation, owner: ownerFor(site.installation), teamwork: { baseUrl: site.baseUrl, apiKey: site.apiKey } });
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe('site-exists');
    expect(await counts()).toEqual(before);
  });

  test('C1 When a site signs up without Teamwork.com, Then it is created with its owner and no sync starts', async () => {
    const res = await request(system.app).post('/api/signup').send({ siteName: 'Solo', slug: `solo-${Date.now()}`, plan: 'premium', owner: ownerFor('solo') });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ site: { linked: false, plan: 'premium' }, owner: { role: 'owner', token: expect.stringMatching(/^dbk_/) }, workflowId: null });
    const status = await request(system.app).get('/api/sync/status').set('authorization', `Bearer ${res.body.owner.token}`);
    expect(status.body).toMatchObject({ state: 'not_linked', linked: false });
    const stored = await UserModel.findOne({ siteId: res.body.site.id }).select('+tokenHash').lean();
    expect(stored!.tokenHash).not.toContain(res.body.owner.token);
    expect((await request(system.app).get('/api/sync/status').set('authorization', 'Bearer dbk_wrong')).status).toBe(401);
  });
});
