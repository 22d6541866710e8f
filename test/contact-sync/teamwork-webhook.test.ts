import crypto from 'node:crypto';
import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel } from '../../models';
import { WebhookDeliveryModel } from '../../models/webhook-delivery';
import { startTestSystem, type TestSystem } from '../support/system';
import { signUpLinkedSite, waitForSync, type SignedUpSite } from '../support/sites';
import { eventually, settle } from '../support/eventually';

describe('Teamwork.com webhooks in (O4, C3, C14)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  let site: SignedUpSite;
  let token: string;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] })]);
    site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 0 });
    await waitForSync(system, site.token);
    token = teamwork.control.listWebhooks({ installation: site.installation })[0]!.token!;
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  const sign = (body: string, secret: string) => crypto.createHmac('sha256', secret).update(body).digest('hex');
  const post = (body: string, headers: Record<string, string>) =>
    request(system.app).post(`/webhooks/teamwork?site=${site.siteId}`).set('content-type', 'application/json').set(headers).send(body);
  const linkWorkflows = async () => {
    const ids: string[] = [];
    for await (const wf of system.runtime.temporal.workflow.list({ query: `DeskbridgeSiteId = '${site.siteId}' AND WorkflowType = 'teamworkImport'` })) ids.push(wf.workflowId);
    return ids;
  };

  const body = JSON.stringify({ eventCreator: { id: 1 }, company: { id: 987654, name: 'Forged Co' } });
  const flipped = body.replace('Forged', 'Forgee');
  test.each([
    ['no signature header', {}],
    ['a signature made with the wrong secret', { 'x-projects-signature': sign(body, 'not-the-secret') }],
    ['a signature of a body with one byte flipped', { 'x-projects-signature': sign(flipped, 'SECRET') }],
    ['a truncated signature', { 'x-projects-signature': 'SECRET_TRUNC' }],
    ['a signature that is not hex', { 'x-projects-signature': 'zz'.repeat(32) }],
  ])('O4 When a webhook arrives with %s, Then 401 problem+json, nothing written and nothing signalled', async (_case, headers: Record<string, string>) => {
    const real = sign(body, token);
    const resolved = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v === sign(flipped, 'SECRET') ? sign(flipped, token) : v === 'SECRET_TRUNC' ? real.slice(0, 40) : v]));
    const deliveriesBefore = await WebhookDeliveryModel.countDocuments();
    const res = await post(body, { 'x-projects-event': 'COMPANY.CREATED', 'x-projects-delivery': crypto.randomUUID(), ...resolved });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await WebhookDeliveryModel.countDocuments()).toBe(deliveriesBefore);
    expect(await linkWorkflows()).not.toContain(`teamwork-import/${site.siteId}/company-987654`);
  });

  test('O4 When a correctly signed webhook arrives, Then 2xx and the change is handed over', async () => {
    const created = teamwork.control.createCompany({ installation: site.installation, company: { name: 'Signed Co' } });
    await teamwork.control.webhooksSettled();
    const payload = JSON.stringify({ eventCreator: { id: 1 }, company: { id: created.id } });
    const res = await post(payload, { 'x-projects-event': 'COMPANY.CREATED', 'x-projects-delivery': crypto.randomUUID(), 'x-projects-signature': sign(payload, token) });
    expect(res.status).toBe(200);
    expect(res.body.status).toMatch(/accepted|duplicate/);
    await eventually(() => CompanyModel.exists({ siteId: site.siteId, teamworkId: created.id }), Boolean, 10_000);
  });

  test('C14 When the same delivery is posted 10 times at once, Then every answer is 2xx and one hand-over happens', async () => {
    const company = (await CompanyModel.findOne({ siteId: site.siteId, name: { $ne: 'Signed Co' } }).lean())!;
    const payload = JSON.stringify({ eventCreator: { id: 1 }, company: { id: company.teamworkId } });
    const delivery = crypto.randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(payload, { 'x-projects-event': 'COMPANY.UPDATED', 'x-projects-delivery': delivery, 'x-projects-signature': sign(payload, token) })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((a) => a.body.status === 'accepted')).toHaveLength(1);
    expect(await WebhookDeliveryModel.countDocuments({ key: `teamwork:${delivery}` })).toBe(1);
  });

  test('O4 When a signed webhook carries a malformed payload or an unknown site, Then 4xx and nothing written', async () => {
    const garbage = '{"company": "nope"';
    const bad = await post(garbage, { 'x-projects-event': 'COMPANY.UPDATED', 'x-projects-delivery': crypto.randomUUID(), 'x-projects-signature': sign(garbage, token) });
    expect(bad.status).toBe(400);
    const unknown = await request(system.app).post('/webhooks/teamwork?site=000000000000000000000000').set('content-type', 'application/json').set({ 'x-projects-signature': sign(body, token) }).send(body);
    expect(unknown.status).toBe(401);
    expect((await request(system.app).post('/webhooks/teamwork?site=nope').send(body)).status).toBe(400);
  });

  test.each([
    ['an event with a third part', 'USER.CREATED.EXTRA', { user: { id: 5 } }, 200],
    ['an id that is a boolean', 'USER.UPDATED', { user: { id: true } }, 400],
    ['an id that is a numeric-looking non-integer string', 'COMPANY.UPDATED', { company: { id: '1e3' } }, 400],
    ['an id that is an array', 'COMPANY.UPDATED', { company: { id: [7] } }, 400],
  ])('O4 When a signed webhook carries %s, Then it is ignored or refused and nothing is recorded', async (_case, event, payload, status) => {
    const raw = JSON.stringify(payload);
    const deliveriesBefore = await WebhookDeliveryModel.countDocuments();
    const res = await post(raw, { 'x-projects-event': event, 'x-projects-delivery': crypto.randomUUID(), 'x-projects-signature': sign(raw, token) });
    expect(res.status).toBe(status);
    if (status === 200) expect(res.body.status).toBe('ignored');
    expect(await WebhookDeliveryModel.countDocuments()).toBe(deliveriesBefore);
  });

  test('O4 When Temporal cannot take the hand-over, Then 503 so Teamwork.com redelivers, and the redelivery is accepted later', async () => {
    const company = (await CompanyModel.findOne({ siteId: site.siteId }).lean())!;
    const payload = JSON.stringify({ eventCreator: { id: 1 }, company: { id: company.teamworkId } });
    const delivery = crypto.randomUUID();
    const headers = { 'x-projects-event': 'COMPANY.UPDATED', 'x-projects-delivery': delivery, 'x-projects-signature': sign(payload, token) };
    const signalWithStart = system.runtime.temporal.workflow.signalWithStart.bind(system.runtime.temporal.workflow);
    system.runtime.temporal.workflow.signalWithStart = (() => Promise.reject(new Error('temporal down'))) as typeof signalWithStart;
    try {
      const refused = await post(payload, headers);
      expect(refused.status).toBe(503);
      expect(await WebhookDeliveryModel.countDocuments({ key: `teamwork:${delivery}` })).toBe(0);
    } finally {
      system.runtime.temporal.workflow.signalWithStart = signalWithStart;
    }
    await settle(10);
    const retried = await post(payload, headers);
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('accepted');
  });
});
