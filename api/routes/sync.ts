import { z } from 'zod';
import { SiteModel } from '../../models';
import type { RouteTable } from '../routing';
import { errorResponses } from '../schemas';
import { problems } from '../problem';
import type { AppDeps } from '../deps';
import { initialSyncProgressQuery, type InitialSyncProgress } from '../../workflows/initial-sync';
import { workflowIds } from '../../workflows/ids';

/**
 * GET /api/sync/status (O2): live counts from the running workflow's query; once it has
 * finished (or Temporal cannot answer) the copy the workflow keeps on the site document.
 */
export const syncStatusSchema = z.object({
  state: z.enum(['not_linked', 'not_started', 'running', 'completed', 'failed']),
  linked: z.boolean(),
  paused: z.boolean(),
  workflowId: z.string().nullable(),
  phase: z.string().nullable().optional(),
  counts: z.record(z.string(), z.number()).nullable(),
  totals: z.record(z.string(), z.number()).nullable().optional(),
  startedAt: z.string().nullable().optional(),
  finishedAt: z.string().nullable().optional(),
  failure: z.object({ type: z.string(), message: z.string() }).nullable().optional(),
});

export function addSyncRoutes(routes: RouteTable, deps: AppDeps): void {
  routes.add({
    method: 'get', path: '/api/sync/status', tag: 'contact sync', auth: 'user',
    summary: 'Initial sync state and counts, live while it runs (O2)',
    responses: { 200: { description: 'Sync status', schema: syncStatusSchema }, 401: errorResponses[401] },
  }, async ({ actor, res }) => {
    const { siteId } = actor;
    const site = await SiteModel.findById(siteId).lean();
    if (!site) throw problems.notFound('Site');
    if (!site.teamwork) {
      res.json({ state: 'not_linked', linked: false, paused: site.settings?.paused ?? false, workflowId: null, counts: null });
      return;
    }
    const stored = site.initialSync;
    let live: InitialSyncProgress | undefined;
    if (stored?.state !== 'completed') live = await queryProgress(deps, siteId);
    res.json({
      state: live ? 'running' : (stored?.state ?? 'not_started'),
      linked: true,
      paused: site.settings?.paused ?? false,
      workflowId: stored?.workflowId ?? workflowIds.initialSync(siteId),
      phase: live?.phase ?? stored?.phase ?? null,
      counts: live?.counts ?? stored?.counts ?? null,
      totals: live?.totals ?? null,
      startedAt: live?.startedAt ?? stored?.startedAt ?? null,
      finishedAt: stored?.finishedAt ?? null,
      failure: stored?.failure?.type ? { type: stored.failure.type, message: stored.failure.message ?? '' } : null,
    });
  });
}

async function queryProgress(deps: AppDeps, siteId: string): Promise<InitialSyncProgress | undefined> {
  try {
    const handle = deps.temporal.workflow.getHandle(workflowIds.initialSync(siteId));
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return undefined;
    return await handle.query(initialSyncProgressQuery);
  } catch {
    return undefined;
  }
}
