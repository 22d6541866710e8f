import request from 'supertest';
import { generateMailbox } from '../emulators/mail/generate';
import { delay, type ManagedProcess } from '../infra';
import { InboxModel, TicketMessageModel, TicketModel } from '../models';
import { killWorkerRepeatedly, seededRandom } from '../test/support/initial-sync-audit';
import { startDeskbridgeEnvironment } from '../test/support/environment';
import { bearer } from '../test/support/sites';
import { connectInbox, createInbox, signUpSite, startMailTestBed } from '../test/mailbox/support';
import { databaseOutage, progress } from './harness';

export interface MailboxChaosOptions {
  messages: number;
  threads: number;
  kills: number;
  /** Share of Gmail API calls answered 429 (quota) or 503. */
  faultRate: number;
  databaseOutageSeconds: number;
  seed: number;
}

export const fullSizeMailboxChaos: Omit<MailboxChaosOptions, 'seed'> = {
  messages: 2000,
  threads: 400,
  kills: 10,
  faultRate: 0.2,
  databaseOutageSeconds: 30,
};

export interface MailboxChaosResult {
  scenario: 'mailbox';
  seed: number;
  state: string;
  seconds: number;
  kills: number;
  workerStarts: number;
  databaseOutageSeconds: number;
  gmailCalls: number;
  gmailCallsFailedByFault: number;
  expectedTickets: number;
  expectedMessages: number;
  tickets: number;
  messages: number;
  lostMessages: number;
  duplicatedMessages: number;
  /** Generated threads whose messages ended up in more than one ticket. */
  splitThreads: number;
  /** Tickets whose first/last message dates are not those of their messages. */
  wrongTicketDates: number;
  exact: boolean;
}

/** What the import shows and what its workflow is retrying, for a run that does not finish. */
async function stuckReport(bed: Awaited<ReturnType<typeof startMailTestBed>>, inboxId: string, token: string): Promise<string> {
  const importState = await request(bed.system.app).get(`/api/inboxes/${inboxId}/import`).set(bearer(token));
  const description = await bed.system.runtime.temporal.workflow.getHandle(`mailbox/${inboxId}`).describe().catch(() => undefined);
  const pending = (description?.raw.pendingActivities ?? []).map((a) => ({ type: a.activityType?.name, attempt: a.attempt, lastFailure: a.lastFailure?.message?.slice(0, 200) }));
  return JSON.stringify({ status: description?.status.name, import: importState.body, pending });
}

/**
 * I3/I6 under fire: a Gmail backfill while the worker is SIGKILLed at random moments, Gmail
 * answers a share of calls with 429/503, and the database is stopped for a while mid-import.
 * Ends with exact counts: every message stored once, every thread one ticket.
 */
