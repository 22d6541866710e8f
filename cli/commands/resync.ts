import type { Client } from '@temporalio/client';
import { startInitialSync } from '../../api/start-workflows';
import { parseConfig } from '../../lib/config';
import { initialSyncProgressQuery, type InitialSyncProgress } from '../../workflows/initial-sync';
import type { Polling, ResyncKind, TemporalTarget } from '../args';
import { follow } from '../follow';
import { CliError, type CliIo } from '../io';
import { connectTemporal } from '../temporal';
import { syncFrame, syncFinished, type SyncSnapshot } from './sync-status';

interface ResyncKindHandler {
  /** Starts (or joins) the workflow that re-syncs the record; answers its id. */
  start(client: Client, temporal: TemporalTarget, id: string): Promise<string>;
  /** What --follow draws while that workflow runs. */
  snapshot(client: Client, workflowId: string): Promise<SyncSnapshot>;
}

const resyncHandlers: Record<ResyncKind, ResyncKindHandler> = {
  site: {
    start: (client, temporal, siteId) =>
      startInitialSync({ temporal: client, config: parseConfig({ TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace, TEMPORAL_TASK_QUEUE: temporal.taskQueue }) }, siteId),
    async snapshot(client, workflowId) {
      const handle = client.workflow.getHandle(workflowId);
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') {
        const progress = await handle.query(initialSyncProgressQuery);
        return { state: 'running', phase: progress.phase, workflowId, counts: { ...progress.counts }, totals: { ...progress.totals } };
      }
      if (status.name === 'COMPLETED') {
        const result: InitialSyncProgress = await handle.result();
        return { state: 'completed', phase: result.phase, workflowId, counts: { ...result.counts }, totals: { ...result.totals } };
      }
      let cause = await handle.result().then(() => undefined, (err: unknown) => err);
      // WorkflowFailedError → ActivityFailure → the activity's ApplicationFailure: the last says why.
      while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
      return { state: 'failed', workflowId, failure: { type: status.name, message: cause instanceof Error ? cause.message : status.name } };
    },
  },
};

/** `deskbridge resync [kind] <id>`: exit code 1 when a followed re-sync fails. */
export async function resync(io: CliIo, kind: ResyncKind, id: string, temporal: TemporalTarget, polling: Polling | null): Promise<number> {
  const handler = resyncHandlers[kind];
  const { client, close } = await connectTemporal(temporal);
  try {
    const workflowId = await handler.start(client, temporal, id).catch((err: unknown) => {
      throw new CliError(`could not start the ${kind} re-sync: ${err instanceof Error ? err.message : String(err)}`);
    });
    const { runId } = await client.workflow.getHandle(workflowId).describe();
    io.stdout.write(`Re-sync of ${kind} ${id} running: ${workflowId} (run ${runId})\n`);
    if (!polling) return 0;
    const last = await follow(io, polling, () => handler.snapshot(client, workflowId), syncFrame, syncFinished);
    return last.state === 'failed' ? 1 : 0;
  } finally {
    await close();
  }
}
