/**
 * `npm run bench:propagation -- --edits-per-second 20 --seconds 60 [--companies 200]`
 *
 * How fast an edit on one side of a linked company reaches the other (SPEC C5, C14; issue 4's
 * benchmark). Real Temporal and a real database (`startHarness`), the API listening in this
 * process, the worker and the Teamwork.com emulator each in their own process. After signup and
 * the initial sync of `--companies` seeded companies, edits go out on a fixed timeline (open
 * loop), each on a random side, company and field (name, website or email) with a value no one
 * else uses: Desk edits through `PATCH /api/companies/:id`, Teamwork.com edits through the
 * emulator's UI-like `updateCompany`, whose signed webhook reaches the API. A company with an
 * edit still in flight is not picked again, so the timings measure propagation, not conflicts.
 * Arrivals are polled every ~10 ms, one batched read per direction and tick (the emulator's
 * company list for Desk → Teamwork.com, the Desk database by _id for Teamwork.com → Desk), so the
 * polling load stays the same however many edits are in flight; each edit is timed from just
 * before it was sent to the answer of the first read that showed it.
 *
 * `echoWrites` counts writes nobody asked for: Teamwork.com company writes beyond the Desk edits,
 * plus Desk fields synced from Teamwork.com beyond the Teamwork.com edits. `lost` counts edits
 * not arrived 30 s after the last one was sent. The last stdout line is JSON.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { delay, freePort, startProcess, type ManagedProcess } from '../infra';
import { waitUntilReady } from '../infra/child-process';
import { CompanyModel, SyncHistoryModel } from '../models';
import type { CompanyRecord, RequestLogEntry } from '../emulators/teamwork';
import { progress, startHarness, type Harness } from '../scripts/harness';

const { values } = parseArgs({
  options: {
    'edits-per-second': { type: 'string', default: '20' },
    seconds: { type: 'string', default: '60' },
    companies: { type: 'string', default: '200' },
  },
});
const editsPerSecond = Number(values['edits-per-second']);
const seconds = Number(values.seconds);
const companies = Number(values.companies);
if (!(editsPerSecond > 0) || !(seconds > 0) || !Number.isInteger(companies) || companies < 1) {
  throw new Error('--edits-per-second and --seconds must be positive numbers, --companies a positive integer');
}

const pollIntervalMs = 10;
const arrivalGraceMs = 30_000;
/** After the last arrival, time for webhooks of deskbridge's own writes to come back and be dropped (or not). */
const echoSettleMs = 5_000;

type Side = 'desk' | 'teamwork';
type Field = 'name' | 'website' | 'email';
const fields: readonly Field[] = ['name', 'website', 'email'];
const teamworkFieldOf: Record<Field, 'name' | 'website' | 'emailOne'> = { name: 'name', website: 'website', email: 'emailOne' };

interface LinkedCompany {
  deskId: string;
  teamworkId: number;
}

interface Edit {
  side: Side;
  field: Field;
  value: string;
  company: LinkedCompany;
  sentAt: number;
  arrivedMs?: number;
  sendError?: string;
}

type Control = <T = unknown>(method: string, args?: object) => Promise<T>;

/** The emulator in its own process, as Teamwork.com is elsewhere; no rate limit, so the connector's pacing is not what is measured. */
async function startEmulatorProcess(): Promise<{ control: Control; proc: ManagedProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'teamwork emulator',
    command: process.execPath,
    args: ['--import', 'tsx', path.resolve(__dirname, '../emulators/teamwork/main.ts'), '--port', String(port), '--rate-limit', '0'],
  });
  await waitUntilReady(proc, () => fetch(`${url}/_emulator/`).then((r) => r.ok, () => false), 30_000);
  const control: Control = async (method, args = {}) => {
    const res = await fetch(`${url}/_emulator/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) });
    if (!res.ok) throw new Error(`emulator ${method} answered ${res.status}: ${await res.text()}`);
    return (res.status === 204 ? undefined : await res.json()) as never;
  };
  return { control, proc };
}

const round = (n: number) => Math.round(n * 10) / 10;
const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

function summarise(edits: Edit[]) {
  const arrived = edits.flatMap((e) => (e.arrivedMs === undefined ? [] : [e.arrivedMs])).sort((a, b) => a - b);
  return { edits: edits.length, p50Ms: round(percentile(arrived, 50)), p99Ms: round(percentile(arrived, 99)), maxMs: round(arrived[arrived.length - 1] ?? 0) };
}

async function signUp(harness: Harness, control: Control): Promise<{ siteId: string; token: string; installation: string }> {
  const { system } = harness;
  const installation = 'bench';
  const site = await control<{ baseUrl: string; apiKey: string }>('createInstallation', { name: installation, apiKey: 'bench-key', ownerCompanyName: 'Bench Agency' });
  await control('seed', { installation, companies, contactsPerCompany: 0 });
  const res = await fetch(`${system.apiUrl}/api/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ siteName: 'Bench', slug: 'bench', owner: { email: 'owner@bench.example.com', firstName: 'Bea', lastName: 'Bench' }, teamwork: { baseUrl: site.baseUrl, apiKey: site.apiKey } }),
  });
  const body = (await res.json()) as { site: { id: string }; owner: { token: string }; workflowId: string };
  if (res.status !== 202) throw new Error(`signup answered ${res.status}: ${JSON.stringify(body)}`);
  progress(`initial sync of ${companies} companies`);
  await system.runtime.temporal.workflow.getHandle(body.workflowId).result();
  return { siteId: body.site.id, token: body.owner.token, installation };
}

