import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startGmailEmulator, type GmailEmulator } from '../../emulators/gmail';
import { startGraphEmulator, type GraphEmulator } from '../../emulators/graph';
import { InboxModel, TicketMessageModel, TicketModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer } from '../support/sites';

export const GOOGLE_CLIENT = { clientId: 'deskbridge-test.apps.googleusercontent.com', clientSecret: 'gmail-test-secret' };
export const MS_CLIENT = { clientId: '00000000-0000-4000-8000-00000000d35c', clientSecret: 'graph-test-secret' };
export const PUBSUB_TOPIC = 'projects/emu/topics/deskbridge';
export const PUBSUB_AUDIENCE = 'https://deskbridge.test/webhooks/gmail';

/** The configuration that points deskbridge's Gmail connector, OAuth and push checks at an emulator. */
export function gmailEnv(url: string): Record<string, string> {
  return {
    GMAIL_API_ROOT_URL: `${url}/`,
    GOOGLE_OAUTH_AUTH_URL: `${url}/o/oauth2/v2/auth`,
    GOOGLE_OAUTH_TOKEN_URL: `${url}/token`,
    GOOGLE_JWKS_URL: `${url}/oauth2/v3/certs`,
    GOOGLE_CLIENT_ID: GOOGLE_CLIENT.clientId,
    GOOGLE_CLIENT_SECRET: GOOGLE_CLIENT.clientSecret,
    GOOGLE_PUBSUB_TOPIC: PUBSUB_TOPIC,
    GOOGLE_PUBSUB_AUDIENCE: PUBSUB_AUDIENCE,
  };
}

export interface MailTestBed {
  system: TestSystem;
  gmail: GmailEmulator;
  graph: GraphEmulator;
  stop(): Promise<void>;
}

/**
 * Both provider emulators plus a deskbridge wired to them through its ordinary configuration
 * (the same variables a deployment sets), with short poll and heartbeat timers.
 */
export async function startMailTestBed(options: { worker?: boolean; env?: Record<string, string>; gmail?: Parameters<typeof startGmailEmulator>[0] } = {}): Promise<MailTestBed> {
  const [gmail, graph] = await Promise.all([
    startGmailEmulator({ oauthClients: [GOOGLE_CLIENT], ...options.gmail }),
    startGraphEmulator({ notificationRetryDelaysMs: [200, 500] }),
  ]);
  const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'deskbridge-graph-ca-')), 'ca.pem');
  fs.writeFileSync(caFile, graph.caPem);
  const system = await startTestSystem({
    worker: options.worker,
    env: {
      ...gmailEnv(gmail.url),
      GRAPH_BASE_URL: graph.url,
      MS_IDENTITY_BASE_URL: graph.url,
      MS_TENANT: graph.tenantId,
      MS_CLIENT_ID: MS_CLIENT.clientId,
      MS_CLIENT_SECRET: MS_CLIENT.clientSecret,
      GRAPH_CA_FILE: caFile,
      MAILBOX_POLL_INTERVAL_SECONDS: '2',
      MAILBOX_HEARTBEAT_TIMEOUT_SECONDS: '3',
      ...options.env,
    },
  });
  gmail.control.setPushEndpoint(PUBSUB_TOPIC, `${system.apiUrl}/webhooks/gmail`, PUBSUB_AUDIENCE);
  return {
    system,
    gmail,
    graph,
    async stop() {
      await system.stop();
      await Promise.all([gmail.close(), graph.close()]);
      fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
    },
  };
}

export interface TestSite {
  siteId: string;
  token: string;
  ownerId: string;
}

export async function signUpSite(system: TestSystem, plan: 'free' | 'premium' | 'enterprise' = 'free'): Promise<TestSite> {
  const slug = `mail-${crypto.randomBytes(4).toString('hex')}`;
  const res = await request(system.app)
    .post('/api/signup')
    .send({ siteName: slug, slug, plan, owner: { email: `owner@${slug}.example.com`, firstName: 'Olive', lastName: 'Owner' } });
  if (res.status !== 201 && res.status !== 202) throw new Error(`signup answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { siteId: res.body.site.id, token: res.body.owner.token, ownerId: res.body.owner.id };
}

export async function inviteUser(system: TestSystem, site: TestSite, role: 'admin' | 'agent'): Promise<{ id: string; token: string }> {
  const email = `${role}-${crypto.randomBytes(3).toString('hex')}@example.com`;
  const res = await request(system.app).post('/api/users').set(bearer(site.token)).send({ email, firstName: 'Ann', lastName: role, role });
  if (res.status !== 201) throw new Error(`invite answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { id: res.body.id, token: res.body.token };
}

export async function createInbox(system: TestSystem, token: string, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await request(system.app)
    .post('/api/inboxes')
    .set(bearer(token))
    .send({ name: 'Support', importEmails: true, filterMode: 'all', ...body });
  if (res.status !== 201) throw new Error(`create inbox answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Follows the consent URL to the provider, which auto-consents and redirects back with code and state. */
export async function consentRedirect(consentUrl: string, caPem?: string): Promise<URL> {
  const url = new URL(consentUrl);
  if (url.protocol === 'http:') {
    const res = await fetch(url, { redirect: 'manual' });
    if (res.status !== 302) throw new Error(`consent answered ${res.status}: ${await res.text()}`);
    return new URL(res.headers.get('location')!);
  }
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem }, (res) => {
        res.resume();
        if (res.statusCode !== 302) reject(new Error(`consent answered ${res.statusCode}`));
        else resolve(new URL(res.headers.location!));
      })
      .on('error', reject);
  });
}

/** The whole I2 dance: connect → provider consent → our callback. Returns the callback answer. */
export async function connectInbox(bed: MailTestBed, token: string, inboxId: string, mailboxAddress: string) {
  const connect = await request(bed.system.app).post(`/api/inboxes/${inboxId}/connect`).set(bearer(token)).send({ loginHint: mailboxAddress });
  if (connect.status !== 200) throw new Error(`connect answered ${connect.status}: ${JSON.stringify(connect.body)}`);
  const back = await consentRedirect(connect.body.consentUrl, bed.graph.caPem);
  return request(bed.system.app).get(`${back.pathname}${back.search}`);
}

export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function counts(inboxId: string): Promise<{ tickets: number; messages: number }> {
  const [tickets, messages] = await Promise.all([TicketModel.countDocuments({ inboxId }), TicketMessageModel.countDocuments({ inboxId })]);
  return { tickets, messages };
}

/** Waits until the mailbox workflow has finished its backfill and follows new mail. */
export async function waitForFollowing(inboxId: string, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    'the backfill to finish',
    async () => (await InboxModel.findById(inboxId, { import: 1 }).lean())?.import,
    (i) => i?.state === 'following' || i?.state === 'failed',
    timeoutMs,
  );
  const state = (await InboxModel.findById(inboxId, { import: 1 }).lean())?.import;
  if (state?.state === 'failed') throw new Error(`import failed: ${JSON.stringify(state.failure)}`);
}
