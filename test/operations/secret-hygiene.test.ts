import crypto from 'node:crypto';
import request from 'supertest';
import { BSON } from 'mongodb';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel, InboxModel } from '../../models';
import type { SealedSecret } from '../../lib/secrets';
import { bearer, ownerFor, waitForSync } from '../support/sites';
import { eventually } from '../support/eventually';
import { consentRedirect, createInbox, startMailTestBed, waitFor, type MailTestBed } from '../mailbox/support';

const mockLogLines: string[] = [];
jest.mock('../../lib/logger', () => {
  const actual = jest.requireActual('../../lib/logger');
  return {
    ...actual,
    createLogger: (options: Record<string, unknown>) => actual.createLogger({ ...options, destination: { write: (line: string) => void mockLogLines.push(line) } }),
  };
});

/** Sealed secrets at rest look like this; opening every one of them yields the plaintexts to look for. */
function sealedValues(value: unknown, into: SealedSecret[] = []): SealedSecret[] {
  if (Array.isArray(value)) value.forEach((item) => sealedValues(item, into));
  else if (value && typeof value === 'object' && !(value instanceof Uint8Array) && !BSON.ObjectId.isValid(value as never)) {
    const record = value as Record<string, unknown>;
    if (typeof record.keyId === 'string' && typeof record.iv === 'string' && typeof record.data === 'string') into.push(record as unknown as SealedSecret);
    else Object.values(record).forEach((item) => sealedValues(item, into));
  }
  return into;
}

/**
 * Workflow histories carry payloads as bytes; decoded, a secret inside them is plain text again.
 * Bytes are decoded before stringifying because JSON.stringify would turn a Buffer into numbers first.
 */
function decodedJson(value: unknown): string {
  const decode = (item: unknown): unknown => {
    if (item instanceof Uint8Array) return Buffer.from(item).toString('utf8');
    if (Array.isArray(item)) return item.map(decode);
    if (item && typeof item === 'object') return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, decode(inner)]));
    return typeof item === 'bigint' ? String(item) : item;
  };
  return JSON.stringify(decode(value));
}

