/**
 * `npm run bench:webhook-ingest -- --rate 500 --seconds 30 [--down-seconds 10] [--companies 500] [--contacts-per-company 4] [--api-cpu-prof-dir DIR]`
 *
 * How fast the API acknowledges webhooks (SPEC O4, issue 7's benchmark). The API runs as its own
 * process (`api/server.ts`) on real Temporal and a real database (`startInfrastructure`, embedded
 * unless TEMPORAL_ADDRESS / MONGODB_URI say otherwise), with a site that went through signup and
 * its initial sync, so the webhook's record lookups run against real collections. This process
 * posts signed Teamwork.com webhooks (updates of the site's linked companies and people, each a
 * new delivery) and, when the API has `/webhooks/graph`, Microsoft Graph change notifications
 * for a connected inbox, on a fixed timeline (open loop: a send never waits for an answer), and
 * times each answer from the moment it was due, so a slow generator counts against the API.
 *
 * An answer means the change is durable: Temporal took it, or it is in the API's webhook outbox
 * (api/webhook-forwarder.ts). After the last answer the bench waits until the API has forwarded
 * everything from its outbox (`forwardedAllAfterMs`, how far the hints trailed the answers) before
 * reading the CPU each process used, so the hand-overs count too; `temporalSendsPerRequest` is
 * how many signals that took once changes to the same record coalesced.
 *
 * Phase 2 stops Temporal and keeps sending: every request must be answered 5xx within 3 s, so
 * the provider redelivers later. No worker runs while measuring: acknowledging means the hand-over
 * to Temporal is durable, not that the sync ran, and a worker would share this machine's cores.
 * The last stdout line is JSON.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startTeamworkEmulator } from '../emulators/teamwork';
import { delay, freePort, runningProcesses, startProcess, waitUntilReadyMessage, type ManagedProcess } from '../infra';
import { CompanyModel, CustomerModel, InboxModel, SiteModel } from '../models';
import { workflowIds } from '../workflows/ids';
import { progress, startHarness } from '../scripts/harness';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '30' },
    'down-seconds': { type: 'string', default: '10' },
    companies: { type: 'string', default: '500' },
    'contacts-per-company': { type: 'string', default: '4' },
    /** Writes a V8 CPU profile of the API process there, to see where its time goes. */
    'api-cpu-prof-dir': { type: 'string' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const downSeconds = Number(values['down-seconds']);
const companies = Number(values.companies);
const contactsPerCompany = Number(values['contacts-per-company']);
for (const [name, value] of Object.entries({ rate, seconds, downSeconds, companies, contactsPerCompany })) {
  if (!Number.isFinite(value) || value < 0 || (name !== 'contactsPerCompany' && value === 0)) throw new Error(`--${name} must be a positive number`);
}

/** Every fifth request is a Graph notification when the API takes them. */
const graphShare = 5;
const downAnswerLimitMs = 3000;
const requestTimeoutMs = 10_000;
const warmupSeconds = 2;
const drainLimitMs = 120_000;

interface Target {
  teamwork: { siteId: string; token: string; companyIds: number[]; personIds: number[] };
  graph?: { subscriptionId: string; clientState: string };
}

interface Outcome {
  kind: 'teamwork' | 'graph';
  status: number | null;
  /** From the moment the request was due to the end of its answer. */
  ms: number;
  sendLagMs: number;
  /** Seconds into the phase the request was due. */
  second: number;
  error?: string;
}

function post(agent: http.Agent, url: URL, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers }, timeout: requestTimeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

function teamworkRequest(apiUrl: string, target: Target['teamwork'], n: number): { url: URL; body: Buffer; headers: Record<string, string> } {
  const person = n % 2 === 1 && target.personIds.length > 0;
  const ids = person ? target.personIds : target.companyIds;
  const id = ids[n % ids.length]!;
  const record = person ? { user: { id, firstName: 'Bench', lastName: `Person ${id}`, updatedAt: new Date().toISOString() } } : { company: { id, name: `Bench company ${id}`, updatedAt: new Date().toISOString() } };
  const body = Buffer.from(JSON.stringify({ eventCreator: { id: 1, firstName: 'Bench', lastName: 'Owner', avatar: '' }, ...record }));
  return {
    url: new URL(`/webhooks/teamwork?site=${target.siteId}`, apiUrl),
    body,
    headers: {
      'x-projects-event': person ? 'USER.UPDATED' : 'COMPANY.UPDATED',
      'x-projects-delivery': crypto.randomUUID(),
      'x-projects-signature': crypto.createHmac('sha256', target.token).update(body).digest('hex'),
    },
  };
}

function graphRequest(apiUrl: string, target: NonNullable<Target['graph']>): { url: URL; body: Buffer; headers: Record<string, string> } {
  const messageId = crypto.randomBytes(12).toString('base64url');
  const notification = {
    subscriptionId: target.subscriptionId,
    clientState: target.clientState,
    changeType: 'created',
    resource: `Users('bench')/Messages('${messageId}')`,
    resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.etag': `W/"${crypto.randomUUID()}"`, id: messageId },
    tenantId: crypto.randomUUID(),
  };
  return { url: new URL('/webhooks/graph', apiUrl), body: Buffer.from(JSON.stringify({ value: [notification] })), headers: {} };
}

type BenchRequest = { kind: Outcome['kind']; url: URL; body: Buffer; headers: Record<string, string> };

/** Every request of a phase, signed before it starts, so the timeline is not held up by building them. */
function buildRequests(apiUrl: string, target: Target, total: number): BenchRequest[] {
  return Array.from({ length: total }, (_, n) => {
    const kind = target.graph && n % graphShare === graphShare - 1 ? 'graph' : 'teamwork';
    return { kind, ...(kind === 'graph' ? graphRequest(apiUrl, target.graph!) : teamworkRequest(apiUrl, target.teamwork, n)) };
  });
}

/** Sends the requests on a fixed timeline and collects every answer. */
async function openLoop(requests: BenchRequest[], ratePerSecond: number): Promise<Outcome[]> {
  // A connection left idle past the server's keep-alive timeout (5 s) may be closed by it just as
  // it is reused, which would count as an error of the API: each phase opens its own, reuses the
  // longest idle first and drops one idle for 4 s.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'fifo', timeout: 4_000 });
  const intervalMs = 1000 / ratePerSecond;
  const start = performance.now() + 20;
  const answers: Promise<Outcome>[] = [];
  for (const [n, request] of requests.entries()) {
    const due = start + n * intervalMs;
    const wait = due - performance.now();
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
    const sendLagMs = performance.now() - due;
    const { kind } = request;
    const second = Math.floor((n * intervalMs) / 1000);
    answers.push(
      post(agent, request.url, request.body, request.headers).then(
        (status) => ({ kind, status, ms: performance.now() - due, sendLagMs, second }),
        (err: Error) => ({ kind, status: null, ms: performance.now() - due, sendLagMs, second, error: err.message }),
      ),
    );
  }
  try {
    return await Promise.all(answers);
  } finally {
    agent.destroy();
  }
}

/**
 * Waits until the API has forwarded every change it acknowledged from its outbox (its
 * `deskbridge_webhook_handovers_unforwarded` gauge), so the CPU read afterwards includes the
 * hand-overs to Temporal; how long that took is the hints' delay behind the acknowledgements.
 */
/** How many hand-overs the API has sent to Temporal so far (its `deskbridge_webhook_handover_sends_total`). */
async function handOverSends(apiUrl: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  return [...text.matchAll(/^deskbridge_webhook_handover_sends_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function waitForwarded(apiUrl: string, limitMs: number): Promise<{ ms: number; left: number }> {
  const started = performance.now();
  for (;;) {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    const left = Number(/^deskbridge_webhook_handovers_unforwarded (\d+)/m.exec(text)?.[1] ?? 0);
    const ms = performance.now() - started;
    if (left === 0 || ms > limitMs) return { ms: round(ms), left };
    await delay(250);
  }
}

/** CPU time (user + system) a process has used so far, from /proc; undefined where there is none. */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // After the command: state is field 3, utime and stime are fields 14 and 15, in clock ticks (100 Hz on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The processes whose CPU the hand-over costs: the API, the database and Temporal. */
function cpuSnapshot(apiPid: number): Record<string, number | undefined> {
  const byName = (needle: string) => runningProcesses().find((p) => p.name.toLowerCase().includes(needle))?.pid;
  const pids = { api: apiPid, database: byName('ferretdb') ?? byName('mongod'), temporal: byName('temporal') };
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? undefined : cpuMs(pid)]));
}

function cpuMsPerRequest(before: Record<string, number | undefined>, after: Record<string, number | undefined>, requests: number): Record<string, number> {
  const perRequest: Record<string, number> = {};
  for (const [name, start] of Object.entries(before)) {
    const end = after[name];
    if (start !== undefined && end !== undefined) perRequest[name] = Math.round(((end - start) / requests) * 100) / 100;
  }
  return perRequest;
}

const round = (n: number) => Math.round(n * 10) / 10;
/** This process's CPU: the load generator shares the machine's cores with everything it measures. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

function summarise(outcomes: Outcome[]) {
  const acked = outcomes.filter((o) => o.status !== null && o.status >= 200 && o.status < 300);
  const latencies = acked.map((o) => o.ms).sort((a, b) => a - b);
  return {
    sent: outcomes.length,
    acked: acked.length,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
    errors: outcomes.length - acked.length,
  };
}

/** How many answers of each kind and status (or client error) there were. */
function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `${o.kind} ${o.status ?? o.error}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function prepareSite(harness: Awaited<ReturnType<typeof startHarness>>): Promise<{ siteId: string; ownerId: string }> {
  const { system } = harness;
  const teamwork = await startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] });
  try {
    const { baseUrl } = teamwork.control.createInstallation({ name: 'bench', apiKey: 'bench-key', ownerCompanyName: 'Bench Agency' });
    teamwork.control.seed({ installation: 'bench', companies, contactsPerCompany });
    const worker = await system.spawnWorkerProcess();
    const res = await fetch(`${system.apiUrl}/api/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ siteName: 'Bench', slug: 'bench', owner: { email: 'owner@bench.example.com', firstName: 'Bea', lastName: 'Bench' }, teamwork: { baseUrl, apiKey: 'bench-key' } }),
    });
    const body = (await res.json()) as { site: { id: string }; owner: { id: string }; workflowId: string };
    if (res.status !== 202) throw new Error(`signup answered ${res.status}: ${JSON.stringify(body)}`);
    progress(`initial sync of ${companies} companies × ${contactsPerCompany} contacts`);
    await system.runtime.temporal.workflow.getHandle(body.workflowId).result();
    await worker.stop();
    return { siteId: body.site.id, ownerId: body.owner.id };
  } finally {
    await teamwork.close();
  }
}

