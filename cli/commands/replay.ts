import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { TemporalTarget } from '../args';
import { CliError, type CliIo } from '../io';
import { connectTemporal } from '../temporal';

export interface ReplayRequest {
  workflowId: string;
  runId?: string;
  /** A prebuilt bundle (DESKBRIDGE_WORKFLOW_BUNDLE); without it the workflow sources are bundled. */
  workflowBundle?: string;
}

/**
 * `deskbridge replay <workflowId>` (SPEC O3): fetches the history from Temporal and replays it
 * against the workflow code in this checkout. Exit code 1 when the code would diverge.
 */
export async function replay(io: CliIo, temporal: TemporalTarget, request: ReplayRequest): Promise<number> {
  const { client, close } = await connectTemporal(temporal);
  let description;
  let history;
  try {
    const handle = client.workflow.getHandle(request.workflowId, request.runId);
    try {
      [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
    } catch (err) {
      throw new CliError(`cannot fetch ${request.workflowId}${request.runId ? ` run ${request.runId}` : ''} from Temporal: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    await close();
  }
  const options: ReplayWorkerOptions = request.workflowBundle
    ? { workflowBundle: { codePath: request.workflowBundle } }
    : { workflowsPath: require.resolve('../../workflows') };
  const what = `${request.workflowId} (${description.type}, run ${description.runId}, ${description.status.name}, ${history.events?.length ?? 0} events)`;
  try {
    await Worker.runReplayHistory(options, history, request.workflowId);
  } catch (err) {
    if (err instanceof DeterminismViolationError) {
      io.stdout.write(`DIVERGED ${what}\n  ${err.message}\n`);
      return 1;
    }
    throw new CliError(`replay of ${what} could not run: ${err instanceof Error ? err.message : String(err)}`);
  }
  io.stdout.write(`OK ${what} replays against the current workflow code\n`);
  return 0;
}
