import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  ContinueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { MessageRef } from '../activities/mail/connector';
import type { MailFailureType } from '../activities/mail/errors';
import type { MailboxActivities } from '../activities/mail/mailbox-activities';
import type { ImportCounts } from '../models/inbox';

const DAY_MS = 86_400_000;
const NEEDS_RECONNECT: MailFailureType = 'NeedsReconnect';

/** Timers and sizes; the API fills them from config so tests and deployments can tune them. */
export interface MailboxTuning {
  importDays: number;
  pollIntervalSeconds: number;
  pushRenewIntervalSeconds: number;
  subscriptionMinutes: number;
  batchSize: number;
  concurrentBatches: number;
  /** How soon a batch whose worker died is retried elsewhere. */
  heartbeatTimeoutSeconds?: number;
  /** Follow cycles per run before continue-as-new. */
  cyclesPerRun?: number;
}

export type MailboxPhase = 'starting' | 'backfill' | 'following';

export interface MailboxState {
  phase: MailboxPhase;
  /** Start of the window the current (re)sync lists. */
  since: string;
  cursor?: string;
  /** Next backfill page; absent on the first page. */
  pageToken?: string;
  backfillDone: boolean;
  counts: ImportCounts;
  startedAt: string;
  /** Workflow time of the last successful change poll; a resync after a stale cursor starts near it. */
  lastSyncedAt?: number;
  pushRenewAt?: number;
}

export interface MailboxInput {
  inboxId: string;
  siteId: string;
  importEmails: boolean;
  tuning: MailboxTuning;
  /** Carried across continue-as-new. */
  resume?: MailboxState;
}

export interface MailboxProgress {
  phase: MailboxPhase;
  paused: boolean;
  backfillDone: boolean;
  since: string;
  startedAt: string;
  counts: ImportCounts;
}

/** A push notification or lifecycle event arrived: look for changes now (it is only a hint). */
export const mailChangedSignal = defineSignal<[{ renewPush?: boolean }?]>('mailChanged');
/** The user granted consent again (I2): resume where the import stopped. */
export const reconnectedSignal = defineSignal('reconnected');
export const mailboxProgressQuery = defineQuery<MailboxProgress>('progress');

const zeroCounts = (): ImportCounts => ({
  listed: 0, imported: 0, ticketsCreated: 0, customersCreated: 0, duplicates: 0, skippedAutomated: 0, skippedExcluded: 0, skippedFiltered: 0, gone: 0,
});

function addCounts(into: ImportCounts, from: ImportCounts): void {
  for (const key of Object.keys(into) as (keyof ImportCounts)[]) into[key] += from[key] ?? 0;
}

function isNeedsReconnect(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === NEEDS_RECONNECT;
}

/**
 * One connected mailbox, `mailbox/{inboxId}` (I2, I3): backfills the import window, then follows
 * new mail on push hints with polling as the fallback, renews the push channel before it
 * expires, resyncs when the provider forgets the cursor, and pauses with its cursor intact
 * while consent is revoked. Only message ids pass through here; bodies stay in activities.
 */