/** A connected Outlook inbox with a Graph subscription, and its mailbox workflow parked on a queue no worker polls. */
async function prepareGraphInbox(harness: Awaited<ReturnType<typeof startHarness>>, siteId: string, ownerId: string): Promise<NonNullable<Target['graph']>> {
  const { system } = harness;
  const subscriptionId = crypto.randomUUID();
  const clientState = crypto.randomBytes(24).toString('base64url');
  const inbox = await InboxModel.create({
    siteId, name: 'Bench inbox', provider: 'outlook', createdBy: ownerId, status: 'connected', mailboxAddress: 'bench@example.com',
    members: [{ userId: ownerId, access: 'read_reply', inboxAdmin: true }],
    push: { subscriptionId, clientState: system.runtime.secrets.seal(clientState), expiresAt: new Date(Date.now() + 86_400_000) },
  });
  await system.runtime.temporal.workflow.start('mailbox', {
    workflowId: workflowIds.mailbox(String(inbox._id)),
    taskQueue: `${system.config.TEMPORAL_TASK_QUEUE}-parked`,
    args: [{ inboxId: String(inbox._id), siteId, importEmails: false, tuning: {} }],
  });
  return { subscriptionId, clientState };
}

async function startApiProcess(env: NodeJS.ProcessEnv): Promise<{ url: string; proc: ManagedProcess }> {
  const port = await freePort();
  const proc = startProcess({
    name: 'deskbridge api',
    command: process.execPath,
    args: [...(values['api-cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values['api-cpu-prof-dir'])}`] : []), '--import', 'tsx', path.resolve(__dirname, '../api/server.ts')],
    env: { ...env, PORT: String(port), LOG_LEVEL: 'error' },
    ipc: true,
  });
  await waitUntilReadyMessage(proc, 60_000);
  return { url: `http://127.0.0.1:${port}`, proc };
}

async function main(): Promise<void> {
  const harness = await startHarness();
  let api: { url: string; proc: ManagedProcess } | undefined;
  try {
    const { system } = harness;
    const { siteId, ownerId } = await prepareSite(harness);
    const site = await SiteModel.findById(siteId).select('+teamwork.webhookToken').lean();
    const [companyDocs, personDocs] = await Promise.all([
      CompanyModel.find({ siteId, linked: true }, { teamworkId: 1 }).lean(),
      CustomerModel.find({ siteId, linked: true }, { teamworkId: 1 }).lean(),
    ]);
    const target: Target = {
      teamwork: {
        siteId,
        token: system.runtime.secrets.open(site!.teamwork!.webhookToken as never),
        companyIds: companyDocs.map((c) => c.teamworkId!),
        personIds: personDocs.map((p) => p.teamworkId!),
      },
    };

    api = await startApiProcess(system.env);
    const graphProbe = await fetch(`${api.url}/webhooks/graph?validationToken=probe`, { method: 'POST' });
    if (graphProbe.status === 200) target.graph = await prepareGraphInbox(harness, siteId, ownerId);
    progress(`API at ${api.url}; ${target.graph ? 'Teamwork.com webhooks and Graph notifications' : 'Teamwork.com webhooks (no /webhooks/graph)'}`);

    progress(`warm-up: ${warmupSeconds} s at ${Math.min(rate, 100)}/s (not counted)`);
    await openLoop(buildRequests(api.url, target, Math.min(rate, 100) * warmupSeconds), Math.min(rate, 100));
    await waitForwarded(api.url, drainLimitMs);

    const requests = buildRequests(api.url, target, Math.round(rate * seconds));
    progress(`phase 1: ${rate}/s for ${seconds} s`);
    const loadBefore = os.loadavg()[0]!;
    const sendsBefore = await handOverSends(api.url);
    const cpuBefore = { ...cpuSnapshot(api.proc.pid), loadGenerator: ownCpuMs() };
    const outcomes = await openLoop(requests, rate);
    const loadGeneratorCpuMs = ownCpuMs();
    const forwarded = await waitForwarded(api.url, drainLimitMs);
    // Requests that timed out on this side may still be worked on: let them finish before reading the CPU used.
    if (outcomes.some((o) => o.status === null)) await delay(requestTimeoutMs);
    const cpuPerRequest = cpuMsPerRequest(cpuBefore, { ...cpuSnapshot(api.proc.pid), loadGenerator: loadGeneratorCpuMs }, outcomes.length);
    const sendsPerRequest = Math.round(((await handOverSends(api.url)) - sendsBefore) / outcomes.length * 100) / 100;
    const kinds = target.graph ? (['teamwork', 'graph'] as const) : (['teamwork'] as const);

    progress('phase 2: Temporal stopped');
    const downRequests = buildRequests(api.url, target, Math.round(rate * downSeconds));
    await harness.infra.temporal.stop();
    const down = await openLoop(downRequests, rate);
    const answered5xx = down.filter((o) => o.status !== null && o.status >= 500);

    const result = {
      rate,
      seconds,
      ...summarise(outcomes),
      maxSendLagMs: round(Math.max(...outcomes.map((o) => o.sendLagMs))),
      // When in the run the slow answers came: a stall shows as a few bad seconds, saturation as a climb.
      p99MsBySecond: Array.from({ length: seconds }, (_, second) => summarise(outcomes.filter((o) => o.second === second)).p99Ms),
      // Acknowledged from the outbox but not yet taken by Temporal when the last answer came in: how long until all were.
      forwardedAllAfterMs: forwarded.ms,
      // Signals and starts sent to Temporal per request: below 1 when changes to one record coalesced.
      temporalSendsPerRequest: sendsPerRequest,
      ...(forwarded.left > 0 ? { unforwardedAtLimit: forwarded.left } : {}),
      byKind: Object.fromEntries(kinds.map((kind) => [kind, summarise(outcomes.filter((o) => o.kind === kind))])),
      errorKinds: tally(outcomes.filter((o) => o.status === null || o.status >= 300)),
      records: { companies: companyDocs.length, people: personDocs.length },
      // Other work on the machine (its load average) changes these figures more than anything here.
      cpuMsPerRequest: cpuPerRequest,
      machine: { cores: os.cpus().length, loadAverage1mBefore: round(loadBefore), loadAverage1mAfter: round(os.loadavg()[0]!) },
      temporalDown: {
        seconds: downSeconds,
        sent: down.length,
        answered5xx: answered5xx.length,
        within3s: answered5xx.filter((o) => o.ms <= downAnswerLimitMs).length,
        maxMs: round(Math.max(0, ...down.map((o) => o.ms))),
        byKind: Object.fromEntries(kinds.map((kind) => {
          const ofKind = down.filter((o) => o.kind === kind);
          return [kind, { sent: ofKind.length, answered5xx: ofKind.filter((o) => o.status !== null && o.status >= 500).length, maxMs: round(Math.max(0, ...ofKind.map((o) => o.ms))) }];
        })),
        otherAnswers: tally(down.filter((o) => o.status === null || o.status < 500)),
      },
    };
    console.log(JSON.stringify(result));
  } finally {
    await api?.proc.stop();
    await harness.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
