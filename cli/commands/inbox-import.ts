import type { ApiTarget, Polling } from '../args';
import { callApi } from '../api-client';
import { follow } from '../follow';
import type { CliIo } from '../io';
import { formatNumber, renderFrame } from '../progress';

/** The parts of GET /api/inboxes/:id/import (SPEC O2) the CLI draws. */
export interface InboxImportSnapshot {
  status?: string;
  state: string;
  phase?: string | null;
  backfillDone: boolean;
  counts: {
    listed: number;
    imported: number;
    ticketsCreated: number;
    customersCreated: number;
    duplicates: number;
    skippedAutomated: number;
    skippedExcluded: number;
    skippedFiltered: number;
    gone: number;
  };
  failure?: { type: string; message: string } | null;
}

/** Every listed message ends in exactly one of these outcomes. */
export const processedCount = ({ counts }: InboxImportSnapshot) =>
  counts.imported + counts.duplicates + counts.skippedAutomated + counts.skippedExcluded + counts.skippedFiltered + counts.gone;

/** The backfill is over once done or failed; the mailbox then keeps following new mail on its own. */
export const inboxImportFinished = (snapshot: InboxImportSnapshot) => snapshot.backfillDone || snapshot.state === 'failed';

export function inboxImportFrame(inboxId: string, snapshot: InboxImportSnapshot): string[] {
  const { counts } = snapshot;
  const skipped = counts.skippedAutomated + counts.skippedExcluded + counts.skippedFiltered;
  const heading = snapshot.backfillDone
    ? `Inbox ${inboxId}: backfill done, ${snapshot.state === 'following' ? 'following new mail' : snapshot.state}`
    : `Inbox ${inboxId}: ${snapshot.state.replace('_', ' ')}${snapshot.phase ? ` (${snapshot.phase})` : ''}${snapshot.status ? `, ${snapshot.status}` : ''}`;
  const footer = [
    `imported ${formatNumber(counts.imported)} (${formatNumber(counts.ticketsCreated)} new tickets, ${formatNumber(counts.customersCreated)} new customers), ` +
      `duplicates ${formatNumber(counts.duplicates)}, skipped ${formatNumber(skipped)} (automated ${formatNumber(counts.skippedAutomated)}, excluded ${formatNumber(counts.skippedExcluded)}, filtered ${formatNumber(counts.skippedFiltered)}), gone ${formatNumber(counts.gone)}`,
  ];
  if (snapshot.failure) footer.push(`failed: ${snapshot.failure.type}: ${snapshot.failure.message}`);
  // Messages are listed as the backfill walks the mailbox, so the total grows until it is done.
  return renderFrame({ heading, items: [{ label: 'Messages', done: processedCount(snapshot), total: counts.listed }], footer });
}

/** `deskbridge inbox-import <inboxId>`: follows the backfill; exit code 1 when it failed. */
export async function inboxImport(io: CliIo, api: ApiTarget, inboxId: string, polling: Polling): Promise<number> {
  const last = await follow(
    io,
    polling,
    () => callApi<InboxImportSnapshot>(api, 'GET', `/api/inboxes/${encodeURIComponent(inboxId)}/import`),
    (snapshot) => inboxImportFrame(inboxId, snapshot),
    inboxImportFinished,
  );
  return last.state === 'failed' ? 1 : 0;
}