export async function mailbox(input: MailboxInput): Promise<void> {
  const { inboxId, tuning } = input;
  const acts = proxyActivities<MailboxActivities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds ?? 30} seconds`,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [NEEDS_RECONNECT] },
  });
  const { workflowId } = workflowInfo();
  const state: MailboxState = input.resume ?? {
    phase: 'starting',
    since: new Date(Date.now() - tuning.importDays * DAY_MS).toISOString(),
    backfillDone: false,
    counts: zeroCounts(),
    startedAt: new Date().toISOString(),
  };
  let paused = false;
  let reconnects = 0;
  let hinted = false;
  let renewNow = false;
  setHandler(mailChangedSignal, (hint) => {
    hinted = true;
    if (hint?.renewPush) renewNow = true;
  });
  setHandler(reconnectedSignal, () => {
    reconnects += 1;
  });
  setHandler(mailboxProgressQuery, () => ({ phase: state.phase, paused, backfillDone: state.backfillDone, since: state.since, startedAt: state.startedAt, counts: state.counts }));

  const record = (importState: 'running' | 'following' | 'paused' | 'failed', failure?: { type: string; message: string }) =>
    acts.recordMailboxImport({
      inboxId, workflowId, state: importState, phase: state.phase, counts: state.counts, backfillDone: state.backfillDone, since: state.since, startedAt: state.startedAt, failure,
    });
  const activeState = () => (state.phase === 'following' ? 'following' : 'running');

  /** Runs a step; while consent is revoked it waits for a reconnect and runs the same step again. */
  const guarded = async <T>(step: () => Promise<T>): Promise<T> => {
    for (;;) {
      const reconnectsBefore = reconnects;
      try {
        return await step();
      } catch (err) {
        if (!isNeedsReconnect(err)) throw err;
        if (reconnects === reconnectsBefore) {
          paused = true;
          await record('paused');
          await condition(() => reconnects > reconnectsBefore);
          paused = false;
          await record(activeState());
        }
      }
    }
  };

  const importRefs = async (refs: MessageRef[]) => {
    const batches: MessageRef[][] = [];
    for (let i = 0; i < refs.length; i += tuning.batchSize) batches.push(refs.slice(i, i + tuning.batchSize));
    let next = 0;
    const lane = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        addCounts(state.counts, await guarded(() => acts.importMailboxMessages({ inboxId, refs: batch })));
      }
    };
    await Promise.all(Array.from({ length: Math.min(tuning.concurrentBatches, batches.length) }, lane));
  };

  const canContinueAsNew = async () => {
    await allHandlersFinished();
    await continueAsNew<typeof mailbox>({ ...input, resume: state });
  };

  /** Lists and imports every page of the window; resumable page by page across continue-as-new. */
  const backfill = async () => {
    while (!state.backfillDone) {
      if (workflowInfo().continueAsNewSuggested) await canContinueAsNew();
      const page = await guarded(() => acts.listMailboxBackfillPage({ inboxId, since: state.since, pageToken: state.pageToken }));
      state.counts.listed += page.refs.length;
      await importRefs(page.refs);
      state.pageToken = page.nextPageToken;
      state.backfillDone = !page.nextPageToken;
      await record(state.backfillDone ? 'following' : 'running');
    }
  };

  /** A full resync over the stretch the lost cursor covered: new cursor first, then list it all again. */
  const resync = async (since: string) => {
    state.since = since;
    state.cursor = (await guarded(() => acts.startMailboxCursor({ inboxId, since }))).cursor;
    state.pageToken = undefined;
    state.backfillDone = false;
    await backfill();
  };

  try {
    if (state.phase === 'starting') {
      await record('running');
      state.cursor = (await guarded(() => acts.startMailboxCursor({ inboxId, since: state.since }))).cursor;
      state.lastSyncedAt = Date.now();
      state.phase = input.importEmails ? 'backfill' : 'following';
      if (!input.importEmails) {
        // Without a backfill the window starts now; a resync never reaches further back.
        state.since = new Date().toISOString();
        state.backfillDone = true;
        await record('following');
      }
    }
    if (state.phase === 'backfill') {
      await backfill();
      state.phase = 'following';
      await record('following');
    }

    for (let cycle = 0; ; cycle += 1) {
      if (renewNow || Date.now() >= (state.pushRenewAt ?? 0)) {
        renewNow = false;
        const push = await guarded(() => acts.renewMailboxPush({ inboxId, lifetimeMinutes: tuning.subscriptionMinutes }));
        const renewBy = push.expiresAt ? Math.min(Date.parse(push.expiresAt) - 60 * 60_000, Date.now() + tuning.pushRenewIntervalSeconds * 1000) : Infinity;
        state.pushRenewAt = Math.max(Date.now() + 1000, Math.min(renewBy, Date.now() + tuning.pushRenewIntervalSeconds * 1000));
      }
      hinted = false;
      const cursor = state.cursor!;
      const changes = await guarded(() => acts.listMailboxChanges({ inboxId, cursor }));
      if (changes.stale) {
        const gapStart = Math.max(Date.parse(state.since), (state.lastSyncedAt ?? Date.now()) - DAY_MS);
        await resync(new Date(gapStart).toISOString());
        await record('following');
      } else {
        state.counts.listed += changes.refs.length;
        await importRefs(changes.refs);
        state.cursor = changes.cursor;
        if (changes.refs.length > 0) await record('following');
      }
      state.lastSyncedAt = Date.now();
      if (cycle + 1 >= (tuning.cyclesPerRun ?? 500) || workflowInfo().continueAsNewSuggested) await canContinueAsNew();
      const untilRenew = Math.max(0, (state.pushRenewAt ?? 0) - Date.now());
      await condition(() => hinted || renewNow, Math.max(1, Math.min(tuning.pollIntervalSeconds * 1000, untilRenew)));
    }
  } catch (err) {
    if (!(err instanceof ContinueAsNew) && !isCancellation(err)) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      await record('failed', { type: cause?.type ?? 'Unknown', message: cause?.message ?? (err instanceof Error ? err.message : String(err)) });
    }
    throw err;
  }
}
