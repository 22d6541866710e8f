import { ActivityFailure, ApplicationFailure, ContinueAsNew, continueAsNew, defineQuery, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { InitialSyncActivities, PageResult } from '../activities/contact-sync/initial-sync';
import type { LinkActivities } from '../activities/contact-sync/link-sync';
import type { SyncCounts } from '../models/site';

export type InitialSyncPhase = 'webhooks' | 'companies' | 'people' | 'completed';

export interface InitialSyncInput {
  siteId: string;
  /** Pages fetched and written at once; the rate gate keeps them inside Teamwork.com's limit. */
  concurrency?: number;
  /** How soon a page whose worker died is retried elsewhere (tests shorten it). */
  heartbeatTimeoutSeconds?: number;
  /** Carried across continue-as-new. */
  resume?: { phase: InitialSyncPhase; nextPage: number; counts: SyncCounts; startedAt: string; totals: { companies?: number; people?: number } };
}

export interface InitialSyncProgress {
  phase: InitialSyncPhase;
  counts: SyncCounts;
  totals: { companies?: number; people?: number };
  startedAt: string;
}

export const initialSyncProgressQuery = defineQuery<InitialSyncProgress>('progress');

const activitiesFor = (heartbeatTimeoutSeconds = 20) =>
  proxyActivities<InitialSyncActivities & Pick<LinkActivities, 'ensureReconcileSchedule'>>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });

const zeroCounts = (): SyncCounts => ({ companiesSeen: 0, companiesCreated: 0, companiesMatched: 0, customersSeen: 0, customersCreated: 0, customersMatched: 0, alreadyLinked: 0, skipped: 0 });

/** Pages per run before continue-as-new keeps the history far below Temporal's limits. */
const pagesPerRun = 400;

/**
 * C1 initial auto-sync of one site: registers webhooks, then copies every external company,
 * then every user and contact of those companies. Each page is one idempotent activity, so a
 * crash anywhere resumes without losing or duplicating records (C2).
 */
export async function initialSync(input: InitialSyncInput): Promise<InitialSyncProgress> {
  const { siteId } = input;
  const { registerTeamworkWebhooks, importCompanyPage, importPeoplePage, recordInitialSyncProgress, ensureReconcileSchedule } = activitiesFor(input.heartbeatTimeoutSeconds);
  const workflowId = workflowInfo().workflowId;
  const state = input.resume ?? { phase: 'webhooks' as InitialSyncPhase, nextPage: 1, counts: zeroCounts(), startedAt: new Date().toISOString(), totals: {} };
  setHandler(initialSyncProgressQuery, () => ({ phase: state.phase, counts: state.counts, totals: state.totals, startedAt: state.startedAt }));
  const concurrency = Math.max(1, input.concurrency ?? 3);
  let pagesThisRun = 0;

  try {
    if (state.phase === 'webhooks') {
      await recordInitialSyncProgress({ siteId, workflowId, state: 'running', phase: 'webhooks', counts: state.counts, startedAt: state.startedAt });
      await registerTeamworkWebhooks({ siteId });
      state.phase = 'companies';
      state.nextPage = 1;
    }

    /**
     * Keeps `concurrency` pages in flight: a slow page no longer holds back the ones after it.
     * Pages are launched in order from `state.nextPage`, so after draining, everything below the
     * next page to launch is done, which is what continue-as-new and a resumed run rely on.
     */
    const runPhase = async (phase: 'companies' | 'people', importPage: (i: { siteId: string; page: number; runKey: string }) => Promise<PageResult>, add: (r: PageResult) => void) => {
      let lastKnownPage = state.nextPage;
      let lastPage: number | undefined;
      let pageSize = 1;
      let nextToLaunch = state.nextPage;
      const inFlight = new Map<number, Promise<void>>();
      const launch = (page: number) => {
        const done = importPage({ siteId, page, runKey: state.startedAt }).then((result) => {
          inFlight.delete(page);
          add(result);
          if (!result.hasMore) lastPage = Math.min(lastPage ?? page, page);
          else lastKnownPage = Math.max(lastKnownPage, page + 1);
          if (result.total !== undefined && result.counts.seen > 0) {
            state.totals[phase] = Math.max(state.totals[phase] ?? 0, result.total);
            pageSize = Math.max(pageSize, result.counts.seen);
            // Pages beyond the first are fetched in parallel once the reported total says they exist.
            lastKnownPage = Math.max(lastKnownPage, Math.ceil(result.total / pageSize));
          }
        });
        inFlight.set(page, done);
      };
      for (;;) {
        const runFull = () => pagesThisRun >= pagesPerRun || workflowInfo().continueAsNewSuggested;
        while (inFlight.size < concurrency && nextToLaunch <= Math.min(lastKnownPage, lastPage ?? Infinity) && !runFull()) {
          launch(nextToLaunch);
          nextToLaunch += 1;
          pagesThisRun += 1;
        }
        if (inFlight.size === 0) {
          state.nextPage = nextToLaunch;
          if (lastPage !== undefined && nextToLaunch > lastPage) return;
          await recordInitialSyncProgress({ siteId, workflowId, state: 'running', phase, counts: state.counts });
          await continueAsNew<typeof initialSync>({ ...input, resume: state });
        }
        await Promise.race(inFlight.values());
      }
    };

    if (state.phase === 'companies') {
      await runPhase('companies', importCompanyPage, ({ counts }) => {
        state.counts.companiesSeen += counts.seen;
        state.counts.companiesCreated += counts.created;
        state.counts.companiesMatched += counts.matched;
        state.counts.alreadyLinked += counts.alreadyLinked;
        state.counts.skipped += counts.skipped;
      });
      state.phase = 'people';
      state.nextPage = 1;
      await recordInitialSyncProgress({ siteId, workflowId, state: 'running', phase: 'people', counts: state.counts });
    }

    if (state.phase === 'people') {
      await runPhase('people', importPeoplePage, ({ counts }) => {
        state.counts.customersSeen += counts.seen;
        state.counts.customersCreated += counts.created;
        state.counts.customersMatched += counts.matched;
        state.counts.alreadyLinked += counts.alreadyLinked;
        state.counts.skipped += counts.skipped;
      });
      state.phase = 'completed';
    }
  } catch (err) {
    // A permanent rejection stops the sync and is shown on the site (C15); the workflow still
    // fails so ops see it in the Temporal UI and can retry it after fixing the cause.
    if (!(err instanceof ContinueAsNew) && !isCancellation(err)) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      await recordInitialSyncProgress({
        siteId, workflowId, state: 'failed', phase: state.phase, counts: state.counts,
        failure: { type: cause?.type ?? 'Unknown', message: cause?.message ?? (err instanceof Error ? err.message : String(err)) },
      });
    }
    throw err;
  }

  // From now on a missed webhook is healed by the site's periodic reconciliation (C3).
  await ensureReconcileSchedule({ siteId });
  await recordInitialSyncProgress({ siteId, workflowId, state: 'completed', phase: 'completed', counts: state.counts });
  return { phase: state.phase, counts: state.counts, totals: state.totals, startedAt: state.startedAt };
}
