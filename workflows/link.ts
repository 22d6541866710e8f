import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { LinkActivities, LinkSyncOutcome } from '../activities/contact-sync/link-sync';

export type LinkEntity = 'company' | 'customer';

export interface LinkInput {
  siteId: string;
  /** The Desk record's id: the link's business key (`company-link/{siteId}/{deskId}`). */
  deskId: string;
  /** With nothing to do for this long the workflow ends; the next change starts it again. */
  idleSeconds?: number;
  heartbeatTimeoutSeconds?: number;
  /** A change that arrived before continue-as-new and is not synced yet. */
  pending?: boolean;
}

/** A hint that one side changed; the workflow always re-reads both sides (webhooks may lie or repeat). */
export interface LinkChange {
  side: 'teamwork' | 'desk';
  kind: 'created' | 'updated' | 'deleted';
}

export interface LinkState {
  syncs: number;
  lastOutcome?: LinkSyncOutcome['outcome'];
  pending: boolean;
  /** The site's sync is paused (C16): the pending change is held until the next signal after resuming. */
  heldByPause: boolean;
}

export const linkChangedSignal = defineSignal<[LinkChange]>('linkChanged');
export const linkStateQuery = defineQuery<LinkState>('linkState');

/** Syncs before continue-as-new: each is a few events, so history stays far below its limits. */
const syncsPerRun = 200;

/**
 * One linked company (C5, C11, C13, C14): serialises the edits from both sides. Every change
 * signal marks the link dirty; one sync then merges whatever both sides hold at that moment, so
 * duplicated, late or reordered webhooks collapse into one idempotent sync.
 */
export async function companyLink(input: LinkInput): Promise<LinkState> {
  return runLink('company', input);
}

/** One linked (or to-be-linked) customer (C6, C7, C8, C9, C11, C13, C14). */
export async function customerLink(input: LinkInput): Promise<LinkState> {
  return runLink('customer', input);
}

async function runLink(entity: LinkEntity, input: LinkInput): Promise<LinkState> {
  const { syncCompanyLink, syncCustomerLink } = proxyActivities<LinkActivities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 20} seconds`,
    retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  const sync = entity === 'company' ? syncCompanyLink : syncCustomerLink;
  const state: LinkState = { syncs: 0, pending: input.pending ?? false, heldByPause: false };
  setHandler(linkChangedSignal, () => {
    state.pending = true;
    state.heldByPause = false;
  });
  setHandler(linkStateQuery, () => state);
  const readyToSync = () => state.pending && !state.heldByPause;

  for (;;) {
    const woke = await condition(readyToSync, `${input.idleSeconds ?? 600} seconds`);
    // A signal may land in the same task as the idle timer: only leave when truly idle. A change
    // held by a pause may leave with the workflow: its Desk record stays `pending` and
    // Teamwork.com keeps its modification time, which is what resuming reconciles from.
    if (!woke && !readyToSync()) return state;
    state.pending = false;
    const result = await sync({ siteId: input.siteId, deskId: input.deskId });
    state.syncs += 1;
    state.lastOutcome = result.outcome;
    if (result.outcome === 'paused') {
      // Retrying now would spin: wait for the signal that resuming (or a newer change) sends.
      state.pending = true;
      state.heldByPause = true;
      continue;
    }
    if (result.outcome === 'gone' || result.outcome === 'unlinked') return state;
    if (state.syncs >= syncsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof companyLink>({ ...input, pending: state.pending });
    }
  }
}

export interface TeamworkImportInput {
  siteId: string;
  entity: LinkEntity;
  teamworkId: number;
}

/**
 * A Teamwork.com company or person Desk does not hold yet (C3): copied (or matched) once; if it
 * turns out to be linked already, its link workflow is told to sync instead.
 */
export async function teamworkImport(input: TeamworkImportInput): Promise<string> {
  const { importTeamworkRecord } = proxyActivities<LinkActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  return importTeamworkRecord(input);
}
