import { proxyActivities } from '@temporalio/workflow';
import type { LinkActivities } from '../activities/contact-sync/link-sync';

export interface ReconcileInput {
  siteId: string;
  /**
   * Set for the pass that resuming a paused sync runs (C16): Teamwork.com changes are read from
   * the pause on (or the cursor, if that is older) and every pending Desk edit is handed over,
   * however recent.
   */
  afterPause?: { pausedAt: string };
}

/**
 * One reconciliation pass for a site, run by its Temporal Schedule (C3): pages Teamwork.com
 * changes since the stored cursor and feeds them to the same link and import workflows that
 * webhooks feed, so a missed webhook is healed without duplicates. Desk edits that could not
 * be handed to their workflow are picked up too.
 */
export async function reconcileSite(input: ReconcileInput): Promise<{ teamworkChanges: number; deskChanges: number }> {
  const { reconcileTeamworkChanges, reconcileDeskChanges } = proxyActivities<LinkActivities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
  });
  const teamworkChanges = await reconcileTeamworkChanges(input);
  const deskChanges = await reconcileDeskChanges(input);
  return { teamworkChanges, deskChanges };
}
