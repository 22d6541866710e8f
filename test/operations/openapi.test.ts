import crypto from 'node:crypto';
import express, { type Express } from 'express';
import request, { type Response } from 'supertest';
import { Types } from 'mongoose';
import { createApp } from '../../api/app';
import { openApiPath, type OpenApiDocument } from '../../api/openapi';
import type { HttpMethod, RouteTable } from '../../api/routing';
import { problemSchema } from '../../api/schemas';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, ownerFor, waitForSync } from '../support/sites';

interface RouterLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
  slash?: boolean;
  rawPath?: unknown;
}

/**
 * Every route Express would answer, found by walking the app's real router layers, so a route
 * mounted beside the route table (app.get, a mounted Router) is found too. A router mounted at a
 * prefix contributes its routes under that prefix.
 */
function mountedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const methods = Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m]);
        for (const method of methods) found.push(`${method === '_all' ? 'ALL' : method.toUpperCase()} ${openApiPath(prefix + String(layer.route.path))}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, prefix + (layer.slash ? '' : String(layer.rawPath)));
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return found.sort();
}

const documentedRoutes = (doc: OpenApiDocument): string[] =>
  Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)).sort();

describe('OpenAPI document (O4)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  let doc: OpenApiDocument;
  let table: RouteTable;

  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] })]);
    table = system.app.locals.routes as RouteTable;
    const res = await request(system.app).get('/openapi.json').expect(200);
    doc = res.body;
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  /**
   * Asserts a live response is one the document describes for that operation: its status is
   * listed, its content type is the documented one, and its body is exactly what the route's
   * response schema describes (the parse must leave it unchanged: no undocumented fields).
   */
  function expectDocumented(res: Response, method: HttpMethod, expressPath: string): void {
    const operation = doc.paths[openApiPath(expressPath)]?.[method];
    if (!operation) throw new Error(`${method.toUpperCase()} ${expressPath} is not in the document`);
    const documented = operation.responses[String(res.status)];
    if (!documented) throw new Error(`${method.toUpperCase()} ${expressPath} answered ${res.status}, which the document does not list: ${JSON.stringify(res.body)}`);
    const [contentType] = Object.keys(documented.content ?? {});
    if (contentType) expect(res.headers['content-type']).toContain(contentType.split(';')[0]);
    else expect(res.text ?? '').toBe('');
    const route = table.routes.find((r) => r.method === method && r.path === expressPath)!;
    const schema = route.responses[res.status]?.schema ?? (res.status >= 400 ? problemSchema : undefined);
    if (!schema) return;
    const parsed = schema.safeParse(res.body);
    if (!parsed.success) throw new Error(`${method.toUpperCase()} ${expressPath} ${res.status} does not match its schema: ${parsed.error.message}\n${JSON.stringify(res.body)}`);
    expect(parsed.data).toEqual(res.body);
  }

  test("O4 When the API's routes are listed, Then every registered Express route is in the OpenAPI document and vice versa", async () => {
    const mounted = mountedRoutes(system.app);
    expect(mounted).toEqual(documentedRoutes(doc));
    expect(mounted).toHaveLength(table.routes.length);
    expect(mounted).toEqual(expect.arrayContaining(['GET /api/companies/{id}', 'POST /webhooks/teamwork', 'GET /metrics', 'GET /openapi.json', 'GET /docs']));

    // The walk sees routes added beside the table, at the root or under a mounted prefix.
    const app = createApp(system.runtime);
    const extra = express.Router();
    extra.get('/:id/audit', (_req, res) => void res.end());
    app.use('/internal', extra);
    app.post('/sideways', (_req, res) => void res.end());
    const withExtras = mountedRoutes(app);
    expect(withExtras.filter((r) => !mounted.includes(r))).toEqual(['GET /internal/{id}/audit', 'POST /sideways']);
  });

  test('O4 When the document is read, Then it is OpenAPI 3.1 whose references resolve, whose path parameters are declared, whose user routes need a bearer token and whose errors are problem+json', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: system.apiUrl }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').pop()!]).toBeDefined();
    }
    const operationIds = new Set<string>();
    for (const route of table.routes) {
      const operation = doc.paths[openApiPath(route.path)]![route.method]!;
      operationIds.add(operation.operationId);
      expect(operation.tags).toEqual([route.tag]);
      const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      expect((operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)).toEqual(pathParams);
      expect(operation.security).toEqual(route.auth === 'user' ? [{ bearerAuth: [] }] : []);
      if (route.auth === 'user') expect(operation.responses['401']).toBeDefined();
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400) expect(Object.keys(response.content ?? {})).toEqual(['application/problem+json']);
      }
    }
    expect(operationIds.size).toBe(table.routes.length);

    const companies = doc.paths['/api/companies']!.get!;
    expect(companies.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['page', 'pageSize', 'linked', 'origin']));
    expect(doc.paths['/api/signup']!.post!.requestBody).toMatchObject({ required: true, content: { 'application/json': { schema: { type: 'object', required: expect.arrayContaining(['siteName', 'slug', 'owner']) } } } });
  });

  test('O4 When live responses are checked against the document, Then they match their documented schemas', async () => {
    const installation = `tw${crypto.randomBytes(4).toString('hex')}`;
    const apiKey = `key-${installation}`;
    const { baseUrl } = teamwork.control.createInstallation({ name: installation, apiKey, ownerCompanyName: `${installation} Agency` });
    teamwork.control.seed({ installation, companies: 3, contactsPerCompany: 2 });

    const signup = await request(system.app).post('/api/signup').send({ siteName: installation, slug: installation, owner: ownerFor(installation), teamwork: { baseUrl, apiKey } });
    expect(signup.status).toBe(202);
    expectDocumented(signup, 'post', '/api/signup');
    const auth = bearer(signup.body.owner.token);
    await waitForSync(system, signup.body.owner.token);

    const status = await request(system.app).get('/api/sync/status').set(auth);
    expect(status.body.state).toBe('completed');
    expectDocumented(status, 'get', '/api/sync/status');

    const companies = await request(system.app).get('/api/companies').set(auth);
    expect(companies.body.items).toHaveLength(3);
    expectDocumented(companies, 'get', '/api/companies');

    const customers = await request(system.app).get('/api/customers').query({ linked: 'true' }).set(auth);
    expect(customers.body.items.length).toBeGreaterThanOrEqual(6);
    expectDocumented(customers, 'get', '/api/customers');

    const company = await request(system.app).get(`/api/companies/${companies.body.items[0].id}`).set(auth);
    expectDocumented(company, 'get', '/api/companies/:id');

    const ready = await request(system.app).get('/readyz');
    expect(ready.status).toBe(200);
    expectDocumented(ready, 'get', '/readyz');
    expectDocumented(await request(system.app).get('/healthz'), 'get', '/healthz');
    expectDocumented(await request(system.app).get('/openapi.json'), 'get', '/openapi.json');

    const invalid = await request(system.app).get('/api/companies').query({ page: '0' }).set(auth);
    expect(invalid.status).toBe(400);
    expectDocumented(invalid, 'get', '/api/companies');

    const missing = await request(system.app).get(`/api/companies/${new Types.ObjectId()}`).set(auth);
    expect(missing.status).toBe(404);
    expectDocumented(missing, 'get', '/api/companies/:id');

    const anonymous = await request(system.app).get('/api/sync/status');
    expect(anonymous.status).toBe(401);
    expectDocumented(anonymous, 'get', '/api/sync/status');

    const taken = await request(system.app).post('/api/signup').send({ siteName: 'again', slug: installation, owner: ownerFor(installation) });
    expect(taken.status).toBe(409);
    expectDocumented(taken, 'post', '/api/signup');
  });

  test('O4 When the docs page is opened, Then it is a self-contained page that renders /openapi.json with no external assets', async () => {
    const page = await request(system.app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain("fetch('openapi.json')");
    expect(page.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    const inlineScript = /<script>([\s\S]*)<\/script>/.exec(page.text)![1]!;
    expect(csp).toContain(`'sha256-${crypto.createHash('sha256').update(inlineScript).digest('base64')}'`);
  });
});