describe('secret hygiene (O4)', () => {
  let bed: MailTestBed;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [bed, teamwork] = await Promise.all([startMailTestBed({ env: { LOG_LEVEL: 'debug' } }), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [200, 500] })]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await bed?.stop();
  });

  test('O4 When a site syncs, propagates and connects mailboxes, Then no API key, webhook token, bearer token, OAuth token or clientState is in the database, the logs or the workflow histories', async () => {
    const { system } = bed;
    const db = system.runtime.mongoose.connection.db!;

    // A Teamwork.com link with a key nobody could mistake for anything else.
    const installation = `hyg${crypto.randomBytes(4).toString('hex')}`;
    const apiKey = `twkey-${crypto.randomBytes(24).toString('hex')}`;
    const { baseUrl } = teamwork.control.createInstallation({ name: installation, apiKey, ownerCompanyName: `${installation} Agency` });
    teamwork.control.seed({ installation, companies: 3, contactsPerCompany: 2 });
    const signup = await request(system.app).post('/api/signup').send({ siteName: installation, slug: installation, plan: 'premium', owner: ownerFor(installation), teamwork: { baseUrl, apiKey } });
    expect(signup.status).toBe(202);
    const siteId: string = signup.body.site.id;
    const ownerToken: string = signup.body.owner.token;
    expect((await waitForSync(system, ownerToken)).state).toBe('completed');
    const webhookToken = teamwork.control.listWebhooks({ installation })[0]!.token!;

    // Propagation both ways: a Desk edit reaches Teamwork.com, a Teamwork.com company arrives by signed webhook.
    const linked = (await CompanyModel.findOne({ siteId, linked: true }).lean())!;
    expect((await request(system.app).patch(`/api/companies/${linked._id}`).set(bearer(ownerToken)).send({ name: 'Renamed In Desk' })).status).toBe(200);
    await eventually(async () => teamwork.control.getCompany({ installation, id: linked.teamworkId! })?.name, (name) => name === 'Renamed In Desk', 20_000);
    const created = teamwork.control.createCompany({ installation, company: { name: 'Arrived By Webhook' } });
    await eventually(() => CompanyModel.findOne({ siteId, teamworkId: created.id }).lean(), Boolean, 20_000);

    const invited = await request(system.app).post('/api/users').set(bearer(ownerToken)).send({ email: `agent@${installation}.example.com`, firstName: 'Ann', lastName: 'Agent', role: 'agent' });
    expect(invited.status).toBe(201);

    // Both mailbox providers: OAuth tokens sealed, consent state hashed, Graph clientState sealed.
    const consentStates: string[] = [];
    for (const [provider, address] of [['gmail', 'hygiene@gmail.test'], ['outlook', 'hygiene@outlook.test']] as const) {
      if (provider === 'gmail') bed.gmail.control.createAccount(address);
      else bed.graph.control.createAccount(address);
      const inbox = await createInbox(system, ownerToken, { provider, importEmails: false });
      const connect = await request(system.app).post(`/api/inboxes/${inbox.id}/connect`).set(bearer(ownerToken)).send({ loginHint: address });
      consentStates.push(new URL(connect.body.consentUrl).searchParams.get('state')!);
      const back = await consentRedirect(connect.body.consentUrl, bed.graph.caPem);
      expect((await request(system.app).get(`${back.pathname}${back.search}`)).status).toBe(200);
      if (provider === 'outlook') await waitFor('the Graph subscription', async () => (await InboxModel.findById(inbox.id, { push: 1 }).lean())?.push?.subscriptionId, Boolean, 30_000);
    }
    const clientStates = bed.graph.control.subscriptions().map((s) => s.clientState!).filter(Boolean);
    expect(clientStates.length).toBeGreaterThan(0);

    const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    const documents = (await Promise.all(collections.map((name) => db.collection(name).find({}).toArray()))).flat();
    const sealed = sealedValues(documents);
    const opened = sealed.map((s) => system.runtime.secrets.open(s));
    const secrets = [...new Set([apiKey, webhookToken, ownerToken, invited.body.token as string, ...consentStates, ...clientStates, ...opened])].filter((s) => s.length >= 8);
    // apiKey, webhookToken, access + refresh tokens of two mailboxes, clientState, code verifiers.
    expect(opened).toEqual(expect.arrayContaining([apiKey, webhookToken, ...clientStates]));
    expect(opened.length).toBeGreaterThanOrEqual(7);

    // Visibility lags a little behind the starts; wait until both mailbox workflows are listed.
    const listed = await eventually(async () => {
      const found: { workflowId: string; runId: string; type: string }[] = [];
      for await (const workflow of system.runtime.temporal.workflow.list({ query: `DeskbridgeSiteId = '${siteId}'` })) found.push(workflow);
      return found;
    }, (found) => found.filter((w) => w.type === 'mailbox').length >= 2, 15_000);
    const histories: string[] = [];
    for (const workflow of listed) {
      histories.push(`${workflow.type} ${decodedJson(await system.runtime.temporal.workflow.getHandle(workflow.workflowId, workflow.runId).fetchHistory())}`);
    }
    // Payloads were decoded: the inputs are JSON text again (the workflow ids alone name the site too).
    expect(histories.some((h) => h.startsWith('initialSync') && h.includes(`"siteId\\":\\"${siteId}`))).toBe(true);
    expect(histories.some((h) => h.startsWith('mailbox') && h.includes(`"siteId\\":\\"${siteId}`))).toBe(true);

    // The app logs little on a good day, so the two ways secrets reach logs are exercised on purpose:
    // a rejected forgery (logged as a warning) and a careless log call with whole credential objects.
    const forged = await request(system.app).post('/webhooks/graph').set('content-type', 'application/json').send({ value: [{ subscriptionId: bed.graph.control.subscriptions()[0]!.id, clientState: `${clientStates[0]}-forged` }] });
    expect(forged.status).toBe(401);
    system.runtime.logger.debug(
      { apiKey, teamwork: { apiKey, webhookToken }, req: { headers: { authorization: `Bearer ${ownerToken}` } }, tokens: { accessToken: opened[0], refreshToken: opened[1] }, subscription: { clientState: clientStates[0] } },
      'careless debug line',
    );
    expect(mockLogLines.some((line) => line.includes('wrong clientState rejected'))).toBe(true);
    expect(mockLogLines.some((line) => line.includes('careless debug line'))).toBe(true);

    const places = { database: BSON.EJSON.stringify(documents), logs: mockLogLines.join(''), histories: histories.join('\n') };
    const leaks = Object.entries(places).flatMap(([place, text]) =>
      secrets.filter((secret) => text.includes(secret)).map((secret) => `${place} contains ${secret.slice(0, 6)}… (${secrets.indexOf(secret)})`),
    );
    expect(leaks).toEqual([]);
  });
});