export async function runMailboxChaos(options: MailboxChaosOptions): Promise<MailboxChaosResult> {
  const random = seededRandom(options.seed);
  const environment = await startDeskbridgeEnvironment({ log: (msg) => progress(`infra: ${msg}`), keyId: 'chaos', logLevel: 'warn' });
  const mongo = environment.infra.mongo;
  if (!mongo.pause || !mongo.resume) throw new Error('the database outage needs the embedded database: unset MONGODB_URI');
  const bed = await startMailTestBed({ worker: false, gmail: { randomSeed: options.seed } });
  let workerStarts = 0;
  const spawnWorker = async (): Promise<ManagedProcess> => {
    for (;;) {
      try {
        const worker = await bed.system.spawnWorkerProcess();
        workerStarts += 1;
        return worker;
      } catch (err) {
        progress(`worker did not start (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); starting another`);
        await delay(1000);
      }
    }
  };
  try {
    const site = await signUpSite(bed.system);
    const address = `chaos-${options.seed}@desk.example`;
    const { seed, truth } = generateMailbox({ seed: options.seed, address, messages: options.messages, threads: options.threads, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
    bed.gmail.control.seedMailbox(seed);
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail', importEmails: true });
    const first = await spawnWorker();
    const connected = await connectInbox(bed, site.token, inbox.id, address);
    if (connected.status !== 200) throw new Error(`connect answered ${connected.status}`);
    const started = Date.now();
    const half = options.faultRate / 2;
    bed.gmail.control.injectFaults({ quotaExceeded: { probability: half }, serverError: { probability: half / (1 - half), status: 503 } });

    let state = '';
    const finished = async () => {
      state = (await InboxModel.findById(inbox.id, { import: 1 }).lean().catch(() => null))?.import?.state ?? state;
      return state === 'following' || state === 'failed';
    };
    const outage = databaseOutage(mongo, { afterMs: 5_000 + random() * 15_000, seconds: options.databaseOutageSeconds, finished });

    progress(`backfill of ${options.messages} messages in ${options.threads} threads; ${options.kills} kills; seed ${options.seed}`);
    const { kills } = await killWorkerRepeatedly(spawnWorker, first, { kills: options.kills, random, minUptimeMs: 1000, maxUptimeMs: 6000, finished });
    progress(`${kills} kills made; waiting for the backfill to finish`);
    const databaseOutageSeconds = await outage;
    for (let polls = 1; !(await finished()); polls += 1) {
      await delay(500);
      if (polls % 60 === 0) progress(`still importing: ${await stuckReport(bed, inbox.id, site.token)}`);
    }
    const seconds = (Date.now() - started) / 1000;
    bed.gmail.control.clearFaults();
    const progressNow = await request(bed.system.app).get(`/api/inboxes/${inbox.id}/import`).set(bearer(site.token));
    progress(`import progress: ${JSON.stringify(progressNow.body.counts)}`);

    const log = bed.gmail.control.requestLog();
    const stored = await TicketMessageModel.find({ inboxId: inbox.id }, { rfcMessageId: 1, ticketId: 1 }).lean();
    const tickets = await TicketModel.find({ inboxId: inbox.id }, { firstMessageAt: 1, lastMessageAt: 1 }).lean();
    const expected = new Set(truth.messages.map((m) => m.messageId.slice(1, -1)));
    const storedIds = stored.map((m) => m.rfcMessageId!);
    const ticketOf = new Map(stored.map((m) => [m.rfcMessageId, String(m.ticketId)]));
    const receivedAt = new Map(truth.messages.map((m) => [m.messageId.slice(1, -1), m.receivedAt.getTime()]));
    const splitThreads = truth.ticketThreadKeys.filter((key) => new Set(truth.threads[key]!.map((id) => ticketOf.get(id.slice(1, -1)))).size !== 1).length;
    const wrongTicketDates = tickets.filter((ticket) => {
      const times = stored.filter((m) => String(m.ticketId) === String(ticket._id)).map((m) => receivedAt.get(m.rfcMessageId!)!);
      return ticket.firstMessageAt.getTime() !== Math.min(...times) || ticket.lastMessageAt.getTime() !== Math.max(...times);
    }).length;
    const result = {
      scenario: 'mailbox' as const,
      seed: options.seed,
      state,
      seconds: Math.round(seconds),
      kills,
      workerStarts,
      databaseOutageSeconds: Math.round(databaseOutageSeconds),
      gmailCalls: log.length,
      gmailCallsFailedByFault: log.filter((e) => e.status === 429 || e.status === 503).length,
      expectedTickets: truth.ticketThreadKeys.length,
      expectedMessages: expected.size,
      tickets: tickets.length,
      messages: stored.length,
      lostMessages: [...expected].filter((id) => !ticketOf.has(id)).length,
      duplicatedMessages: storedIds.length - new Set(storedIds).size,
      splitThreads,
      wrongTicketDates,
    };
    const exact =
      state === 'following' &&
      result.tickets === result.expectedTickets &&
      result.messages === result.expectedMessages &&
      result.lostMessages + result.duplicatedMessages + result.splitThreads + result.wrongTicketDates === 0;
    return { ...result, exact };
  } finally {
    await bed.stop();
    await environment.stop();
  }
}
