import crypto from 'node:crypto';
import request from 'supertest';
import type { RouteSpec } from '../../api/routing';
import { TicketMessageModel, TicketModel, utcDay } from '../../models';
import { bearer } from '../support/sites';
import { createInbox, inviteUser, signUpSite, startMailTestBed, type MailTestBed, type TestSite } from '../mailbox/support';

type Role = 'owner' | 'admin' | 'agent';
type Relation = 'creator' | 'inbox admin' | 'read_reply member' | 'read_only member' | 'non-member' | 'other site';
/** What a relation grants on an inbox and its tickets (I8); the owner's is always `full` on its own site. */
type Access = 'full' | 'read_reply' | 'read_only' | 'none';

interface Ids {
  inboxId: string;
  ticketId: string;
  companyId: string;
}
interface Call {
  query?: Record<string, string>;
  body?: unknown;
}

/**
 * Every route of the router, classed once. `inbox` routes are asserted in every cell of
 * role × relation; `site` routes are site-scoped and allowed to every role (other site: 404);
 * `roles` routes are allowed to some roles only; `public` routes take no user token.
 */
type Rule =
  | { kind: 'inbox'; status: Record<Access, number>; call?: (ids: Ids) => Call; listed?: 'inbox' | 'ticket' }
  | { kind: 'site'; call?: (ids: Ids) => Call; write?: true }
  | { kind: 'roles'; allowed: Role[]; call: (ids: Ids) => Call }
  | { kind: 'public' };

const see = { full: 200, read_reply: 200, read_only: 200, none: 404 };
const manage = (ok: number) => ({ full: ok, read_reply: 403, read_only: 403, none: 404 });
const reply = (ok: number) => ({ full: ok, read_reply: ok, read_only: 403, none: 404 });
const report = () => ({ query: { from: '2020-01-01', to: '2020-12-31' } });

const expectations: Record<string, Rule> = {
  'GET /healthz': { kind: 'public' },
  'GET /readyz': { kind: 'public' },
  'GET /metrics': { kind: 'public' },
  'GET /openapi.json': { kind: 'public' },
  'GET /docs': { kind: 'public' },
  'POST /api/signup': { kind: 'public' },
  'POST /webhooks/teamwork': { kind: 'public' },
  'POST /webhooks/gmail': { kind: 'public' },
  'POST /webhooks/graph': { kind: 'public' },
  'GET /oauth/:provider/callback': { kind: 'public' },

  'GET /api/sync/status': { kind: 'site' },
  'GET /api/companies': { kind: 'site' },
  'POST /api/companies': { kind: 'site', write: true },
  'GET /api/companies/:id': { kind: 'site' },
  'PATCH /api/companies/:id': { kind: 'site', write: true, call: () => ({ body: { name: 'Renamed Co' } }) },
  'DELETE /api/companies/:id': { kind: 'site', write: true },
  'GET /api/companies/:id/sync-history': { kind: 'site' },
  'GET /api/customers': { kind: 'site' },
  'POST /api/customers': { kind: 'site', write: true },
  'GET /api/customers/:id': { kind: 'site' },
  'PATCH /api/customers/:id': { kind: 'site', write: true, call: () => ({ body: { firstName: 'Renamed' } }) },
  'DELETE /api/customers/:id': { kind: 'site', write: true },
  'GET /api/customers/:id/sync-history': { kind: 'site' },
  'GET /api/settings/cross-product': { kind: 'site' },
  'GET /api/users': { kind: 'site' },
  'GET /api/reports/tickets': { kind: 'site', call: report },
  'POST /api/inboxes': { kind: 'site', write: true },
  'PATCH /api/settings/cross-product': { kind: 'roles', allowed: ['owner'], call: () => ({ body: { paused: true } }) },
  'PUT /api/settings/cross-product/link': { kind: 'roles', allowed: ['owner'], call: () => ({ body: { baseUrl: 'https://tw.example.com', apiKey: 'k' } }) },
  'POST /api/users': { kind: 'roles', allowed: ['owner', 'admin'], call: () => ({ body: { email: `new-${crypto.randomBytes(3).toString('hex')}@example.com`, firstName: 'N', lastName: 'U', role: 'agent' } }) },

  'GET /api/inboxes': { kind: 'inbox', status: { full: 200, read_reply: 200, read_only: 200, none: 200 }, listed: 'inbox' },
  'GET /api/inboxes/:id': { kind: 'inbox', status: see },
  'PATCH /api/inboxes/:id': { kind: 'inbox', status: manage(200), call: () => ({ body: { name: 'Renamed inbox' } }) },
  'GET /api/inboxes/:id/import': { kind: 'inbox', status: see },
  'POST /api/inboxes/:id/connect': { kind: 'inbox', status: manage(200), call: () => ({ body: {} }) },
  'GET /api/tickets': { kind: 'inbox', status: { full: 200, read_reply: 200, read_only: 200, none: 200 }, listed: 'ticket' },
  'GET /api/tickets/:id': { kind: 'inbox', status: see },
  'PATCH /api/tickets/:id': { kind: 'inbox', status: reply(200), call: () => ({ body: { status: 'pending', tags: ['vip'] } }) },
  'POST /api/tickets/:id/notes': { kind: 'inbox', status: { full: 201, read_reply: 201, read_only: 201, none: 404 }, call: () => ({ body: { text: 'a note' } }) },
  'GET /api/tickets/:id/notes': { kind: 'inbox', status: see },
  'GET /api/tickets/:id/outgoing': { kind: 'inbox', status: see },
  // Allowed callers reach the send logic, which refuses an inbox that was never connected (409).
  'POST /api/tickets/:id/replies': { kind: 'inbox', status: reply(409), call: () => ({ body: { text: 'hello' } }) },
  'POST /api/tickets/:id/forwards': { kind: 'inbox', status: reply(409), call: () => ({ body: { text: 'fyi', to: [{ address: 'p@partner.example' }] } }) },
  // The site is not linked to Teamwork.com, so allowed callers get 409 and nothing is written.
  'POST /api/tickets/:id/tasks': { kind: 'inbox', status: reply(409), call: () => ({ body: { tasklistId: 1, title: 'Follow up' } }) },
  'GET /api/tickets/:id/tasks': { kind: 'inbox', status: see },
  // Last in every cell: it deletes the cell's inbox.
  'DELETE /api/inboxes/:id': { kind: 'inbox', status: manage(204) },
};