async function main(): Promise<void> {
  const emulator = await startEmulatorProcess();
  const harness = await startHarness();
  const stopOnSignal = () => {
    progress('interrupted: stopping');
    void Promise.allSettled([harness.stop(), emulator.proc.stop()]).then(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const { system } = harness;
    const worker = await system.spawnWorkerProcess();
    const { siteId, token, installation } = await signUp(harness, emulator.control);
    const linked: LinkedCompany[] = (await CompanyModel.find({ siteId, linked: true }, { teamworkId: 1 }).lean()).map((c) => ({ deskId: String(c._id), teamworkId: c.teamworkId! }));
    if (linked.length !== companies) throw new Error(`${linked.length} linked companies after the initial sync, expected ${companies}`);
    // Initial-sync writes (webhook registration, history of the first link) are not edits.
    await emulator.control('clearRequestLog');
    const teamworkChangesBefore = await countTeamworkChanges(siteId);

    const runId = crypto.randomBytes(3).toString('hex');
    const valueFor = (field: Field, n: number) =>
      field === 'name' ? `Bench ${runId} edit ${n}` : field === 'website' ? `https://e${n}.${runId}.bench.example.com` : `e${n}@${runId}.bench.example.com`;

    const inFlight = new Set<Edit>();
    const busy = new Set<string>();
    const arrive = (edit: Edit, holding: Partial<Record<Field, string | null>> | undefined) => {
      if (holding?.[edit.field] !== edit.value) return;
      edit.arrivedMs = performance.now() - edit.sentAt;
      inFlight.delete(edit);
      busy.delete(edit.company.deskId);
    };
    const pollOnce = async () => {
      const toTeamwork = [...inFlight].filter((e) => e.side === 'desk');
      const toDesk = [...inFlight].filter((e) => e.side === 'teamwork');
      await Promise.all([
        toTeamwork.length > 0 &&
          emulator.control<CompanyRecord[]>('listCompanies', { installation }).then((list) => {
            const byId = new Map(list.map((c) => [c.id, { name: c.name, website: c.website, email: c.emailOne }]));
            for (const edit of toTeamwork) arrive(edit, byId.get(edit.company.teamworkId));
          }),
        toDesk.length > 0 &&
          CompanyModel.find({ _id: { $in: toDesk.map((e) => e.company.deskId) } }, { name: 1, website: 1, email: 1 })
            .lean()
            .then((docs) => {
              const byId = new Map(docs.map((d) => [String(d._id), { name: d.name, website: d.website, email: d.email }]));
              for (const edit of toDesk) arrive(edit, byId.get(edit.company.deskId));
            }),
      ]);
    };
    let sending = true;
    let deadline = Infinity;
    const polling = (async () => {
      while ((sending || inFlight.size > 0) && performance.now() < deadline) {
        await pollOnce();
        await delay(pollIntervalMs);
      }
    })();
    const send = async (edit: Edit): Promise<void> => {
      if (edit.side === 'desk') {
        const res = await fetch(`${system.apiUrl}/api/companies/${edit.company.deskId}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ [edit.field]: edit.value }),
        });
        if (res.status !== 200) throw new Error(`PATCH company answered ${res.status}: ${await res.text()}`);
      } else {
        await emulator.control('updateCompany', { installation, id: edit.company.teamworkId, patch: { [teamworkFieldOf[edit.field]]: edit.value } });
      }
    };

    const total = Math.round(editsPerSecond * seconds);
    const intervalMs = 1000 / editsPerSecond;
    const edits: Edit[] = [];
    const sends: Promise<void>[] = [];
    let skipped = 0;
    progress(`${total} edits at ${editsPerSecond}/s for ${seconds} s on ${linked.length} linked companies`);
    const loadBefore = os.loadavg();
    const cpuBefore = { worker: cpuSeconds(worker.pid), apiAndBench: process.cpuUsage() };
    const start = performance.now() + 20;
    for (let n = 0; n < total; n++) {
      const wait = start + n * intervalMs - performance.now();
      if (wait >= 1) await delay(wait);
      const free = linked.filter((c) => !busy.has(c.deskId));
      if (free.length === 0) {
        skipped += 1;
        continue;
      }
      const company = free[crypto.randomInt(free.length)]!;
      const field = fields[crypto.randomInt(fields.length)]!;
      const edit: Edit = { side: crypto.randomInt(2) === 0 ? 'desk' : 'teamwork', field, value: valueFor(field, n), company, sentAt: performance.now() };
      busy.add(company.deskId);
      edits.push(edit);
      sends.push(send(edit).then(() => void inFlight.add(edit), (err: unknown) => {
        edit.sendError = err instanceof Error ? err.message : String(err);
        progress(`edit ${n} not sent: ${edit.sendError}`);
        busy.delete(company.deskId);
      }));
      if ((n + 1) % Math.max(1, Math.round(editsPerSecond * 10)) === 0) {
        const done = edits.filter((e) => e.arrivedMs !== undefined).length;
        progress(`${n + 1}/${total} sent, ${done} arrived, ${busy.size} in flight`);
      }
    }
    await Promise.all(sends);
    sending = false;
    deadline = performance.now() + arrivalGraceMs;
    progress(`all sent; waiting up to ${arrivalGraceMs / 1000} s for ${inFlight.size} in flight`);
    await polling;
    const cpu = { workerSeconds: round(cpuSeconds(worker.pid) - cpuBefore.worker), apiAndBenchSeconds: round(cpuSecondsSince(cpuBefore.apiAndBench)) };
    await delay(echoSettleMs);

    const sent = edits.filter((e) => e.sendError === undefined);
    const deskEdits = sent.filter((e) => e.side === 'desk');
    const teamworkEdits = sent.filter((e) => e.side === 'teamwork');
    const log = await emulator.control<RequestLogEntry[]>('requestLog', { installation });
    const teamworkWrites = log.filter((entry) => entry.method !== 'GET' && entry.path.includes('/companies/')).length;
    const deskWritesFromTeamwork = (await countTeamworkChanges(siteId)) - teamworkChangesBefore;
    const lost = sent.filter((e) => e.arrivedMs === undefined);
    for (const edit of lost.slice(0, 10)) progress(`lost: ${edit.side} ${edit.field} on company ${edit.company.deskId}/${edit.company.teamworkId} = ${edit.value}`);

    const result = {
      edits: sent.length,
      deskToTeamwork: summarise(deskEdits),
      teamworkToDesk: summarise(teamworkEdits),
      echoWrites: Math.max(0, teamworkWrites - deskEdits.length) + Math.max(0, deskWritesFromTeamwork - teamworkEdits.length),
      lost: lost.length,
      skipped,
      sendErrors: edits.length - sent.length,
      writes: { teamworkCompanyWrites: teamworkWrites, deskFieldsSyncedFromTeamwork: deskWritesFromTeamwork, teamworkErrors: log.filter((e) => e.status >= 400).length },
      editsPerSecond,
      seconds,
      companies,
      cpu,
      machine: { cores: os.cpus().length, loadAverageBefore: loadBefore.map(round), loadAverageAfter: os.loadavg().map(round) },
    };
    console.log(JSON.stringify(result));
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await harness.stop();
    await emulator.proc.stop();
  }
}

/** CPU time (user + system) a child process has used so far, from /proc (clock ticks are 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

function cpuSecondsSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

/** Desk-side fields that a sync took from Teamwork.com: one per Teamwork.com edit, unless an echo came back. */
async function countTeamworkChanges(siteId: string): Promise<number> {
  const entries = await SyncHistoryModel.find({ siteId, action: 'synced', 'changes.from': 'teamwork' }, { changes: 1 }).lean();
  return entries.reduce((sum, entry) => sum + entry.changes.filter((change) => change.from === 'teamwork').length, 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
