import type { ApiTarget, Polling } from '../args';
import { callApi } from '../api-client';
import { follow } from '../follow';
import type { CliIo } from '../io';
import { formatNumber, renderFrame } from '../progress';

/** The parts of GET /api/sync/status (and of the workflow's progress query) the CLI draws. */
export interface SyncSnapshot {
  state: string;
  phase?: string | null;
  workflowId?: string | null;
  counts?: Record<string, number> | null;
  totals?: Record<string, number> | null;
  failure?: { type: string; message: string } | null;
}

const finishedStates = new Set(['completed', 'failed', 'not_linked']);
export const syncFinished = (snapshot: SyncSnapshot) => finishedStates.has(snapshot.state);

export function syncFrame(snapshot: SyncSnapshot): string[] {
  const heading = `Initial sync: ${snapshot.state.replace('_', ' ')}${snapshot.phase && snapshot.state === 'running' ? ` (${snapshot.phase})` : ''}${snapshot.workflowId ? `  ${snapshot.workflowId}` : ''}`;
  if (!snapshot.counts) return [heading];
  const counts = snapshot.counts;
  const done = snapshot.state === 'completed';
  // A finished sync reports no totals: what it saw is everything there was.
  const total = (seen: number, reported: number | undefined) => reported ?? (done ? seen : undefined);
  const footer = [
    `created ${formatNumber(counts.companiesCreated ?? 0)} companies and ${formatNumber(counts.customersCreated ?? 0)} customers, ` +
      `matched ${formatNumber((counts.companiesMatched ?? 0) + (counts.customersMatched ?? 0))}, already linked ${formatNumber(counts.alreadyLinked ?? 0)}, skipped ${formatNumber(counts.skipped ?? 0)}`,
  ];
  if (snapshot.failure) footer.push(`failed: ${snapshot.failure.type}: ${snapshot.failure.message}`);
  return renderFrame({
    heading,
    items: [
      { label: 'Companies', done: counts.companiesSeen ?? 0, total: total(counts.companiesSeen ?? 0, snapshot.totals?.companies) },
      { label: 'People', done: counts.customersSeen ?? 0, total: total(counts.customersSeen ?? 0, snapshot.totals?.people) },
    ],
    footer,
  });
}

/** `deskbridge sync-status`: exit code 1 when the sync failed. */
export async function syncStatus(io: CliIo, api: ApiTarget, polling: Polling): Promise<number> {
  const last = await follow(io, polling, () => callApi<SyncSnapshot>(api, 'GET', '/api/sync/status'), syncFrame, syncFinished);
  return last.state === 'failed' ? 1 : 0;
}