const roles: Role[] = ['owner', 'admin', 'agent'];
const relations: Relation[] = ['creator', 'inbox admin', 'read_reply member', 'read_only member', 'non-member', 'other site'];
const accessOf = (role: Role, relation: Relation): Access => {
  if (relation === 'other site') return 'none';
  if (role === 'owner' || relation === 'creator' || relation === 'inbox admin') return 'full';
  return relation === 'read_reply member' ? 'read_reply' : relation === 'read_only member' ? 'read_only' : 'none';
};
const keyOf = (route: RouteSpec) => `${route.method.toUpperCase()} ${route.path}`;
const SNAPSHOT = ['sites', 'users', 'inboxes', 'tickets', 'ticketmessages', 'ticketnotes', 'outgoingmails', 'oauthconsents', 'oauthconnections', 'tickettasks', 'companies', 'customers'];

describe('I8 authorization matrix: every route × role × inbox relation', () => {
  let bed: MailTestBed;
  let routes: RouteSpec[];
  let siteA: TestSite;
  let siteB: TestSite;
  const actors = {} as Record<Role, { id: string; token: string }>;
  let helperA: { id: string; token: string };
  let companyA: string;

  beforeAll(async () => {
    bed = await startMailTestBed({ worker: false });
    routes = bed.system.app.locals.routes.routes;
    [siteA, siteB] = [await signUpSite(bed.system), await signUpSite(bed.system)];
    actors.owner = { id: siteA.ownerId, token: siteA.token };
    actors.admin = await inviteUser(bed.system, siteA, 'admin');
    actors.agent = await inviteUser(bed.system, siteA, 'agent');
    helperA = await inviteUser(bed.system, siteA, 'agent');
    const company = await request(bed.system.app).post('/api/companies').set(bearer(siteA.token)).send({ name: 'Acme', addAsClient: false });
    expect(company.status).toBe(201);
    companyA = company.body.id;
  });
  afterAll(async () => {
    await bed?.stop();
  });

  const snapshot = async () => {
    const db = bed.system.runtime.mongoose.connection.db!;
    const entries = await Promise.all(SNAPSHOT.map(async (name) => [name, await db.collection(name).find({}).sort({ _id: 1 }).toArray()] as const));
    return JSON.stringify(Object.fromEntries(entries));
  };

  /** An inbox with one ticket, in the given relation to `actor`. */
  async function fixture(role: Role, relation: Relation): Promise<Ids> {
    const actor = actors[role];
    let inbox: Record<string, any>;
    if (relation === 'creator') inbox = await createInbox(bed.system, actor.token, { provider: 'gmail', importEmails: false });
    else if (relation === 'other site') inbox = await createInbox(bed.system, siteB.token, { provider: 'gmail', importEmails: false });
    else {
      const members =
        relation === 'inbox admin' ? [{ userId: actor.id, access: 'read_only', inboxAdmin: true }]
        : relation === 'read_reply member' ? [{ userId: actor.id, access: 'read_reply' }]
        : relation === 'read_only member' ? [{ userId: actor.id, access: 'read_only' }]
        : [];
      inbox = await createInbox(bed.system, helperA.token, { provider: 'gmail', importEmails: false, members });
    }
    const now = new Date();
    const ticket = await TicketModel.create({
      siteId: inbox.siteId ?? (relation === 'other site' ? siteB.siteId : siteA.siteId),
      inboxId: inbox.id,
      subject: 'Help',
      threadKey: `${inbox.id}:t1`,
      firstMessageAt: now,
      lastMessageAt: now,
      createdDay: utcDay(now),
    });
    await TicketMessageModel.create({
      siteId: ticket.siteId, inboxId: inbox.id, ticketId: ticket._id, providerMessageId: 'm1', providerKey: `${inbox.id}:m1`,
      rfcMessageId: `m1.${inbox.id}@customer.example`, rfcKey: `${inbox.id}:m1.${inbox.id}@customer.example`,
      from: { address: 'c@customer.example', name: 'C' }, subject: 'Help', text: 'Help me', receivedAt: now,
    });
    return { inboxId: inbox.id, ticketId: String(ticket._id), companyId: companyA };
  }

  const pathOf = (route: RouteSpec, ids: Ids) =>
    route.path.replace(':id', route.path.startsWith('/api/tickets') ? ids.ticketId : route.path.startsWith('/api/companies') || route.path.startsWith('/api/customers') ? ids.companyId : ids.inboxId);

  async function call(route: RouteSpec, token: string, ids: Ids, rule: Rule) {
    const { query, body } = 'call' in rule && rule.call ? rule.call(ids) : ({} as Call);
    let req = request(bed.system.app)[route.method](pathOf(route, ids)).set(bearer(token));
    if (query) req = req.query(query);
    return body === undefined ? req : req.send(body as object);
  }

  test('I8 Every route in the router has an expectation in this table, and every user route needs a token', async () => {
    const missing = routes.map(keyOf).filter((key) => !(key in expectations));
    expect(missing).toEqual([]);
    const stale = Object.keys(expectations).filter((key) => !routes.some((r) => keyOf(r) === key));
    expect(stale).toEqual([]);
    for (const route of routes) {
      const rule = expectations[keyOf(route)]!;
      expect([keyOf(route), route.auth === 'user']).toEqual([keyOf(route), rule.kind !== 'public']);
      if (route.auth !== 'user') continue;
      const res = await request(bed.system.app)[route.method](route.path.replace(':id', companyA));
      expect([keyOf(route), res.status]).toEqual([keyOf(route), 401]);
    }
  });

  describe.each(roles)('%s', (role) => {
    test.each(relations)(`I8 When a ${role} acts on an inbox where they are: %s, Then every inbox and ticket route answers as I8 says, and refused calls change nothing`, async (relation) => {
      const access = accessOf(role, relation);
      const ids = await fixture(role, relation);
      const inboxRoutes = routes.filter((r) => expectations[keyOf(r)]?.kind === 'inbox').sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));
      for (const route of inboxRoutes) {
        const rule = expectations[keyOf(route)] as Extract<Rule, { kind: 'inbox' }>;
        const expected = rule.status[access];
        const before = expected >= 400 ? await snapshot() : undefined;
        const res = await call(route, actors[role].token, ids, rule);
        expect([keyOf(route), res.status]).toEqual([keyOf(route), expected]);
        if (before !== undefined) {
          expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
          expect([keyOf(route), await snapshot()]).toEqual([keyOf(route), before]);
        }
        if (rule.listed) {
          const listedIds = (res.body.items as { id: string }[]).map((i) => i.id);
          expect([keyOf(route), listedIds.includes(rule.listed === 'inbox' ? ids.inboxId : ids.ticketId)]).toEqual([keyOf(route), access !== 'none']);
        }
      }
    }, 60_000);

    test(`I8 When a ${role} calls the site-scoped and role-restricted routes, Then reads answer 200, role-restricted writes 403 (nothing written) when not allowed, and another site's records 404`, async () => {
      const ids: Ids = { inboxId: companyA, ticketId: companyA, companyId: companyA };
      for (const route of routes) {
        const rule = expectations[keyOf(route)]!;
        if (rule.kind === 'roles' && !rule.allowed.includes(role)) {
          const before = await snapshot();
          const res = await call(route, actors[role].token, ids, rule);
          expect([keyOf(route), res.status]).toEqual([keyOf(route), 403]);
          expect([keyOf(route), await snapshot()]).toEqual([keyOf(route), before]);
        }
        if (rule.kind === 'site' && !rule.write && !route.path.startsWith('/api/customers/:id')) {
          const res = await call(route, actors[role].token, ids, rule);
          expect([keyOf(route), res.status]).toEqual([keyOf(route), 200]);
        }
        if (rule.kind === 'site' && route.path.includes(':id')) {
          // Site B's owner reaches for site A's company: 404, and a write changes nothing.
          const before = await snapshot();
          const res = await call(route, siteB.token, ids, rule);
          expect([keyOf(route), res.status]).toEqual([keyOf(route), 404]);
          expect([keyOf(route), await snapshot()]).toEqual([keyOf(route), before]);
        }
      }
    }, 60_000);
  });
});
