import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startEmbeddedMongo, type MongoEndpoint } from '../../infra';
import { startTestSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/eventually';

describe('readiness follows the database', () => {
  let mongo: MongoEndpoint;
  let system: TestSystem;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deskbridge-readyz-'));
    mongo = await startEmbeddedMongo({ dataDir, log: () => undefined });
    system = await startTestSystem({ worker: false, env: { MONGODB_URI: mongo.uri } });
  });
  afterAll(async () => {
    await system?.stop();
    await mongo?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('O4 When the database stops, Then /readyz answers 503 naming it, and 200 again once it returns', async () => {
    expect((await request(system.app).get('/readyz')).status).toBe(200);
    await mongo.pause!();
    const down = await eventually(() => request(system.app).get('/readyz'), (r) => r.status === 503, 15_000);
    expect(down.status).toBe(503);
    expect(down.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(down.body.failing).toEqual(['database']);
    expect(down.body.checks.temporal.ok).toBe(true);
    expect((await request(system.app).get('/healthz')).status).toBe(200);

    await mongo.resume!();
    const up = await eventually(() => request(system.app).get('/readyz'), (r) => r.status === 200, 30_000);
    expect(up.status).toBe(200);
  });
});
