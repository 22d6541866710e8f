import { ScheduleNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { SiteModel, conflictPolicies } from '../../models';
import { Problem, problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses } from '../schemas';
import type { AppDeps } from '../deps';
import { startInitialSync, startReconcileAfterPause } from '../start-workflows';
import { sealTeamworkLink, teamworkLinkSchema, verifyTeamworkLink } from './signup';
import { reconcileScheduleId } from '../../workflows/ids';
import { syncPausedAttribute, syncPausedNote } from '../../workflows/search-attributes';

export const crossProductSettingsSchema = z.object({
  linked: z.boolean(),
  autoCreateContacts: z.boolean(),
  conflictPolicy: z.enum(conflictPolicies),
  paused: z.boolean(),
  pausedAt: z.string().nullable(),
});
export const updateCrossProductSettingsSchema = z
  .strictObject({ autoCreateContacts: z.boolean().optional(), conflictPolicy: z.enum(conflictPolicies).optional(), paused: z.boolean().optional() })
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');
export const crossProductLinkResponseSchema = z.object({ linked: z.literal(true), workflowId: z.string() });

const ownerOnly = { ...errorResponses[400], description: 'Not the site owner' };
const forbiddenUnlessOwner = (role: string, what: string) => {
  if (role !== 'owner') throw problems.forbidden(`only the site owner ${what}`);
};

type SiteSettingsView = {
  teamwork?: unknown;
  pausedAt?: Date | null;
  settings?: { autoCreateContacts?: boolean | null; conflictPolicy?: string | null; paused?: boolean | null } | null;
};

const view = (site: SiteSettingsView) => ({
  linked: Boolean(site.teamwork),
  autoCreateContacts: site.settings?.autoCreateContacts ?? false,
  conflictPolicy: (site.settings?.conflictPolicy ?? 'latest') as (typeof conflictPolicies)[number],
  paused: site.settings?.paused ?? false,
  pausedAt: site.settings?.paused && site.pausedAt ? new Date(site.pausedAt).toISOString() : null,
});

// Update then read: the site schema hides secrets (select: false), which makes Mongoose send a
// projection with findAndModify, and FerretDB 1.24 does not implement that.
const readSettings = (siteId: string) => SiteModel.findById(siteId, { teamwork: 1, settings: 1, pausedAt: 1, initialSync: 1 }).lean();

/** Cross-product settings (C9, C13, C16): everyone reads them, only the site owner changes them or links Teamwork.com. */
export function addSettingsRoutes(routes: RouteTable, deps: AppDeps): void {
  routes.add({
    method: 'get', path: '/api/settings/cross-product', tag: 'settings', auth: 'user', summary: 'Contact sync settings',
    responses: { 200: { description: 'Settings', schema: crossProductSettingsSchema }, 401: errorResponses[401] },
  }, async ({ actor, res }) => {
    const site = await readSettings(actor.siteId);
    if (!site) throw problems.notFound('Site');
    res.json(view(site));
  });

  routes.add({
    method: 'patch', path: '/api/settings/cross-product', tag: 'settings', auth: 'user',
    summary: 'Change contact sync settings, pause or resume the sync (site owner only; C16)',
    body: updateCrossProductSettingsSchema,
    responses: {
      200: { description: 'Settings', schema: crossProductSettingsSchema },
      400: errorResponses[400],
      401: errorResponses[401],
      403: ownerOnly,
      409: { ...errorResponses[400], description: 'Pausing a site that is not linked, or whose initial sync has not finished' },
      503: { ...errorResponses[400], description: 'Temporal unavailable: the sync stays paused, nothing changed' },
    },
  }, async ({ actor, body, res }) => {
    forbiddenUnlessOwner(actor.role, 'changes cross-product settings');
    const { paused, ...settings } = body;
    // Pausing and resuming go first: when they are refused, nothing else is written either.
    if (paused === true) await pauseSync(deps, actor.siteId);
    if (paused === false) await resumeSync(deps, actor.siteId);
    if (Object.keys(settings).length > 0) {
      await SiteModel.updateOne({ _id: actor.siteId }, { $set: Object.fromEntries(Object.entries(settings).map(([k, v]) => [`settings.${k}`, v])) });
    }
    res.json(view((await readSettings(actor.siteId))!));
  });

  routes.add({
    method: 'put', path: '/api/settings/cross-product/link', tag: 'settings', auth: 'user',
    summary: 'Link a Teamwork.com site to a site that signed up without one, and start the initial sync (site owner only; C16)',
    body: teamworkLinkSchema,
    responses: {
      202: { description: 'Linked; initial sync started', schema: crossProductLinkResponseSchema },
      400: errorResponses[400],
      401: errorResponses[401],
      403: ownerOnly,
      409: { ...errorResponses[400], description: 'The site is linked to Teamwork.com already' },
      422: { ...errorResponses[400], description: 'Teamwork.com refused the link' },
      502: { ...errorResponses[400], description: 'Teamwork.com did not answer' },
      503: { ...errorResponses[400], description: 'Temporal unavailable; nothing linked' },
    },
  }, async ({ actor, body, res }) => {
    forbiddenUnlessOwner(actor.role, 'links Teamwork.com');
    const alreadyLinked = () => problems.conflict('this site is linked to a Teamwork.com site already; its link cannot be replaced', { reason: 'already-linked' });
    if (await SiteModel.exists({ _id: actor.siteId, teamwork: { $ne: null } })) throw alreadyLinked();
    await verifyTeamworkLink(deps, body);

    // Conditional on "not linked": of two owners linking at once, one wins and the other hears 409.
    const linked = await SiteModel.updateOne({ _id: actor.siteId, teamwork: null }, { $set: { teamwork: sealTeamworkLink(deps, body) } });
    if (linked.modifiedCount === 0) throw alreadyLinked();
    let workflowId: string;
    try {
      workflowId = await startInitialSync(deps, actor.siteId);
    } catch (err) {
      // A link whose initial sync never started would leave the site linked but empty: undo it.
      await SiteModel.updateOne({ _id: actor.siteId }, { $unset: { teamwork: 1 } });
      deps.logger.error({ err, siteId: actor.siteId }, 'linking could not start the initial sync');
      throw problems.unavailable('the initial sync could not be started; nothing was linked, try again');
    }
    res.status(202).location('/api/sync/status').json({ linked: true, workflowId });
  });
}

/**
 * C16 pause: the link and import activities see the flag and hold every change (Desk edits stay
 * `pending`, Teamwork.com keeps its modification times); webhooks are still accepted. A second
 * pause keeps the first one's time, which is where resuming reconciles from.
 */
async function pauseSync(deps: AppDeps, siteId: string): Promise<void> {
  const site = await readSettings(siteId);
  if (!site) throw problems.notFound('Site');
  if (site.settings?.paused) return;
  if (!site.teamwork) throw problems.conflict('this site is not linked to Teamwork.com: there is no sync to pause', { reason: 'not-linked' });
  // The initial sync copies records regardless of the flag; pausing in the middle of it would promise what it cannot keep.
  if (site.initialSync?.state !== 'completed' && site.initialSync?.state !== 'failed') {
    throw problems.conflict('the initial sync has not finished; pause once it has', { reason: 'initial-sync-running' });
  }
  await SiteModel.updateOne({ _id: siteId, 'settings.paused': { $ne: true } }, { $set: { 'settings.paused': true, pausedAt: new Date() } });
  await showPauseOnSchedule(deps, siteId, true);
}

/**
 * C16 resume: clears the flag, then starts a reconciliation pass from the pause (Teamwork.com
 * changes since then, every pending Desk edit) that feeds the link workflows holding changes.
 * Without that pass the site goes back to paused, so nothing changed on either side is skipped.
 */
async function resumeSync(deps: AppDeps, siteId: string): Promise<void> {
  const site = await readSettings(siteId);
  if (!site) throw problems.notFound('Site');
  if (!site.settings?.paused) return;
  const pausedAt = site.pausedAt ? new Date(site.pausedAt) : new Date(0);
  const resumed = await SiteModel.updateOne({ _id: siteId, 'settings.paused': true }, { $set: { 'settings.paused': false }, $unset: { pausedAt: 1 } });
  if (resumed.modifiedCount === 0) return;
  try {
    await startReconcileAfterPause(deps, siteId, pausedAt);
  } catch (err) {
    await SiteModel.updateOne({ _id: siteId }, { $set: { 'settings.paused': true, pausedAt } });
    deps.logger.error({ err, siteId }, 'resuming could not start the reconciliation');
    throw new Problem(503, 'unavailable', 'Service unavailable', 'the reconciliation could not be started; the sync stays paused, try again');
  }
  await showPauseOnSchedule(deps, siteId, false);
}

/**
 * Pauses or unpauses the site's reconcile Schedule and sets its `DeskbridgeSyncPaused` search
 * attribute, so ops see paused sites in the Temporal UI (Schedules, filter
 * `DeskbridgeSyncPaused = true`). The site document is what the activities obey, so a Schedule
 * Temporal cannot update now is logged, not fatal; a site without one (no finished initial
 * sync) has nothing to show.
 */
async function showPauseOnSchedule(deps: AppDeps, siteId: string, paused: boolean): Promise<void> {
  try {
    await deps.temporal.schedule.getHandle(reconcileScheduleId(siteId)).update((current) => ({
      ...current,
      state: { paused, note: paused ? syncPausedNote : 'contact sync resumed by the site owner' },
      typedSearchAttributes: current.typedSearchAttributes.updateCopy([{ key: syncPausedAttribute, value: paused }]),
    }));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return;
    deps.logger.warn({ err, siteId, paused }, 'the reconcile schedule does not show the pause');
  }
}
