import fc from 'fast-check';
import request from 'supertest';
import { Types } from 'mongoose';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import type { RouteSpec, RouteTable } from '../../api/routing';
import { TicketModel, utcDay } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, signUpLinkedSite, waitForSync, type SignedUpSite } from '../support/sites';
import { arbitraryValue, hostileBody, nearValid, prototypeIsClean } from './fuzz/arbitraries';
import { checkParse, routeName, schemaTargets } from './fuzz/contract';
import { validExample } from './fuzz/examples';
import { callsOutside, collectionOfIdRoute, inParallel, requestsFor, send, type ClassifiedRequest, type RouteWorld } from './fuzz/requests';
import { changedCollections, snapshotDatabase } from './fuzz/snapshot';

/** Per schema, across the three generators below; the issue asks for at least 10,000. */
const BODIES_PER_SCHEMA = { arbitrary: 4_000, nearValid: 4_000, hostile: 2_000 };
const REQUESTS_PER_ROUTE = 120;
/** Routes without any schema still get hostile queries and bodies, fewer of them. */
const REQUESTS_PER_SCHEMALESS_ROUTE = 25;

/** Provider callbacks with their own signatures are fuzzed in fuzz-webhooks.test.ts. */
const coveredElsewhere = (route: RouteSpec) => route.auth === 'webhook';

const unhandledRejections: unknown[] = [];
const onUnhandledRejection = (reason: unknown) => unhandledRejections.push(reason);
process.on('unhandledRejection', onUnhandledRejection);

describe('bad input: every request schema of the route table (O4)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  let site: SignedUpSite;
  let routes: RouteSpec[];
  let world: RouteWorld;

  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] })]);
    site = await signUpLinkedSite(system, teamwork, { companies: 3, contactsPerCompany: 2 });
    await waitForSync(system, site.token);
    const inbox = await request(system.app).post('/api/inboxes').set(bearer(site.token)).send({ name: 'Fuzzed', provider: 'outlook', importEmails: false, filterMode: 'all' });
    if (inbox.status !== 201) throw new Error(`create inbox answered ${inbox.status}`);
    // No mailbox is connected here, so the one ticket real ids can name is stored directly.
    const now = new Date();
    await TicketModel.create({ siteId: site.siteId, inboxId: inbox.body.id, subject: 'Fuzzed', threadKey: `${inbox.body.id}:fuzz`, firstMessageAt: now, lastMessageAt: now, createdDay: utcDay(now) });
    // A quiet database: "nothing written" must not be confused with the sync or the link workflows.
    await system.stopWorker();
    routes = (system.app.locals.routes as RouteTable).routes;
    world = { realIds: await realIdsOf(site.siteId), overrides: { 'teamwork.baseUrl': site.baseUrl, 'teamwork.apiKey': site.apiKey } };
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandledRejection);
    await teamwork?.close();
    await system?.stop();
  });

  async function realIdsOf(siteId: string): Promise<Map<string, string[]>> {
    const db = system.runtime.mongoose.connection.db!;
    const ids = new Map<string, string[]>();
    for (const name of new Set(routes.map((r) => collectionOfIdRoute(r.path)).filter((n): n is string => Boolean(n)))) {
      const docs = await db.collection(name).find({ siteId: new Types.ObjectId(siteId) }, { projection: { _id: 1 } }).limit(3).toArray();
      ids.set(name, docs.map((d) => String(d._id)));
    }
    return ids;
  }

  test('O4 When 10,000 arbitrary, hostile and near-valid values per schema are validated, Then each is accepted as the schema says or refused with a 400 problem, and nothing is polluted', () => {
    const counts = new Map<string, number>();
    for (const target of schemaTargets(routes)) {
      const name = target.usedBy.join(', ');
      const example = validExample(target.schema, world.overrides);
      let checked = 0;
      const check = (input: unknown) => {
        checkParse(target.schema, input);
        checked++;
        if (!prototypeIsClean()) throw new Error('Object.prototype was polluted');
      };
      try {
        fc.assert(fc.property(arbitraryValue, check), { numRuns: BODIES_PER_SCHEMA.arbitrary });
        fc.assert(fc.property(nearValid(example), check), { numRuns: BODIES_PER_SCHEMA.nearValid });
        fc.assert(fc.property(hostileBody(example), check), { numRuns: BODIES_PER_SCHEMA.hostile });
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
      counts.set(name, checked);
    }
    expect(counts.size).toBeGreaterThan(0);
    for (const [name, checked] of counts) expect({ name, atLeast10k: checked >= 10_000 }).toEqual({ name, atLeast10k: true });
  });

  test('O4 When every route gets hostile and near-valid requests over HTTP, Then none answers 5xx, every 4xx is problem+json, and refused requests write nothing', async () => {
    const db = system.runtime.mongoose.connection.db!;
    const headers = bearer(site.token);
    // Deletes go last so the other routes still find the real records.
    const ordered = [...routes.filter((r) => !coveredElsewhere(r))].sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));
    const report: { route: string; refused: number; accepted: number; withheld: number }[] = [];
    const failures: string[] = [];

    for (const route of ordered) {
      const schemaless = !route.params && !route.query && !route.body;
      const generated = fc.sample(requestsFor(route, world), schemaless ? REQUESTS_PER_SCHEMALESS_ROUTE : REQUESTS_PER_ROUTE);
      const example = route.body ? validExample(route.body, world.overrides) : undefined;
      const refused = generated.filter((r) => r.mustReject);
      const accepted = generated.filter((r) => !r.mustReject && !callsOutside(r, example));
      const verify = (req: ClassifiedRequest, res: request.Response) => {
        const problem = res.status >= 400;
        const wellFormed = !problem || (/^application\/problem\+json/.test(res.headers['content-type'] ?? '') && res.body?.status === res.status);
        if (res.status >= 500 || !wellFormed || (req.mustReject && !problem)) {
          failures.push(`${routeName(route)} answered ${res.status} ${res.text.slice(0, 300)} to ${JSON.stringify({ ...req, body: req.body && { ...req.body, text: req.body.text.slice(0, 300) } })}`);
        }
      };

      const before = await snapshotDatabase(db);
      await inParallel(refused, async (req) => verify(req, await send(system.apiUrl, route, req, headers)));
      const changed = changedCollections(before, await snapshotDatabase(db));
      if (changed.length) failures.push(`${routeName(route)}: refused requests changed ${changed.join(', ')}`);
      await inParallel(accepted, async (req) => verify(req, await send(system.apiUrl, route, req, headers)));
      report.push({ route: routeName(route), refused: refused.length, accepted: accepted.length, withheld: generated.length - refused.length - accepted.length });
    }

    console.log(`HTTP fuzz per route (webhook routes are in fuzz-webhooks.test.ts):\n${report.map((r) => `${r.route}: ${r.refused} refused, ${r.accepted} accepted, ${r.withheld} withheld`).join('\n')}`);
    expect(failures.slice(0, 10)).toEqual([]);
    const validating = ordered.filter((r) => r.params || r.query || r.body).map(routeName);
    expect(report.filter((r) => validating.includes(r.route) && r.refused === 0)).toEqual([]);
    // Thousands of real HTTP round trips: on a busy two-core machine this takes minutes.
  }, 600_000);

  test('O4 When all of that has run, Then no promise was rejected without a handler', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandledRejections).toEqual([]);
  });
});
