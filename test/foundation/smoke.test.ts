import request from 'supertest';
import { startTestSystem, type TestSystem } from '../support/system';

describe('runtime foundation', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  test('O4 When the process is up, Then /healthz answers 200', async () => {
    const res = await request(system.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  test('O4 When the database and Temporal answer, Then /readyz answers 200 with both checks', async () => {
    const res = await request(system.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks.database.ok).toBe(true);
    expect(res.body.checks.temporal.ok).toBe(true);
  });

  test('O4 When a route does not exist, Then 404 problem+json', async () => {
    const anon = await request(system.app).get('/nope');
    expect(anon.status).toBe(404);
    expect(anon.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(anon.body).toMatchObject({ status: 404, type: expect.stringContaining('not-found') });
  });
});
