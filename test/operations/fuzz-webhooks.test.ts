import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import type { RouteTable } from '../../api/routing';
import { InboxModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, signUpLinkedSite, waitForSync, type SignedUpSite } from '../support/sites';
import { arbitraryJson, hostileLeaf, isPlainRecord } from './fuzz/arbitraries';
import { inParallel } from './fuzz/requests';
import { changedCollections, snapshotDatabase } from './fuzz/snapshot';

const PUBSUB_AUDIENCE = 'https://deskbridge.test/webhooks/gmail';
const GMAIL_PUSH_ACCOUNT = 'gmail-api-push@system.gserviceaccount.com';
/** Fixed so a CI run is repeatable; FUZZ_SEED=<n> explores other corners (a failure prints its seed). */
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const OVER_ONE_MEGABYTE = JSON.stringify({ company: { id: 1 }, padding: 'x'.repeat(1024 * 1024) });

interface Delivery {
  kind: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The one answer that is right besides "a 4xx problem": Teamwork.com events we do not handle are 200 ignored. */
  ignoredIsFine?: boolean;
}

const unhandledRejections: unknown[] = [];
const onUnhandledRejection = (reason: unknown) => unhandledRejections.push(reason);
process.on('unhandledRejection', onUnhandledRejection);

/** Google's side of Pub/Sub push authentication: a signing key and the JWKS deskbridge fetches. */
function startGoogleKeys() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'fuzz-key';
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  const stranger = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const sign = (claims: Record<string, unknown>, options: { key?: crypto.KeyObject; header?: Record<string, unknown> } = {}) => {
    const header = Buffer.from(JSON.stringify(options.header ?? { alg: 'RS256', kid, typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = crypto.createSign('RSA-SHA256').update(`${header}.${body}`).sign(options.key ?? privateKey).toString('base64url');
    return `${header}.${body}.${signature}`;
  };
  const claims = (overrides: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: 'https://accounts.google.com', aud: PUBSUB_AUDIENCE, email: GMAIL_PUSH_ACCOUNT, email_verified: true, iat: now, exp: now + 3600, ...overrides };
  };
  return {
    listen: () => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`))),
    close: () => new Promise((resolve) => server.close(resolve)),
    validToken: () => sign(claims()),
    forgedTokens: fc.constantFrom(
      () => sign(claims(), { key: stranger }),
      () => sign(claims(), { header: { alg: 'RS256', kid: 'unknown-kid' } }),
      () => sign(claims(), { header: { alg: 'none', kid } }).split('.').slice(0, 2).join('.') + '.',
      () => sign(claims(), { header: { alg: 'HS256', kid } }),
      () => sign(claims({ aud: 'https://attacker.example/webhooks/gmail' })),
      () => sign(claims({ email: 'someone@attacker.example' })),
      () => sign(claims({ email_verified: false })),
      () => sign(claims({ iss: 'https://attacker.example' })),
      () => sign(claims({ exp: Math.floor(Date.now() / 1000) - 3600 })),
      () => sign(claims({ iat: Math.floor(Date.now() / 1000) + 3600 })),
      () => sign(claims({ exp: 'never' })),
      () => `${sign(claims())}x`,
      () => 'not.a.jwt',
      () => 'eyJhbGciOiJSUzI1NiJ9.%%%.@@@',
    ),
  };
}

describe('bad input: malformed provider webhooks (O4)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  let site: SignedUpSite;
  let webhookToken: string;
  let subscriptionId: string;
  let clientState: string;
  const google = startGoogleKeys();

  beforeAll(async () => {
    const jwksUrl = await google.listen();
    [system, teamwork] = await Promise.all([
      startTestSystem({ env: { GOOGLE_JWKS_URL: jwksUrl, GOOGLE_PUBSUB_AUDIENCE: PUBSUB_AUDIENCE } }),
      startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] }),
    ]);
    site = await signUpLinkedSite(system, teamwork, { companies: 1, contactsPerCompany: 1 });
    await waitForSync(system, site.token);
    webhookToken = teamwork.control.listWebhooks({ installation: site.installation })[0]!.token!;

    // A Graph subscription as the mailbox workflow records it, without connecting a mailbox.
    const inbox = await request(system.app).post('/api/inboxes').set(bearer(site.token)).send({ name: 'Hooked', provider: 'outlook', importEmails: false, filterMode: 'all' });
    subscriptionId = crypto.randomUUID();
    clientState = crypto.randomBytes(32).toString('base64url');
    await InboxModel.updateOne({ _id: inbox.body.id }, { $set: { status: 'connected', mailboxAddress: 'hooked@outlook.test', 'push.subscriptionId': subscriptionId, 'push.clientState': system.runtime.secrets.seal(clientState) } });
    await system.stopWorker();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandledRejection);
    await teamwork?.close();
    await system?.stop();
    await google.close();
  });

  const teamworkSignature = (body: string, secret: string) => crypto.createHmac('sha256', secret).update(body).digest('hex');
  const garbageText = fc.oneof(
    arbitraryJson.map((v) => JSON.stringify(v) ?? ''),
    fc.string({ maxLength: 300 }),
    fc.constantFrom('', 'NaN', '{"company":', '{"company":{"id":1},}', '[]', 'null', '{"__proto__":{"polluted":true}}', '\u0000\u0001'),
  );

  /** A Teamwork.com payload that names a record would be accepted; everything here must not. */
  const namesTeamworkRecord = (body: string, event: string) => {
    try {
      const payload = JSON.parse(body);
      const entity = event.toUpperCase().startsWith('COMPANY.') ? 'company' : 'user';
      const id = isPlainRecord(payload) && isPlainRecord(payload[entity]) ? Number(payload[entity]!.id) : NaN;
      return Number.isInteger(id) && id > 0;
    } catch {
      return false;
    }
  };

  function teamworkDeliveries(): fc.Arbitrary<Delivery> {
    const path = `/webhooks/teamwork?site=${site.siteId}`;
    const validEvent = fc.constantFrom('COMPANY.CREATED', 'COMPANY.UPDATED', 'USER.DELETED', 'user.updated');
    const wrongEvent = fc.oneof(fc.constantFrom('', 'COMPANY', 'COMPANY.', '.CREATED', 'TASK.CREATED', 'COMPANY.EXPLODED', 'USER.CREATED.EXTRA', '__proto__.CREATED', 'constructor.UPDATED'), fc.string({ maxLength: 30 }));
    const nearPayload = fc.record({ company: fc.record({ id: hostileLeaf }), user: fc.option(fc.record({ id: hostileLeaf })) }).map((v) => JSON.stringify(v) ?? '{}');
    const body = fc.oneof(garbageText, nearPayload);
    return fc.oneof(
      fc.tuple(body, validEvent).map(([b, event]) => ({ kind: 'teamwork unsigned', path, headers: { 'x-projects-event': event }, body: b })),
      fc.tuple(body, validEvent, fc.oneof(fc.string({ maxLength: 40 }), fc.constant('SECRET'))).map(([b, event, secret]) => ({
        kind: 'teamwork wrongly signed',
        path,
        headers: { 'x-projects-event': event, 'x-projects-signature': teamworkSignature(b, secret === webhookToken ? `${secret}!` : secret) },
        body: b,
      })),
      fc.tuple(body, validEvent, fc.constantFrom('zz', '', '00', 'g'.repeat(64), '0'.repeat(64))).map(([b, event, signature]) => ({ kind: 'teamwork malformed signature', path, headers: { 'x-projects-event': event, 'x-projects-signature': signature }, body: b })),
      fc.tuple(body, validEvent).filter(([b, event]) => !namesTeamworkRecord(b, event)).map(([b, event]) => ({
        kind: 'teamwork signed garbage',
        path,
        headers: { 'x-projects-event': event, 'x-projects-signature': teamworkSignature(b, webhookToken) },
        body: b,
      })),
      fc.tuple(body, wrongEvent).map(([b, event]) => ({
        kind: 'teamwork signed, wrong event',
        path,
        headers: { 'x-projects-event': event, 'x-projects-signature': teamworkSignature(b, webhookToken) },
        body: b,
        ignoredIsFine: true,
      })),
      fc.tuple(body, fc.oneof(fc.constantFrom('', 'x', '000000000000000000000000', '{"$ne":null}'), fc.stringMatching(/^[0-9a-f]{24}$/), fc.string({ maxLength: 30 }))).map(([b, other]) => ({
        kind: 'teamwork other site',
        path: `/webhooks/teamwork?site=${encodeURIComponent(other)}`,
        headers: { 'x-projects-event': 'COMPANY.UPDATED', 'x-projects-signature': teamworkSignature(b, webhookToken) },
        body: b,
      })),
    );
  }

  /** A Gmail notification with an address and a history id would be acted on (signed or not, it is never sent unsigned here). */
  const isGmailNotification = (data: string) => {
    try {
      const value = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
      return isPlainRecord(value) && typeof value.emailAddress === 'string' && /@/.test(value.emailAddress) && value.historyId !== undefined;
    } catch {
      return false;
    }
  };

  function gmailDeliveries(): fc.Arbitrary<Delivery> {
    const envelope = (data: string, messageId = crypto.randomUUID()) => JSON.stringify({ message: { data, messageId }, subscription: 'projects/emu/subscriptions/deskbridge' });
    const base64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : (JSON.stringify(v) ?? '')).toString('base64');
    const notificationish = fc.oneof(
      fc.record({ emailAddress: hostileLeaf, historyId: hostileLeaf }).map(base64),
      arbitraryJson.map(base64),
      fc.string({ maxLength: 60 }),
      fc.constantFrom('', '!!!not base64!!!', base64('{"emailAddress":'), base64({ emailAddress: 'a@b.example' })),
    ).filter((data) => !isGmailNotification(data));
    const body = fc.oneof(garbageText, notificationish.map((data) => envelope(data)), fc.record({ message: fc.record({ data: hostileLeaf, messageId: hostileLeaf }) }).map((v) => JSON.stringify(v) ?? ''));
    const authorization = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
      google.forgedTokens.map((make) => `Bearer ${make()}`),
      fc.constantFrom('Basic Zm9vOmJhcg==', 'Bearer', 'bearer  ', `Bearer ${'a'.repeat(5000)}`),
    );
    return fc.oneof(
      fc.tuple(body, authorization).map(([b, auth]): Delivery => ({ kind: 'gmail unauthenticated', path: '/webhooks/gmail', headers: auth ? { authorization: auth } : {}, body: b })),
      body.map((b) => ({ kind: 'gmail signed garbage', path: '/webhooks/gmail', headers: { authorization: `Bearer ${google.validToken()}` }, body: b })),
    );
  }

  function graphDeliveries(): fc.Arbitrary<Delivery> {
    const notification = (state: unknown, id: unknown = subscriptionId) => ({ subscriptionId: id, clientState: state, changeType: 'created', resource: 'me/messages/x', resourceData: { id: 'x' } });
    const wrongState = fc.oneof(fc.constant(undefined), hostileLeaf, fc.constant(`${clientState}x`), fc.constant(clientState.slice(1)), fc.constant(clientState.toUpperCase()));
    const batch = fc.oneof(
      wrongState.map((state) => ({ value: [notification(state)] })),
      fc.tuple(wrongState, fc.nat(3)).map(([state, at]) => {
        const value = [notification(clientState), notification(clientState), notification(clientState)];
        value.splice(at, 0, notification(state));
        return { value };
      }),
      // An undefined id would fall back to the real subscription: that one is the valid case.
      fc.tuple(hostileLeaf.filter((id) => id !== undefined), fc.constantFrom(clientState, 'x')).map(([id, state]) => ({ value: [notification(state, id)] })),
      fc.constantFrom({ value: [] }, { value: null }, { value: {} }, { value: Array.from({ length: 1001 }, () => notification(clientState)) }),
      arbitraryJson,
    );
    return fc.oneof(
      batch.map((b) => ({ kind: 'graph forged or malformed', path: '/webhooks/graph', headers: {}, body: JSON.stringify(b) ?? '' })),
      garbageText.map((b) => ({ kind: 'graph garbage', path: '/webhooks/graph', headers: {}, body: b })),
      fc.string({ minLength: 1025, maxLength: 1100 }).map((token) => ({ kind: 'graph oversized validation token', path: `/webhooks/graph?validationToken=${encodeURIComponent(token)}`, headers: {}, body: '' })),
    );
  }

  const huge = (path: string, headers: Record<string, string> = {}): Delivery => ({ kind: 'over 1 MB', path, headers, body: OVER_ONE_MEGABYTE });

  async function workflowsOfThisSystem(): Promise<number> {
    const { count } = await system.runtime.temporal.workflow.count(`TaskQueue = '${system.config.TEMPORAL_TASK_QUEUE}'`);
    return count;
  }

  test('O4 When 1,200 unsigned, forged, garbage and oversized provider payloads arrive, Then none answers 5xx, nothing is written and no workflow starts', async () => {
    const routes = (system.app.locals.routes as RouteTable).routes.filter((r) => r.auth === 'webhook').map((r) => r.path).sort();
    expect(routes).toEqual(['/webhooks/gmail', '/webhooks/graph', '/webhooks/teamwork']);

    const deliveries: Delivery[] = [
      ...fc.sample(teamworkDeliveries(), { numRuns: 600, seed: FUZZ_SEED }),
      ...fc.sample(gmailDeliveries(), { numRuns: 300, seed: FUZZ_SEED + 1 }),
      ...fc.sample(graphDeliveries(), { numRuns: 300, seed: FUZZ_SEED + 2 }),
      huge(`/webhooks/teamwork?site=${site.siteId}`, { 'x-projects-event': 'COMPANY.UPDATED', 'x-projects-signature': teamworkSignature(OVER_ONE_MEGABYTE, webhookToken) }),
      huge('/webhooks/gmail', { authorization: `Bearer ${google.validToken()}` }),
      huge('/webhooks/graph'),
    ];
    const db = system.runtime.mongoose.connection.db!;
    const before = await snapshotDatabase(db);
    const workflowsBefore = await workflowsOfThisSystem();
    const failures: string[] = [];
    const statuses = new Map<string, Map<number, number>>();

    await inParallel(deliveries, async (delivery) => {
      const res = await request(system.apiUrl).post(delivery.path).set({ 'content-type': 'application/json', ...delivery.headers }).send(delivery.body);
      const byStatus = statuses.get(delivery.kind) ?? new Map<number, number>();
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      statuses.set(delivery.kind, byStatus);
      const ignored = delivery.ignoredIsFine && res.status === 200 && res.body?.status === 'ignored';
      const problem = res.status >= 400 && res.status < 500 && /^application\/problem\+json/.test(res.headers['content-type'] ?? '') && res.body?.status === res.status;
      if (!ignored && !problem) failures.push(`${delivery.kind} ${delivery.path.slice(0, 80)} answered ${res.status} ${res.text.slice(0, 200)} to ${delivery.body.slice(0, 200)}`);
      if (delivery.kind === 'over 1 MB' && res.status !== 413) failures.push(`${delivery.path} answered ${res.status} to a body over 1 MB`);
    });

    expect({ seed: FUZZ_SEED, failures: failures.slice(0, 10) }).toEqual({ seed: FUZZ_SEED, failures: [] });
    expect(changedCollections(before, await snapshotDatabase(db))).toEqual([]);
    expect(await workflowsOfThisSystem()).toBe(workflowsBefore);
    expect(deliveries.length).toBeGreaterThanOrEqual(1_000);
    console.log(`malformed webhook deliveries by kind and status:\n${[...statuses].map(([kind, s]) => `${kind}: ${[...s].map(([status, n]) => `${n}×${status}`).join(', ')}`).join('\n')}`);
  });

  test('O4 When a payload is validly signed, Then it is accepted once and recorded, so the refusals above were not a broken endpoint', async () => {
    const body = JSON.stringify({ company: { id: 424242, name: 'Signed Co' } });
    const res = await request(system.apiUrl)
      .post(`/webhooks/teamwork?site=${site.siteId}`)
      .set({ 'content-type': 'application/json', 'x-projects-event': 'COMPANY.CREATED', 'x-projects-signature': teamworkSignature(body, webhookToken), 'x-projects-delivery': 'fuzz-control' })
      .send(body);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('accepted');
    const graph = await request(system.apiUrl).post('/webhooks/graph').set('content-type', 'application/json').send({ value: [{ subscriptionId, clientState, changeType: 'created', resource: 'me/messages/y', resourceData: { id: 'y' } }] });
    expect(graph.status).toBe(202);
  });

  test('O4 When all of that has run, Then no promise was rejected without a handler', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandledRejections).toEqual([]);
  });
});
