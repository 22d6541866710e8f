import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import type { AppDeps } from './deps';
import { workflowIds } from '../workflows/ids';
import { entityAttribute, siteIdAttribute, syncPausedAttribute } from '../workflows/search-attributes';
import type { initialSync } from '../workflows/initial-sync';
import type { reconcileSite } from '../workflows/reconcile';

/**
 * Starts (or joins) a site's initial sync. The id is the business key, so a second start while
 * one runs returns the running one, and a finished sync can be run again (C2: it is idempotent).
 */
export async function startInitialSync(deps: Pick<AppDeps, 'temporal' | 'config'>, siteId: string): Promise<string> {
  const workflowId = workflowIds.initialSync(siteId);
  await deps.temporal.workflow.start<typeof initialSync>('initialSync', {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    workflowId,
    args: [{ siteId, heartbeatTimeoutSeconds: deps.config.INITIAL_SYNC_HEARTBEAT_TIMEOUT_SECONDS }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: siteIdAttribute, value: siteId },
      { key: entityAttribute, value: 'site' },
    ],
    memo: { siteId, kind: 'initial-sync' },
  });
  return workflowId;
}

/**
 * Starts the reconciliation pass that resuming a paused sync runs (C16): every change made on
 * either side while paused is handed to its link or import workflow. Shown in the Temporal UI
 * with the pause it ends.
 */
export async function startReconcileAfterPause(deps: Pick<AppDeps, 'temporal' | 'config'>, siteId: string, pausedAt: Date): Promise<string> {
  const workflowId = workflowIds.reconcileAfterPause(siteId, pausedAt);
  await deps.temporal.workflow.start<typeof reconcileSite>('reconcileSite', {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    workflowId,
    args: [{ siteId, afterPause: { pausedAt: pausedAt.toISOString() } }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [
      { key: siteIdAttribute, value: siteId },
      { key: entityAttribute, value: 'site' },
      { key: syncPausedAttribute, value: false },
    ],
    memo: { siteId, kind: 'reconcile-after-pause', pausedAt: pausedAt.toISOString() },
  });
  return workflowId;
}
