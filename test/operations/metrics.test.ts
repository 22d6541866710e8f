import request from 'supertest';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { freePort } from '../../infra';
import { startTestSystem, type TestSystem } from '../support/system';
import { signUpLinkedSite, waitForSync } from '../support/sites';
import { eventually } from '../support/eventually';

/** The value of one sample in Prometheus text format, matched on its exact label set. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(got).length && wanted.every(([k, v]) => got[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe('Prometheus metrics (O4)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  let workerMetricsPort: number;
  const scrape = async () => (await request(system.app).get('/metrics').expect(200)).text;

  beforeAll(async () => {
    workerMetricsPort = await freePort();
    const temporalMetricsPort = await freePort();
    [system, teamwork] = await Promise.all([
      startTestSystem({ env: { WORKER_METRICS_PORT: String(workerMetricsPort), TEMPORAL_METRICS_PORT: String(temporalMetricsPort) } }),
      startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] }),
    ]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  test('O4 When requests are served, Then /metrics counts them by method, route pattern and status, with latency', async () => {
    for (let i = 0; i < 3; i++) await request(system.app).get('/healthz').expect(200);
    await request(system.app).get('/api/companies/0123456789abcdef01234567').expect(401);
    await request(system.app).get('/no/such/route').expect(404);

    const res = await request(system.app).get('/metrics');
    expect(res.headers['content-type']).toContain('text/plain');
    expect(sample(res.text, 'deskbridge_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })).toBe(3);
    expect(sample(res.text, 'deskbridge_http_requests_total', { method: 'GET', route: '/api/companies/:id', status: '401' })).toBe(1);
    expect(sample(res.text, 'deskbridge_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(sample(res.text, 'deskbridge_http_request_seconds_count', { method: 'GET', route: '/healthz' })).toBe(3);
  });

  test('O4 When an initial sync has run and Teamwork.com reports a change, Then /metrics counts the synced records by kind and outcome, the webhook and the link sync', async () => {
    const site = await signUpLinkedSite(system, teamwork, { companies: 4, contactsPerCompany: 2 });
    const status = await waitForSync(system, site.token);
    expect(status.state).toBe('completed');

    const afterSync = await scrape();
    expect(sample(afterSync, 'deskbridge_sync_records_total', { kind: 'company', outcome: 'created' })).toBe(4);
    expect(sample(afterSync, 'deskbridge_sync_records_total', { kind: 'company', outcome: 'skipped' })).toBe(1); // the owner company
    expect(sample(afterSync, 'deskbridge_sync_records_total', { kind: 'customer', outcome: 'created' })).toBe(status.counts.customersCreated);
    expect(status.counts.customersCreated).toBeGreaterThanOrEqual(8);
    expect(sample(afterSync, 'deskbridge_sync_records_total', { kind: 'company', outcome: 'matched' })).toBe(0);

    await request(system.app).post(`/webhooks/teamwork?site=${site.siteId}`).set('x-projects-signature', '00'.repeat(32)).send('{}').expect(401);
    const [company] = teamwork.control.listCompanies({ installation: site.installation }).filter((c) => !c.isOwner);
    teamwork.control.updateCompany({ installation: site.installation, id: company!.id, patch: { website: 'https://renamed.example.com' } });

    const afterChange = await eventually(scrape, (text) => (sample(text, 'deskbridge_link_syncs_total', { entity: 'company', outcome: 'synced' }) ?? 0) >= 1);
    expect(sample(afterChange, 'deskbridge_webhooks_total', { provider: 'teamwork', outcome: 'unauthorized' })).toBe(1);
    expect(sample(afterChange, 'deskbridge_webhooks_total', { provider: 'teamwork', outcome: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(sample(afterChange, 'deskbridge_link_syncs_total', { entity: 'company', outcome: 'synced' })).toBeGreaterThanOrEqual(1);
  });

  test("O4 When the worker runs as its own process, Then its metrics endpoint serves its sync counters and the Temporal worker's own metrics", async () => {
    await system.stopWorker();
    await system.spawnWorkerProcess();
    const site = await signUpLinkedSite(system, teamwork, { companies: 2, contactsPerCompany: 1 });
    expect((await waitForSync(system, site.token)).state).toBe('completed');

    const text = await eventually(
      async () => (await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`)).text(),
      (body) => /^temporal_\w+/m.test(body),
      10_000,
    );
    expect(sample(text, 'deskbridge_sync_records_total', { kind: 'company', outcome: 'created' })).toBe(2);
    expect(text).toMatch(/^deskbridge_process_cpu_seconds_total /m);
    expect(text).toMatch(/^temporal_\w+/m);
    expect((await fetch(`http://127.0.0.1:${workerMetricsPort}/elsewhere`)).status).toBe(404);
  });
});
